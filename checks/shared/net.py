"""What the checks that open connections share: words for failures, the time budget of a
run, and short renderings of sizes and received text.

Libraries wrap the operating system's error several layers deep (httpx -> httpcore -> anyio
-> OSError); these helpers walk the chain and name the cause the way a sysadmin would:
"connection refused", "cannot resolve example.invalid: Name or service not known".
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Iterator
from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)

_SHOWN = 60

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ECONNABORTED: "connection aborted",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available (no route for this IP family?)",
    errno.EPIPE: "connection closed by the server",
}


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes (``__cause__``, else ``__context__``), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def find_cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` in the chain of ``exc``."""
    for e in exception_chain(exc):
        if isinstance(e, kind):
            return e
    return None


def describe_os_error(exc: BaseException, host: str) -> str | None:
    """Words for the OS-level cause of ``exc`` (refused, unresolvable, ...), None if none."""
    for e in exception_chain(exc):
        if isinstance(e, socket.gaierror):
            reason = e.strerror or str(e)
            return f"cannot resolve {host}: {reason}"
        if isinstance(e, OSError) and e.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[e.errno]
    return None


def run_budget(timeout: float) -> float:
    """The time a run may take: a little under the agent's hard ``timeout``, so a slow
    server is reported by the check itself (CRITICAL, naming the step) rather than cut off
    by the scheduler (UNKNOWN)."""
    return timeout - min(0.5, 0.1 * timeout)


def quoted(text: str) -> str:
    """``'Welcome'``, shortened past 60 characters."""
    return "'" + (text if len(text) <= _SHOWN else text[:_SHOWN] + "...") + "'"


def parse_ip_family(value: Any) -> Any:
    """Accept ``4``/``6``/``v4``/``v6`` besides ``any``/``ipv4``/``ipv6`` (a before-validator)."""
    aliases = {"4": "ipv4", "6": "ipv6", "v4": "ipv4", "v6": "ipv6"}
    return aliases.get(str(value).lower(), str(value).lower())


def compile_regex(value: Any) -> Any:
    """A pydantic ``before`` validator: a pattern string compiled, or a clear error."""
    if isinstance(value, str):
        try:
            return re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value
