"""What the checks that open connections share: words for failures, the time budget of a
run, short renderings of sizes and received text, and the host, port and CA file options.

Libraries wrap the operating system's error several layers deep (httpx -> httpcore -> anyio
-> OSError); these helpers walk the chain and name the cause the way a sysadmin would:
"connection refused", "cannot resolve example.invalid: Name or service not known".
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator

from agent.ipfamily import IpFamily
from checks.shared.patterns import bounded_pattern

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
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        # Searches run with the ``regex`` package (a timeout, see checks.shared.patterns):
        # a pattern it reads otherwise is refused now, not at the first run.
        try:
            bounded_pattern(value)
        except ValueError as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return compiled
    return value


def host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address (``[::1]:53``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_option(value: str) -> str:
    """A ``host:`` option: a host name or IP address (an IPv6 one with or without
    brackets), never with a port, a path or spaces. Raises ValueError saying which."""
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    if not v or any(ch.isspace() for ch in v) or "/" in v:
        raise ValueError(f"expected a host name or IP address, got {v!r}")
    if v.count(":") == 1:
        raise ValueError(f"give the port in 'port:', not in the host ({v!r})")
    return v


def server_host_option(value: str | None) -> str | None:
    """A server's ``host:`` option: a host name, an IP address or a Unix socket's
    directory; never a connection URL (its password would show wherever the host does)."""
    if value is None or value.startswith("/"):
        return value
    if "://" in value or "@" in value:
        raise ValueError("expected a host name, an IP address or a socket directory; "
                         "a connection URL goes in dsn:")
    return host_option(value)


def port_option(value: Any) -> Any:
    """A pydantic ``before`` validator for a ``port:`` option: a number from 1 to 65535."""
    if isinstance(value, bool):
        raise ValueError(f"port must be a number from 1 to 65535, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"port must be a number from 1 to 65535, got {value!r}") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"port must be from 1 to 65535, got {number}")
    return number


def ca_file_option(path: Path) -> Path:
    """A ``ca_file:`` option: a PEM file of CA certificates that OpenSSL can load."""
    if not path.is_file():
        raise ValueError(f"CA file {path} does not exist or is not a file")
    try:
        # A bare context: reading the file must not cost loading the system store each time.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError) as e:
        raise ValueError(f"CA file {path} cannot be used: {e}") from None
    return path


#: Option types for the checks' models: ``host: Host``, ``port: Port | None = None``, ...
Host = Annotated[str, AfterValidator(host_option)]
Port = Annotated[int, BeforeValidator(port_option)]
CaFile = Annotated[Path, AfterValidator(ca_file_option)]
Regex = Annotated[re.Pattern[str], BeforeValidator(compile_regex)]
Family = Annotated[IpFamily, BeforeValidator(parse_ip_family)]
