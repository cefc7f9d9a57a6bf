"""Options of the ``dns`` check, validated up front: a bad config never reaches the network."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rcode
import dns.reversename
from pydantic import Field, field_validator, model_validator

from agent.check import CheckOptions
from agent.units import parse_duration
from checks.dns.answers import RecordType, canonical_expected
from checks.shared.net import host_port

_REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


class Match(enum.Enum):
    """How ``expect`` is held against the answers."""

    #: The answers are exactly the expected set.
    EXACT = "exact"
    #: Every expected answer is among the answers (others may be there too).
    CONTAINS = "contains"


@dataclass(frozen=True, slots=True, order=True)
class Resolver:
    """A DNS server asked directly: an IP address and a port."""

    ip: str
    port: int = 53

    def __str__(self) -> str:
        return host_port(self.ip, self.port)


def parse_resolver(text: str) -> Resolver:
    """``192.0.2.53``, ``192.0.2.53:5353``, ``2001:db8::53`` or ``[2001:db8::53]:5353``.

    Raises ValueError with a message for the user.
    """
    raw = str(text).strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"resolver {raw!r} is not 'IP' or 'IP:port'")
        port_text = rest[1:]
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"resolver {raw!r} must be an IP address or IP:port "
                         "(resolvers are not looked up by name)") from None
    port = 53
    if port_text or raw.endswith(":"):
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"resolver {raw!r}: port must be between 1 and 65535")
        port = int(port_text)
    return Resolver(str(ip), port)


class DnsOptions(CheckOptions):
    """Options of the ``dns`` check."""

    #: The name to look up (`query: www.example.com`); for PTR an IP address (the reverse
    #: name is built from it). Not `name`: that key is the check's own name.
    query: str = Field(min_length=1)
    type: RecordType = RecordType.A
    #: Servers asked directly, each ``IP`` or ``IP:port``; empty: those of resolv.conf.
    resolvers: tuple[Resolver, ...] = ()
    #: Expected answers, written as in a zone file (``10 mail.example.com`` for MX).
    expect: tuple[str, ...] = ()
    match: Match = Match.EXACT
    #: The response code that counts as success (NXDOMAIN: the name must not exist).
    rcode: str = "NOERROR"
    #: All listed resolvers must give the same answer (catches a half-propagated change).
    consistent: bool = False
    #: Time allowed to each resolver, TCP retry included (default: most of the check's).
    query_timeout: float | None = None

    @field_validator("query")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("query must not be empty")
        return v

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip().upper()
            if text not in RecordType.__members__:
                kinds = ", ".join(RecordType.__members__)
                raise ValueError(f"unknown record type {v!r}; use one of {kinds}")
            return RecordType[text]
        return v

    @field_validator("resolvers", mode="before")
    @classmethod
    def _resolvers(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list | tuple):
            return v
        out: list[Resolver] = []
        for item in v:
            r = item if isinstance(item, Resolver) else parse_resolver(str(item))
            if r in out:
                raise ValueError(f"resolver {r} is listed twice")
            out.append(r)
        return tuple(out)

    @field_validator("expect", mode="before")
    @classmethod
    def _expect(cls, v: Any) -> Any:
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            return (str(v),)
        if isinstance(v, list | tuple):
            return tuple(str(x) for x in v)
        return v

    @field_validator("match", mode="before")
    @classmethod
    def _match(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("rcode", mode="before")
    @classmethod
    def _rcode(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        text = v.strip().upper()
        try:
            dns.rcode.from_text(text)
        except dns.rcode.UnknownRcode:
            names = ", ".join(r.name for r in list(dns.rcode.Rcode)[:6])
            raise ValueError(f"unknown rcode {v!r}; use one of {names}, ...") from None
        return text

    @field_validator("query_timeout", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        if v is None:
            return v
        seconds = parse_duration(v)
        if seconds <= 0:
            raise ValueError("query_timeout must be longer than 0s")
        return seconds

    @model_validator(mode="after")
    def _whole(self) -> DnsOptions:
        self.query_name()  # raises ValueError for a bad name
        if self.expect and self.rcode != "NOERROR":
            raise ValueError(f"expect needs rcode NOERROR (a {self.rcode} reply has no answers)")
        if self.consistent and len(self.resolvers) < 2:
            raise ValueError("consistent: true needs at least two resolvers to compare")
        for i, text in enumerate(self.expect):
            try:
                canonical_expected(self.type, text)
            except ValueError as e:
                raise ValueError(f"expect[{i}]: {e}") from None
        return self

    def query_name(self) -> dns.name.Name:
        """The absolute name to ask for (the reverse name of an IP for PTR)."""
        if self.type is RecordType.PTR:
            try:
                return dns.reversename.from_address(self.query.strip("[]"))
            except (ValueError, dns.exception.SyntaxError):
                if self.query.lower().rstrip(".").endswith(_REVERSE_ZONES):
                    return _from_text(self.query)
                raise ValueError(f"PTR needs an IP address as query (or a name under "
                                 f"in-addr.arpa or ip6.arpa), got {self.query!r}") from None
        return _from_text(self.query)

    def expected_answers(self) -> frozenset[str]:
        """The expected answers in canonical form."""
        return frozenset(canonical_expected(self.type, t) for t in self.expect)


def _from_text(text: str) -> dns.name.Name:
    if any(c.isspace() for c in text) or "/" in text:
        raise ValueError(f"name {text!r} is not a valid DNS name")
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException as e:
        raise ValueError(f"name {text!r} is not a valid DNS name: {e}") from None
