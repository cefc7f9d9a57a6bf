"""The http check against real HTTP servers on 127.0.0.1: answers, expectations, the body
cap, and every way an exchange fails."""

from __future__ import annotations

from typing import Any

import pytest

from agent.http_client import HttpClientPool
from agent.model import Status
from checks.http.check import HttpCheck
from checks.http.options import HttpOptions
from tests.checks.http_support import TIMEOUT, assert_critical, context, run
from tests.checks.loop_watch import loop_watch
from tests.servers.http_server import HttpTestServer
from tests.servers.sockets import full_backlog_port, refused_port
from tests.servers.tcp_server import BannerServer

# --- answers and metrics -----------------------------------------------------------------

async def test_an_answering_server_is_up_with_status_time_and_size(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/"))
    assert result.status is Status.OK, result
    m = result.metrics
    assert m["up"] == 1 and m["status_code"] == 200 and m["body_bytes"] == 16
    assert 0 < m["response_ms"] < TIMEOUT * 1000
    assert "cert_days_left" not in m
    assert result.summary.startswith("200 OK in ")
    assert not result.problems()


async def test_connections_are_kept_alive_between_runs(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    check = HttpCheck("web", HttpOptions(url=http_server.url("/")))
    for _ in range(3):
        assert (await check.run(context(http_pool))).status is Status.OK
    assert http_server.connections == 1


@pytest.mark.parametrize(("path", "expect_status", "summary"), [
    ("/down", None, "expected 2xx or 3xx, got 503"),
    ("/down", [200], "expected 200, got 503"),
    ("/", "500-599", "expected 5xx, got 200"),
    ("/down", "200-204", "expected 200-204, got 503"),
    ("/", [201, "3xx"], "expected 201 or 3xx, got 200"),
])
async def test_an_unexpected_status_names_what_was_expected_and_got(http_server: HttpTestServer,
        http_pool: HttpClientPool, path: str, expect_status: Any, summary: str) -> None:
    opts: dict[str, Any] = {"url": http_server.url(path)}
    if expect_status is not None:
        opts["expect_status"] = expect_status
    result = await run(http_pool, **opts)
    assert_critical(result, summary)
    assert result.metrics["status_code"] in (200, 503)


async def test_an_expected_error_status_is_ok(http_server: HttpTestServer, http_pool: HttpClientPool
        ) -> None:
    result = await run(http_pool, url=http_server.url("/down"), expect_status=503)
    assert result.status is Status.OK


@pytest.mark.parametrize(("path", "options", "summary"), [
    ("/", {"body_contains": "Welcome"}, None),
    ("/", {"body_contains": ["Welcome", "h1"]}, None),
    ("/", {"body_contains": "Goodbye"}, "body does not contain 'Goodbye'"),
    ("/", {"body_regex": r"<h1>\w+</h1>"}, None),
    ("/", {"body_regex": r"^Welcome"}, "body does not match /^Welcome/"),
    ("/json", {"json": [{"path": "$.status", "equals": "ok"}]}, None),
    ("/json", {"json": [{"path": "$.queue.depth", "<": 100}, {"path": "$.items[0].ok",
                                                               "equals": True}]}, None),
    ("/json", {"json": [{"path": "$.queue.depth", "<": 10}]}, "$.queue.depth is 42, expected < 10"),
    ("/json", {"json": [{"path": "$.status", "equals": "degraded"}]},
     '$.status is "ok", expected "degraded"'),
    ("/json", {"json": [{"path": "$.items[3].id", "exists": True}]},
     "$.items[3] not found: $.items has 1 element"),
    ("/json", {"json": [{"path": "$.status", "equals": "ok"},
                        {"path": "$.version", ">=": 2}]},
     '$.version is "2.4.1", expected a number >= 2'),
    ("/broken-json", {"json": [{"path": "$.status", "equals": "ok"}]},
     "body is not valid JSON (Expecting property name enclosed in double quotes at line 1 "
     "column 17)"),
    ("/down", {"body_contains": "Welcome"}, "expected 2xx or 3xx, got 503"),
])
async def test_body_and_json_expectations(http_server: HttpTestServer, http_pool: HttpClientPool,
        path: str, options: dict[str, Any], summary: str | None) -> None:
    result = await run(http_pool, url=http_server.url(path), **options)
    if summary is None:
        assert result.status is Status.OK, result
    else:
        assert_critical(result, summary)


async def test_a_declared_charset_decodes_the_body(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/latin1"), body_contains="café")
    assert result.status is Status.OK, result


async def test_a_body_that_is_not_utf8_is_still_searched(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/not-utf8"), body_contains="Welcome")
    assert result.status is Status.OK, result
    assert result.metrics["body_bytes"] == 14


async def test_json_that_is_not_utf8_is_reported_as_such(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/not-utf8-json"),
                       json=[{"path": "$.name", "exists": True}])
    assert_critical(result, "body is not valid JSON (not UTF-8 text)")


async def test_a_compressed_body_is_judged_decoded(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/gzip"), body_contains="Welcome Welcome")
    assert result.status is Status.OK, result
    assert result.metrics["body_bytes"] == 8000


# --- the body cap --------------------------------------------------------------------------

async def test_a_10mb_body_is_read_only_up_to_the_1mb_cap(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, timeout=5.0, url=http_server.url("/huge"))
    assert result.status is Status.OK, result
    # The declared size is reported although only the cap was read.
    assert result.metrics["body_bytes"] == 10_000_000
    assert result.metrics["response_ms"] < 2000


@pytest.mark.parametrize(("options", "summary"), [
    ({"body_contains": "Welcome"}, "body does not contain 'Welcome' in its first 977 KiB"),
    ({"json": [{"path": "$.a", "exists": True}]},
     "body is larger than the 977 KiB cap, so its JSON was not checked (raise max_body)"),
    ({"body_contains": "Welcome", "max_body": "64kB"},
     "body does not contain 'Welcome' in its first 62.5 KiB"),
])
async def test_expectations_past_the_cap_say_only_part_was_read(http_server: HttpTestServer,
        http_pool: HttpClientPool, options: dict[str, Any], summary: str) -> None:
    result = await run(http_pool, timeout=5.0, url=http_server.url("/huge"), **options)
    assert_critical(result, summary)


# --- connection failures -------------------------------------------------------------------

async def test_a_refused_connection_is_critical(http_pool: HttpClientPool) -> None:
    with refused_port() as port:
        result = await run(http_pool, url=f"http://127.0.0.1:{port}/")
    assert_critical(result, "connection refused")
    assert result.error and "Connect call failed" in result.error


async def test_a_full_backlog_is_a_connect_timeout(http_pool: HttpClientPool) -> None:
    with full_backlog_port() as port:
        result = await run(http_pool, timeout=0.5, url=f"http://127.0.0.1:{port}/")
    assert_critical(result, "connect timeout after 500ms")


async def test_a_server_that_never_answers_is_a_read_timeout(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, timeout=0.5, url=http_server.url("/hang"))
    assert_critical(result, "read timeout after 500ms: no response")


async def test_a_body_that_stalls_is_a_read_timeout_while_reading_the_body(
        http_server: HttpTestServer, http_pool: HttpClientPool) -> None:
    result = await run(http_pool, timeout=0.5, url=http_server.url("/stall"))
    assert_critical(result, "read timeout after 500ms while reading the body "
                            "(100 bytes received)")
    assert result.metrics["status_code"] == 200


async def test_a_reset_mid_body_says_how_much_arrived(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/reset"))
    assert_critical(result, "connection reset while reading the body after 5000 of "
                            "100000 body bytes")


async def test_a_close_mid_body_says_how_much_arrived(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/cut"))
    assert_critical(result, "connection closed while reading the body after 5000 of "
                            "100000 body bytes")


async def test_a_server_that_hangs_up_without_answering(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/drop"))
    assert_critical(result, "server closed the connection without a response")


async def test_an_invalid_response_quotes_a_short_readable_piece_of_it(
        http_pool: HttpClientPool) -> None:
    """h11 quotes the line it refused as ``bytearray(b'...')``, whole: a 60 KB status line
    made a 60 KB summary. What it quotes is shown as text, escaped and cut."""
    reply = b"HTTP/1.1 " + b"x" * 60_000 + b"\r\n\r\n"
    bad_header = b"HTTP/1.1 200 OK\r\nX-Evil\x1b[2J no colon\r\n\r\n"
    async with BannerServer(answers={b"GET": reply}) as long, \
            BannerServer(answers={b"GET": bad_header}) as evil:
        result = await run(http_pool, url=f"http://127.0.0.1:{long.port}/")
        shown = await run(http_pool, url=f"http://127.0.0.1:{evil.port}/")
    assert result.summary.startswith("invalid HTTP response: illegal status line: HTTP/1.1 xxx")
    assert len(result.summary) < 120 and len(result.error or "") < 600, result
    assert "bytearray" not in result.summary + (result.error or "")
    assert_critical(shown, "invalid HTTP response: illegal header line: "
                           "X-Evil\\x1b[2J no colon")


async def test_a_backtracking_body_regex_ends_as_unknown_within_the_timeout(
        http_server: HttpTestServer, http_pool: HttpClientPool) -> None:
    """``^(x+x+)+y`` against a megabyte of x's backtracks for ages: the check says so within
    its timeout, and the event loop stays free meanwhile."""
    async with loop_watch(6) as watch:
        result = await run(http_pool, timeout=2.0, url=http_server.url("/huge"),
                           body_regex=r"^(x+x+)+y")
    watch.assert_free()
    assert result.status is Status.UNKNOWN, result
    assert result.summary.startswith("body_regex took too long: still searching after ")
    assert result.summary.endswith(
        "of body read (a pattern that backtracks; simplify it)")
