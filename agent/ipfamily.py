"""The address family a network check connects over (kept apart from the HTTP client so
that checks without HTTP do not import httpx)."""

from __future__ import annotations

import enum
import socket


class IpFamily(enum.Enum):
    """Which address family to connect over."""

    ANY = "any"
    IPV4 = "ipv4"
    IPV6 = "ipv6"

    @property
    def local_address(self) -> str | None:
        """The wildcard local address that pins the family (None: let the resolver pick)."""
        return {IpFamily.ANY: None, IpFamily.IPV4: "0.0.0.0", IpFamily.IPV6: "::"}[self]

    @property
    def socket_family(self) -> int:
        """The ``socket.AF_*`` value to resolve and connect with (AF_UNSPEC: either)."""
        return {IpFamily.ANY: socket.AF_UNSPEC, IpFamily.IPV4: socket.AF_INET,
                IpFamily.IPV6: socket.AF_INET6}[self]
