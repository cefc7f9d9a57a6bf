"""The tcp check against a real banner server on 127.0.0.1."""

from __future__ import annotations

import errno
import socket
from typing import Any

import pytest
from pydantic import ValidationError

from agent.check import CheckContext
from agent.model import CheckResult, Status
from checks.shared.net import describe_os_error
from checks.tcp import TcpCheck, TcpOptions
from tests.checks.loop_watch import loop_watch
from tests.servers.sockets import full_backlog_port, refused_port
from tests.servers.tcp_server import BannerServer

TIMEOUT = 1.0


async def run(port: int, timeout: float = TIMEOUT, host: str = "127.0.0.1",
              **options: Any) -> CheckResult:
    check = TcpCheck("port", TcpOptions(host=host, port=port, **options))
    return await check.run(CheckContext("port", "h", timeout))


def assert_critical(result: CheckResult, summary: str) -> None:
    assert result.status is Status.CRITICAL, result
    assert result.summary == summary
    assert result.metrics["up"] == 0
    assert not result.problems()


async def test_a_listening_port_is_up_with_its_connect_time() -> None:
    async with BannerServer() as srv:
        result = await run(srv.port)
    assert result.status is Status.OK, result
    assert result.metrics["up"] == 1
    assert 0 <= result.metrics["connect_ms"] < TIMEOUT * 1000
    assert "response_ms" not in result.metrics
    assert result.summary.startswith("connected in ")


@pytest.mark.parametrize("options", [
    {"expect": "ESMTP"},
    {"expect_regex": r"^220 [\w.]+ ESMTP"},
])
async def test_an_expected_banner_is_found(options: dict[str, Any]) -> None:
    async with BannerServer(banner=b"220 mail.test ESMTP ready\r\n") as srv:
        result = await run(srv.port, **options)
    assert result.status is Status.OK, result
    assert result.metrics["response_ms"] >= result.metrics["connect_ms"]
    assert result.summary.endswith("got '220 mail.test ESMTP ready\\r\\n'")


async def test_a_banner_split_over_many_packets_is_put_together() -> None:
    async with BannerServer(banner=b"SSH-2.0-Test", drip=0.005) as srv:
        result = await run(srv.port, expect="SSH-2.0-Test")
    assert result.status is Status.OK, result


async def test_send_then_expect_the_answer() -> None:
    async with BannerServer(answers={b"PING\r\n": b"+PONG\r\n"}) as srv:
        result = await run(srv.port, send="PING\r\n", expect_regex=r"^\+PONG")
        assert bytes(srv.received) == b"PING\r\n"
    assert result.status is Status.OK, result


async def test_send_without_expect_only_connects_and_sends() -> None:
    async with BannerServer() as srv:
        result = await run(srv.port, send="QUIT\r\n")
    assert result.status is Status.OK


async def test_a_wrong_banner_times_out_showing_what_came() -> None:
    async with BannerServer(banner=b"HTTP/1.1 400 Bad Request\r\n") as srv:
        result = await run(srv.port, timeout=0.5, expect="SSH-")
    assert_critical(result, "'SSH-' not received within 500ms "
                            "(got 'HTTP/1.1 400 Bad Request\\r\\n')")
    assert "connect_ms" in result.metrics


async def test_a_silent_server_times_out() -> None:
    async with BannerServer() as srv:
        result = await run(srv.port, timeout=0.5, expect_regex="^220")
    assert_critical(result, "a match for /^220/ not received within 500ms")


async def test_a_server_that_hangs_up_early() -> None:
    async with BannerServer(banner=b"bye\r\n", close_after_banner=True) as srv:
        result = await run(srv.port, expect="220")
    assert_critical(result, "connection closed after 5 bytes without '220' (got 'bye\\r\\n')")


async def test_control_characters_from_the_server_are_escaped_in_the_summary() -> None:
    """A banner's escape sequences and NULs never reach a terminal, the journal or a
    notification raw."""
    banner = b"\x1b[2J\x1b]0;pwned\x07ok\x00\r\n"
    async with BannerServer(banner=banner, close_after_banner=True) as srv:
        result = await run(srv.port, expect="220")
    assert_critical(result, f"connection closed after {len(banner)} bytes without '220' "
                            "(got '\\x1b[2J\\x1b]0;pwned\\x07ok\\x00\\r\\n')")


async def test_reading_stops_at_the_cap() -> None:
    async with BannerServer(banner=b"x" * 10_000) as srv:
        result = await run(srv.port, expect="220", max_read="1kB")
    assert_critical(result, "'220' not found in the first 1000 B (got '" + "x" * 60 + "...')")


async def test_a_refused_port_is_critical() -> None:
    with refused_port() as port:
        result = await run(port)
    assert_critical(result, "connection refused")
    assert result.error
    assert "connect_ms" not in result.metrics


async def test_a_full_backlog_is_a_connect_timeout() -> None:
    with full_backlog_port() as port:
        result = await run(port, timeout=0.5)
    assert_critical(result, "connect timeout after 500ms")


async def test_ipv6_loopback() -> None:
    async with BannerServer(banner=b"hi", host="::1") as srv:
        result = await run(srv.port, host="[::1]", expect="hi")
        assert result.status is Status.OK, result
        result = await run(srv.port, host="::1", ip_family="ipv4")
    assert result.status is Status.CRITICAL


@pytest.mark.parametrize(("options", "where", "message"), [
    ({"port": 70000}, "port", "port must be from 1 to 65535, got 70000"),
    ({"port": 0}, "port", "port must be from 1 to 65535, got 0"),
    ({"port": "http"}, "port", "port must be a number from 1 to 65535, got 'http'"),
    ({"port": True}, "port", "port must be a number"),
    ({"host": "db.example:5432"}, "host", "give the port in 'port:', not in the host"),
    ({"host": "tcp://db.example"}, "host", "expected a host name or IP address"),
    ({"host": ""}, "host", "expected a host name or IP address"),
    ({"expect_regex": "[unclosed"}, "expect_regex", "bad regular expression '[unclosed'"),
    ({"expect": "a", "expect_regex": "b"}, "", "give expect or expect_regex, not both"),
    ({"expect": ""}, "", "expect cannot be empty"),
    ({"max_read": "huge"}, "max_read", "expected a size like 500MB"),
    ({"banner": "x"}, "banner", "Extra inputs are not permitted"),
])
def test_bad_options_are_rejected_with_a_clear_message(options: dict[str, Any], where: str,
        message: str) -> None:
    fields: dict[str, Any] = {"host": "127.0.0.1", "port": 22}
    fields.update(options)
    with pytest.raises(ValidationError) as info:
        TcpOptions(**fields)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    assert ".".join(str(p) for p in errors[0]["loc"]) == where
    assert message in errors[0]["msg"]


def _wrapped(cause: BaseException) -> Exception:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(("cause", "words"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
    (ConnectionResetError(errno.ECONNRESET, "reset"), "connection reset by the server"),
    (OSError(errno.ENETUNREACH, "unreachable"), "network unreachable"),
    (OSError(errno.EHOSTUNREACH, "no route"), "host unreachable"),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
     "cannot resolve db.example: Name or service not known"),
    (OSError("All connection attempts failed"), None),
    (ValueError("unrelated"), None),
])
def test_os_errors_in_words_even_when_wrapped(cause: BaseException, words: str | None) -> None:
    assert describe_os_error(cause, "db.example") == words
    assert describe_os_error(_wrapped(cause), "db.example") == words


def test_ipv6_brackets_are_optional() -> None:
    assert TcpOptions(host="[::1]", port=1).host == "::1"
    assert TcpOptions.model_validate({"host": "::1", "port": "22"}).port == 22


async def test_a_backtracking_expect_regex_ends_as_unknown_within_the_timeout() -> None:
    """``^(x+x+)+y`` against a server sending x's backtracks for ages: the check says so
    within its timeout, and the event loop stays free meanwhile."""
    async with BannerServer(banner=b"x" * 60_000) as srv, loop_watch(5) as watch:
        result = await run(srv.port, timeout=1.5, expect_regex=r"^(x+x+)+y")
    watch.assert_free()
    assert result.status is Status.UNKNOWN, result
    assert result.summary.startswith("expect_regex took too long: still searching after ")
    assert result.summary.endswith("received (a pattern that backtracks; simplify it)")
