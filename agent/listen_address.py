"""The address of the agent's local HTTP listener (``agent.listen``), as parsed from config.

Apart so that the config (which validates ``listen``), the listener and the CLI (which
connects to it) share one reading without depending on each other.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where the listener binds: ``127.0.0.1:9110``, ``[::1]:9110``, ``0.0.0.0:9110``."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def connect_host(self) -> str:
        """The address a local client connects to (loopback for a wildcard bind)."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``host:port`` (``[v6]:port``), or a bare port meaning ``127.0.0.1:port``.

    Raises ValueError with a message fit for a user.
    """
    t = str(text).strip()
    hint = f"expected host:port like 127.0.0.1:9110, got {text!r}"
    if t.isdigit():
        host, port_text = "127.0.0.1", t
    elif t.startswith("["):
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", t)
        if m is None:
            raise ValueError(hint)
        host, port_text = m.groups()
    else:
        host, sep, port_text = t.rpartition(":")
        if not sep or not host or ":" in host or not port_text.isdigit():
            raise ValueError(hint)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise ValueError(hint) from None
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    return ListenAddress(host, port)
