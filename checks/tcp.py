"""The ``tcp`` check: connect to ``host:port``, optionally send a line and expect a banner.

::

    - name: smtp
      kind: tcp
      host: mail.example
      port: 25
      expect: "220 "            # a substring of what the server says first
    - name: redis
      kind: tcp
      host: 127.0.0.1
      port: 6379
      send: "PING\\r\\n"
      expect_regex: "^\\\\+PONG"

Reports ``up`` (1/0), ``connect_ms`` and, when something is expected, ``response_ms`` (from
the start of the connect to the match). At most ``max_read`` bytes are read, within the
check's timeout. Failures are CRITICAL: "connection refused", "connect timeout after 10 s",
"'220 ' not received within 10 s (got 'HTTP/1.1 400...')".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.ipfamily import IpFamily
from agent.model import CheckResult, Status
from agent.textsafe import visible
from agent.units import format_bytes, format_duration, parse_size
from checks.shared.net import (
    Family,
    Host,
    Port,
    Regex,
    describe_os_error,
    host_port,
    quoted,
    run_budget,
)
from checks.shared.patterns import PatternTimeoutError, search

_READ_CHUNK = 4096


def _size(value: Any) -> int:
    return int(parse_size(value))



class TcpOptions(CheckOptions):
    """Where to connect and what to expect."""

    host: Host
    port: Port
    #: Sent right after connecting (YAML escapes like ``\\r\\n`` work in double quotes).
    send: str | None = None
    #: A substring the server must send.
    expect: str | None = None
    #: A regular expression the server's text must match (``re.search``).
    expect_regex: Regex | None = None
    #: Read at most this much while looking for the expectation.
    max_read: Annotated[int, BeforeValidator(_size)] = Field(default=65_536, ge=1)
    ip_family: Family = IpFamily.ANY

    @model_validator(mode="after")
    def _one_expectation(self) -> TcpOptions:
        if self.expect is not None and self.expect_regex is not None:
            raise ValueError("give expect or expect_regex, not both")
        if self.expect == "":
            raise ValueError("expect cannot be empty")
        return self

    def expectation(self) -> str | None:
        """The expectation in words (``'220 '`` or ``a match for /^\\+PONG/``)."""
        if self.expect is not None:
            return quoted(self.expect)
        if self.expect_regex is not None:
            return f"a match for /{self.expect_regex.pattern}/"
        return None



class TcpCheck(Check[TcpOptions]):
    """Connect, optionally send and expect."""

    kind: ClassVar[str] = "tcp"
    Options: ClassVar[type[TcpOptions]] = TcpOptions
    metrics: ClassVar[frozenset[str]] = frozenset({"up", "connect_ms", "response_ms"})

    @classmethod
    def targets(cls, options: TcpOptions) -> tuple[str, ...]:
        return (str(options.host),)

    @classmethod
    def where(cls, options: TcpOptions) -> str | None:
        return host_port(str(options.host), options.port)

    async def run(self, ctx: CheckContext) -> CheckResult:
        opts = self.options
        loop = asyncio.get_running_loop()
        started = loop.time()
        t = format_duration(ctx.timeout)
        step = "connect"
        received = bytearray()
        searching: list[bool] = []  # non-empty while expect_regex searches
        metrics: dict[str, float] = {"up": 0}
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(run_budget(ctx.timeout)):
                reader, writer = await asyncio.open_connection(
                    opts.host, opts.port, family=opts.ip_family.socket_family)
                metrics["connect_ms"] = _ms(loop.time() - started)
                if opts.send:
                    step = "send"
                    writer.write(opts.send.encode())
                    await writer.drain()
                if opts.expectation() is not None:
                    step = "read"
                    try:
                        problem = await self._read(reader, received,
                                                   started + run_budget(ctx.timeout), searching)
                    except PatternTimeoutError as exc:
                        return _slow_regex(str(exc), received)
                    if problem:
                        return self._failed(problem, received, metrics)
                    metrics["response_ms"] = _ms(loop.time() - started)
        except TimeoutError:
            if searching:
                return _slow_regex(f"still searching after {t}", received)
            words = {"connect": f"connect timeout after {t}",
                     "send": f"timeout after {t} while sending",
                     "read": f"{opts.expectation()} not received within {t}"}
            return self._failed(words[step], received, metrics)
        except OSError as exc:
            cause = describe_os_error(exc, opts.host) or f"connect failed: {exc}"
            if step != "connect":
                cause = f"{cause} while {'sending' if step == 'send' else 'reading'}"
            return self._failed(cause, received, metrics, error=f"{type(exc).__name__}: {exc}")
        finally:
            if writer is not None:
                await _close(writer)
        metrics["up"] = 1
        summary = f"connected in {format_duration(metrics['connect_ms'] / 1000)}"
        if received:
            summary += f", got {_excerpt(received)}"
        return CheckResult.ok(summary, metrics)

    async def _read(self, reader: asyncio.StreamReader, received: bytearray,
                    deadline: float, searching: list[bool]) -> str | None:
        """Read until the expectation matches; what went wrong otherwise (None: matched).

        Raises PatternTimeoutError when ``expect_regex`` cannot decide by ``deadline``.
        """
        cap = self.options.max_read
        while len(received) < cap:
            chunk = await reader.read(min(_READ_CHUNK, cap - len(received)))
            if not chunk:
                return (f"connection closed after {len(received)} bytes without "
                        f"{self.options.expectation()}")
            received += chunk
            if self.options.expect_regex is not None:
                searching.append(True)
            if await self._matches(received.decode("utf-8", errors="replace"), deadline):
                return None
            searching.clear()
        return f"{self.options.expectation()} not found in the first {format_bytes(cap)}"

    async def _matches(self, text: str, deadline: float) -> bool:
        opts = self.options
        if opts.expect is not None:
            return opts.expect in text
        if opts.expect_regex is None:
            return False
        # Not re.search on the loop: a pattern that backtracks would freeze the agent.
        return await search(opts.expect_regex, text,
                            deadline - asyncio.get_running_loop().time())

    @staticmethod
    def _failed(problem: str, received: bytearray, metrics: dict[str, float],
                error: str | None = None) -> CheckResult:
        if received and "got " not in problem:
            problem += f" (got {_excerpt(received)})"
        return CheckResult.failed(Status.CRITICAL, problem, error=error, metrics=metrics)


def _slow_regex(why: str, received: bytearray) -> CheckResult:
    """UNKNOWN: ``expect_regex`` could not decide in time (it backtracks on this text)."""
    return CheckResult.unknown(
        f"expect_regex took too long: {why} in the {format_bytes(len(received))} received "
        "(a pattern that backtracks; simplify it)")


def _ms(secs: float) -> float:
    return round(secs * 1000, 1)


def _excerpt(data: bytearray) -> str:
    """What the server sent, quoted with its control characters escaped."""
    return quoted(visible(data.decode("utf-8", errors="replace")))


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close without waiting long on a peer that does not answer."""
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
