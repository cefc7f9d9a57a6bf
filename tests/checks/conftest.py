"""Fixtures for the network checks: certificates, TLS server contexts and the HTTP client
pool. The reusable servers themselves live in ``tests/servers``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent.http_client import HttpClientPool
from tests.checks.http_support import http_routes
from tests.servers.certs import TestCerts, make_certs
from tests.servers.http_server import HttpTestServer


@pytest.fixture(scope="session")
def tls_certs() -> TestCerts:
    """A CA and valid, expired, wrong-host and self-signed server certificates."""
    return make_certs()


@pytest.fixture(scope="session")
def ca_file(tls_certs: TestCerts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA as a PEM file (what a check's ``ca_file`` option names)."""
    return tls_certs.ca_file(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def server_tls(tls_certs: TestCerts,
               tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ssl.SSLContext]:
    """``server_tls("expired")``: a server-side SSLContext with that certificate."""
    tmp = tmp_path_factory.mktemp("server-certs")
    cache: dict[str, ssl.SSLContext] = {}

    def make(kind: str) -> ssl.SSLContext:
        if kind not in cache:
            cache[kind] = getattr(tls_certs, kind).server_context(tmp)
        return cache[kind]

    return make


@pytest.fixture
async def http_server() -> AsyncIterator[HttpTestServer]:
    """The scripted HTTP server with every route of ``http_support.http_routes``."""
    async with HttpTestServer(http_routes()) as srv:
        yield srv


@pytest.fixture
async def http_pool() -> AsyncIterator[HttpClientPool]:
    """The agent's client pool, closed after the test."""
    pool = HttpClientPool()
    yield pool
    await pool.aclose()
