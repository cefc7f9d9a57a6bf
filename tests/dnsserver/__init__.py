"""A small real DNS server for tests: UDP and TCP on 127.0.0.1, one random port.

It answers from a table of records and can be told to fail in the ways real servers do:
SERVFAIL, answering late (or never), and truncating UDP answers so that the client must
ask again over TCP.

    async with DnsServer({("www.example.test", "A"): ["192.0.2.1"]}) as server:
        server.address  # "127.0.0.1:40123"
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["DnsServer", "Heard"]

Records = Mapping[tuple[str, str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Heard:
    """One query the server received."""

    transport: str  # "udp" or "tcp"
    name: str  # lower case, no trailing dot
    rtype: str


class DnsServer:
    """Answers ``records`` ({(name, type): [rdata text]}); names not in it are NXDOMAIN.

    ``servfail`` names get SERVFAIL; ``slow`` maps names to a delay in seconds before the
    answer; ``truncate`` names get an empty UDP answer with the TC bit (full over TCP).
    A CNAME is followed within the table, as a resolver would.
    """

    def __init__(self, records: Records | None = None, *, servfail: Iterable[str] = (),
                 slow: Mapping[str, float] | None = None, truncate: Iterable[str] = (),
                 ttl: int = 300) -> None:
        self._records: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], dns.rrset.RRset] = {}
        for (name, rtype), texts in (records or {}).items():
            owner = _name(name)
            rdtype = dns.rdatatype.from_text(rtype)
            self._records[(owner, rdtype)] = dns.rrset.from_text_list(
                owner, ttl, dns.rdataclass.IN, rdtype, list(texts))
        self._names = {owner for owner, _ in self._records}
        self._servfail = {_name(n) for n in servfail}
        self._slow = {_name(n): d for n, d in (slow or {}).items()}
        self._truncate = {_name(n) for n in truncate}
        self.heard: list[Heard] = []
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, as the dns check's ``resolvers`` takes it."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Bind UDP on a random port, then TCP on the same one (retrying if it is taken)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp, _protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=("127.0.0.1", 0))
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, "127.0.0.1", port)
            except OSError:
                udp.close()
                continue
            self._udp, self.port = udp, port
            return
        raise RuntimeError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def heard_over(self, transport: str) -> list[Heard]:
        return [h for h in self.heard if h.transport == transport]

    # --- answering ---------------------------------------------------------------------

    async def respond(self, wire: bytes, transport: str) -> bytes | None:
        """The answer to one query in wire form (None for garbage)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        self.heard.append(Heard(transport, qname.to_text(omit_final_dot=True).lower(),
                                dns.rdatatype.to_text(qtype)))
        delay = self._slow.get(qname)
        if delay:
            await asyncio.sleep(delay)
        response = dns.message.make_response(query)
        if qname in self._servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif qname in self._truncate and transport == "udp":
            response.flags |= dns.flags.TC
        else:
            self._fill(response, qname, qtype)
        return response.to_wire()

    def _fill(self, response: dns.message.Message, qname: dns.name.Name,
              qtype: dns.rdatatype.RdataType) -> None:
        name = qname
        for _ in range(8):  # follow CNAMEs within the table, not forever
            rrset = self._records.get((name, qtype))
            if rrset is not None:
                response.answer.append(rrset)
                return
            cname = self._records.get((name, dns.rdatatype.CNAME))
            if cname is None:
                break
            response.answer.append(cname)
            name = cname[0].target
        if name not in self._names:
            response.set_rcode(dns.rcode.NXDOMAIN)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                answer = await self.respond(await reader.readexactly(length), "tcp")
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.server._spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = await self.server.respond(data, "udp")
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text.lower())
