"""The shared client pool: one client per distinct setting, no cookies, no environment."""

from __future__ import annotations

import ssl

import httpx
import pytest

from agent.check import CheckContext
from agent.http_client import (
    ClientSettings,
    HttpClientPool,
    build_client,
    default_client,
    pool_from,
    ssl_context,
)
from agent.ipfamily import IpFamily
from tests.servers.http_server import HttpTestServer, Reply, Route


async def test_the_same_settings_share_one_client(http_pool: HttpClientPool) -> None:
    a = http_pool.client(ClientSettings())
    assert http_pool.client(ClientSettings()) is a
    assert http_pool() is a
    assert http_pool.client(ClientSettings(verify_tls=False)) is not a
    assert http_pool.client(ClientSettings(ip_family=IpFamily.IPV6)) is not a
    assert len(http_pool) == 3


async def test_closing_the_pool_closes_every_client() -> None:
    pool = HttpClientPool()
    clients = [pool.client(ClientSettings()), pool.client(ClientSettings(verify_tls=False))]
    await pool.aclose()
    assert all(c.is_closed for c in clients)
    assert len(pool) == 0


def test_the_pool_is_found_through_the_context() -> None:
    pool = HttpClientPool()
    assert pool_from(CheckContext("c", "h", 1.0, http_client_factory=pool)) is pool
    assert pool_from(CheckContext("c", "h", 1.0)) is None
    assert pool_from(CheckContext("c", "h", 1.0, http_client_factory=httpx.AsyncClient)) is None


def test_verification_can_only_be_turned_off_explicitly() -> None:
    assert ssl_context(ClientSettings()).verify_mode is ssl.CERT_REQUIRED
    assert ssl_context(ClientSettings()).check_hostname
    off = ssl_context(ClientSettings(verify_tls=False))
    assert off.verify_mode is ssl.CERT_NONE and not off.check_hostname


def test_the_proxy_password_stays_out_of_repr() -> None:
    settings = ClientSettings(proxy="http://user:topsecret@127.0.0.1:3128")
    assert "topsecret" not in repr(settings)


async def test_clients_ignore_proxy_variables_from_the_environment(monkeypatch: pytest.MonkeyPatch
        ) -> None:
    async with HttpTestServer({"/": Reply(200, b"direct")}) as srv:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
        async with default_client() as client:
            response = await client.get(srv.url("/"))
        assert response.text == "direct"


async def test_clients_keep_no_cookies() -> None:
    routes: dict[str, Route] = {"/set": Reply(200, headers=(("Set-Cookie", "s=1; Path=/"),))}
    async with HttpTestServer(routes, default=Reply()) as srv, build_client() as client:
        await client.get(srv.url("/set"))
        await client.get(srv.url("/"))
        assert len(client.cookies) == 0
        assert "cookie" not in srv.requests[-1].headers


@pytest.mark.parametrize("family", [IpFamily.IPV4, IpFamily.ANY])
async def test_a_client_connects_over_the_pinned_family(family: IpFamily) -> None:
    async with HttpTestServer({"/": Reply()}) as srv, \
            build_client(ClientSettings(ip_family=family)) as client:
        assert (await client.get(srv.url("/"))).status_code == 200
