"""The http check against real servers on 127.0.0.1: redirects, what is sent (method,
headers, auth, proxy, IP family) and how checks share clients."""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Any

import pytest
import trustme

from agent.check import load_kind
from agent.http_client import HttpClientPool
from agent.model import Status
from checks.http.check import HttpCheck
from checks.http.options import HttpOptions
from tests.checks.http_support import assert_critical, context, run
from tests.servers.http_server import HttpTestServer, Reply, redirect
from tests.servers.sockets import refused_port

# --- redirects -----------------------------------------------------------------------------

async def test_redirects_are_followed_to_the_final_answer(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/moved"), body_contains="Welcome")
    assert result.status is Status.OK, result
    assert result.metrics["status_code"] == 200
    assert result.summary.endswith("after 1 redirect")


async def test_redirects_are_not_followed_when_asked_not_to(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/moved"), follow_redirects=False)
    assert result.status is Status.OK
    assert result.metrics["status_code"] == 302
    result = await run(http_pool, url=http_server.url("/moved"), follow_redirects=False,
                       expect_status=200)
    assert_critical(result, "expected 200, got 302")


async def test_a_redirect_loop_is_named(http_server: HttpTestServer, http_pool: HttpClientPool
        ) -> None:
    result = await run(http_pool, url=http_server.url("/loop-a"))
    assert_critical(result, "redirect loop after 10 hops")
    assert result.metrics["status_code"] == 302


async def test_too_many_redirects_is_not_called_a_loop(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/chain/0"), max_redirects=3)
    assert_critical(result, "too many redirects after 3 hops")
    assert [r.path for r in http_server.requests] == ["/chain/0", "/chain/1", "/chain/2",
                                                 "/chain/3"]


async def test_a_redirect_to_another_scheme_is_named(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/redirect-ftp"))
    assert_critical(result, "redirected to a URL that is not http:// or https://")


async def test_a_failure_after_a_redirect_names_where_it_led(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    """The configured URL answers; the server it redirects to does not. "connection
    refused" alone sent the reader to the wrong server. Tokens in the target are masked."""
    with refused_port() as port:
        target = f"http://127.0.0.1:{port}/health?token=a1b2c3d4e5f6g7h8"
        http_server.routes["/moved-away"] = redirect(target)
        result = await run(http_pool, url=http_server.url("/moved-away"))
    assert_critical(result, f"after a redirect to http://127.0.0.1:{port}/health?token=****: "
                            "connection refused")


async def test_a_303_after_post_continues_with_get(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    http_server.routes["/form"] = redirect("/", status=303)
    result = await run(http_pool, url=http_server.url("/form"), method="post", body="a=1")
    assert result.status is Status.OK, result
    assert [(r.method, r.path) for r in http_server.requests] == [("POST", "/form"), ("GET", "/")]


# --- what is sent --------------------------------------------------------------------------

async def test_method_headers_and_body_are_sent(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/json"), method="PUT",
                       headers={"X-Probe": "yes", "Content-Type": "application/json"},
                       body='{"ping": 1}')
    assert result.status is Status.OK
    req = http_server.requests[-1]
    assert (req.method, req.body) == ("PUT", b'{"ping": 1}')
    assert req.headers["x-probe"] == "yes"
    assert req.headers["user-agent"].startswith("watchkeeper/")


async def test_head_reads_no_body(http_server: HttpTestServer, http_pool: HttpClientPool) -> None:
    result = await run(http_pool, url=http_server.url("/"), method="HEAD")
    assert result.status is Status.OK
    assert result.metrics["body_bytes"] == 0
    assert http_server.requests[-1].method == "HEAD"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("options", "header"), [
    ({"basic_auth": {"username": "ops", "password": "s3cret-pw"}}, _basic("ops", "s3cret-pw")),
    ({"bearer_token": "tok-123456"}, "Bearer tok-123456"),
])
async def test_auth_is_sent_and_kept_out_of_the_summary(http_server: HttpTestServer,
        http_pool: HttpClientPool, options: dict[str, Any], header: str) -> None:
    result = await run(http_pool, url=http_server.url("/down"), **options)
    assert http_server.requests[-1].headers["authorization"] == header
    assert result.status is Status.CRITICAL
    secret = header.split(" ", 1)[1]
    assert secret not in result.summary and "s3cret" not in result.summary


async def test_credentials_in_the_url_become_basic_auth_and_never_show(http_pool: HttpClientPool
        ) -> None:
    async with HttpTestServer({"/": Reply()}) as srv:
        url = srv.url("/").replace("http://", "http://ops:pw-in-url@")
        result = await run(http_pool, url=url)
        assert result.status is Status.OK
        assert srv.requests[-1].headers["authorization"] == _basic("ops", "pw-in-url")
        assert "pw-in-url" not in srv.requests[-1].target
    with refused_port() as port:
        result = await run(http_pool, url=f"http://ops:pw-in-url@127.0.0.1:{port}/")
    assert result.status is Status.CRITICAL
    assert "pw-in-url" not in result.summary + (result.error or "")


async def test_auth_is_not_carried_to_another_origin_on_redirect(http_pool: HttpClientPool) -> None:
    async with contextlib.AsyncExitStack() as stack:
        other = await stack.enter_async_context(HttpTestServer({"/": Reply()}))
        first = await stack.enter_async_context(HttpTestServer({"/": redirect(other.url("/"))}))
        result = await run(http_pool, url=first.url("/"), bearer_token="tok-123456")
        assert result.status is Status.OK, result
        assert first.requests[0].headers["authorization"] == "Bearer tok-123456"
        assert "authorization" not in other.requests[0].headers


async def test_cookies_are_not_kept_between_runs_or_checks(http_server: HttpTestServer,
        http_pool: HttpClientPool) -> None:
    await run(http_pool, url=http_server.url("/set-cookie"))
    await run(http_pool, url=http_server.url("/"))
    assert "cookie" not in http_server.requests[-1].headers


async def test_a_proxy_carries_the_request(http_pool: HttpClientPool) -> None:
    # The proxy answers itself; port 9 on loopback is never contacted directly.
    async with HttpTestServer(default=Reply(200, b"via proxy")) as proxy:
        result = await run(http_pool, url="http://127.0.0.1:9/page",
                           proxy=proxy.url("/"), body_contains="via proxy")
        assert result.status is Status.OK, result
        assert proxy.requests[-1].target == "http://127.0.0.1:9/page"


@pytest.mark.parametrize(("family", "host", "up"), [
    ("ipv4", "127.0.0.1", True),
    ("ipv6", "::1", True),
    ("ipv6", "127.0.0.1", False),
    ("ipv4", "::1", False),
    ("any", "::1", True),
])
async def test_the_ip_family_can_be_pinned(http_pool: HttpClientPool, family: str, host: str,
        up: bool) -> None:
    async with HttpTestServer({"/": Reply()}, host=host) as srv:
        result = await run(http_pool, url=srv.url("/"), ip_family=family)
    assert result.metrics["up"] == (1 if up else 0), result


# --- wiring --------------------------------------------------------------------------------

def test_the_kinds_are_registered_as_entry_points() -> None:
    assert load_kind("http") is HttpCheck
    from checks.tcp import TcpCheck

    assert load_kind("tcp") is TcpCheck


async def test_a_thousand_checks_share_a_handful_of_clients(tmp_path: Path,
        http_pool: HttpClientPool) -> None:
    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    variants: list[dict[str, Any]] = [{}, {"verify_tls": False}, {"ip_family": "ipv4"},
                                      {"proxy": "http://127.0.0.1:3128"}]
    clients = set()
    for i in range(1000):
        check = HttpCheck(f"c{i}", HttpOptions(url=f"http://127.0.0.1:{1000 + i}/",
                                               **variants[i % len(variants)]))
        clients.add(id(check.client(context(http_pool))))
    assert len(clients) == len(http_pool) == 4


async def test_without_a_pool_the_check_uses_its_own_and_closes_it(http_server: HttpTestServer
        ) -> None:
    result = await run(None, url=http_server.url("/"))
    assert result.status is Status.OK
