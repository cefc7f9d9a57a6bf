"""The shared client pool: one client per distinct setting, no cookies, no environment."""

from __future__ import annotations

import asyncio
import importlib.abc
import ssl
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from agent import http_client
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
from tests.servers.certs import TestCerts
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


async def test_a_connection_the_server_closed_while_idle_is_replaced_not_reused() -> None:
    """The pool notices a server's close of an idle keep-alive connection (its socket
    turns readable) and opens a new one instead of failing the next request."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # quietly, without announcing Connection: close

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, build_client() as client:
        for _ in range(3):
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert response.text == "ok"
            await asyncio.sleep(0.05)  # the close reaches the idle connection
    assert connections == 3


async def test_the_pool_polls_idle_sockets_directly_and_keeps_working_over_tls(
        tls_certs: TestCerts, tmp_path: Path, ca_file: Path) -> None:
    """Each idle connection is asked on every request whether the server closed it;
    the answer comes from the socket itself, not from anyio's attribute table."""
    context = tls_certs.valid.server_context(tmp_path)
    async with HttpTestServer({"/": Reply(200, b"secure")}, ssl_context=context) as srv, \
            build_client(ClientSettings(ca_file=str(ca_file))) as client:
        for _ in range(2):
            response = await client.get(srv.url("/", host="localhost"))
            assert response.text == "secure"
        stream = response.extensions["network_stream"]
        # A later httpx that drops the wrapping would silently cost that table again.
        assert isinstance(stream, http_client._Stream)
        assert stream.get_extra_info("ssl_object") is not None
        assert stream.get_extra_info("is_readable") is False
        assert srv.connections == 1


class _ImportRecorder(importlib.abc.MetaPathFinder):
    """Notes every module name the import system is asked to find (a module already
    imported is never searched for again; one that is missing is searched every time)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> None:
        self.asked.append(fullname)


async def test_a_request_searches_for_no_module(http_server: HttpTestServer,
                                                http_pool: HttpClientPool) -> None:
    """httpcore asks for sniffio on every request; were it missing, each request would
    search the whole path for it, four times."""
    client = http_pool()
    await client.get(http_server.url("/"))  # the first request imports what it needs
    recorder = _ImportRecorder()
    sys.meta_path.insert(0, recorder)
    try:
        for _ in range(3):
            assert (await client.get(http_server.url("/"))).status_code == 200
    finally:
        sys.meta_path.remove(recorder)
    assert recorder.asked == []
