"""Asking DNS servers directly: UDP first, TCP when the answer comes back truncated.

No stub resolver and no cache sits in between, so what one server says is what is seen.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.resolver

from agent.errors import CheckError
from agent.units import format_duration
from checks.dns.answers import RecordType, canonical
from checks.dns.options import Resolver

#: UDP payload size we announce (EDNS0), the value DNS flag day 2020 settled on.
_EDNS_PAYLOAD = 1232


@dataclass(frozen=True, slots=True)
class Reply:
    """A server answered (with any rcode)."""

    resolver: Resolver
    rcode: str
    #: Records of the asked type (after following CNAMEs), canonical and sorted.
    answers: tuple[str, ...]
    response_ms: float
    #: The UDP answer was truncated and the query was repeated over TCP.
    over_tcp: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """No usable answer: ``reason`` is e.g. ``timeout after 2 s``."""

    resolver: Resolver
    reason: str


Outcome = Reply | Failure


async def ask(resolver: Resolver, qname: dns.name.Name, rtype: RecordType,
              timeout: float) -> Outcome:
    """Ask one server, UDP then TCP on truncation, all within ``timeout`` seconds."""
    query = dns.message.make_query(qname, rtype.rdtype, use_edns=0, payload=_EDNS_PAYLOAD)
    start = time.perf_counter()
    over_tcp = False
    try:
        response = await _udp(query, resolver, timeout)
        if response.flags & dns.flags.TC:
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise dns.exception.Timeout
            over_tcp = True
            response = await dns.asyncquery.tcp(query, resolver.ip, timeout=left,
                                                port=resolver.port)
    except _UnansweredError as e:
        return Failure(resolver, f"timeout after {format_duration(timeout)} "
                                 f"(ignored {e.ignored})")
    except dns.exception.Timeout:
        return Failure(resolver, f"timeout after {format_duration(timeout)}"
                       + (" (TCP retry after a truncated answer)" if over_tcp else ""))
    except ConnectionRefusedError:
        return Failure(resolver, "connection refused" + (" over TCP" if over_tcp else ""))
    except OSError as e:
        return Failure(resolver, f"network error: {e.strerror or e}")
    except dns.exception.DNSException as e:
        return Failure(resolver, f"bad response: {_words(e)}")
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    rcode = dns.rcode.to_text(response.rcode())
    try:
        answers = _answers(response, rtype)
    except dns.exception.DNSException as e:
        return Failure(resolver, f"bad response: {_words(e)}")
    return Reply(resolver, rcode, answers, elapsed_ms, over_tcp)


class _UnansweredError(Exception):
    """No answer to the query in time; ``ignored`` names the last reply skipped."""

    def __init__(self, ignored: str) -> None:
        super().__init__(ignored)
        self.ignored = ignored


def _words(exc: BaseException) -> str:
    """dnspython's sentence without its full stop: a summary goes on after it."""
    return (str(exc) or type(exc).__name__).rstrip(".")


async def _udp(query: dns.message.Message, resolver: Resolver,
               timeout: float) -> dns.message.Message:
    """The answer to ``query`` over UDP within ``timeout``.

    What is not that answer (a reply from another address or for another query id, as a
    late answer to an earlier query or a spoofing attempt is, or an unreadable packet) is
    skipped and the wait goes on, as a stub resolver does; a timeout then names the last
    one skipped (raises _UnansweredError).
    """
    expiration = time.time() + timeout  # dnspython's clock
    af = dns.inet.af_for_address(resolver.ip)
    destination = dns.inet.low_level_address_tuple((resolver.ip, resolver.port), af)
    backend: Any = dns.asyncbackend.get_default_backend()
    peer = (resolver.ip, resolver.port) if backend.datagram_connection_required() else None
    ignored: str | None = None
    async with await backend.make_socket(af, socket.SOCK_DGRAM, 0, None, peer) as sock:
        await dns.asyncquery.send_udp(sock, query, destination, expiration)
        while True:
            try:
                response, _, _ = await dns.asyncquery.receive_udp(
                    sock, destination, expiration, ignore_unexpected=True)
            except dns.exception.Timeout:
                if ignored is None:
                    raise
                raise _UnansweredError(ignored) from None
            except OSError:
                raise
            except Exception as e:  # whatever parsing the packet raised
                ignored = f"a bad reply: {_words(e)}"
                continue
            if query.is_response(response):
                answer: dns.message.Message = response
                return answer
            ignored = f"a reply for another query (id {response.id})"


async def ask_in_turn(resolvers: tuple[Resolver, ...], qname: dns.name.Name,
                      rtype: RecordType, timeout: float) -> Outcome:
    """Ask each server in order until one answers, as the system's stub resolver does.

    The time is shared out among the servers still to ask. The last failure is returned
    when none answers.
    """
    if not resolvers:
        raise CheckError("no resolver to ask")
    deadline = time.perf_counter() + timeout
    outcome: Outcome = Failure(resolvers[0], "not asked")
    for i, resolver in enumerate(resolvers):
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        outcome = await ask(resolver, qname, rtype, left / (len(resolvers) - i))
        if isinstance(outcome, Reply):
            return outcome
    return outcome


def system_resolvers(filename: str = "/etc/resolv.conf") -> tuple[Resolver, ...]:
    """The name servers of resolv.conf, in order. Raises CheckError when there are none."""
    try:
        stub = dns.asyncresolver.Resolver(filename=filename)
    except (dns.resolver.NoResolverConfiguration, OSError) as e:
        raise CheckError(f"no name server found in {filename}: {e}") from None
    servers = tuple(Resolver(str(ns), stub.port) for ns in stub.nameservers)
    if not servers:
        raise CheckError(f"no name server found in {filename}")
    return servers


def _answers(response: dns.message.Message, rtype: RecordType) -> tuple[str, ...]:
    """Records of the asked type, following a CNAME chain within the response."""
    if not isinstance(response, dns.message.QueryMessage) or not response.question:
        return ()
    rrset = response.resolve_chaining().answer
    if rrset is None:
        return ()
    return tuple(sorted({canonical(rd) for rd in rrset}))
