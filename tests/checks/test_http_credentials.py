"""A server that echoes the credentials it was sent never gets them into a summary: not
the password, not ``user:password``, not their Base64, not cut in half by the shortening
of a quoted value (real servers on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from agent.http_client import HttpClientPool
from agent.model import CheckResult, Status
from tests.checks.http_support import run
from tests.servers.http_server import HttpTestServer, Reply, Request
from tests.servers.tcp_server import BannerServer

USER, PASSWORD = "ops", "Tr0ub4dor-and-3"
LONG = "correct-horse-battery-staple-" * 4
PROXY_PASSWORD = "Pr0xyPa55word"


def _echo(request: Request) -> Reply:
    """The request's credentials back as JSON, raw and decoded, as debugging servers do."""
    doc: dict[str, Any] = {}
    for header in ("authorization", "proxy-authorization"):
        value = request.headers.get(header, "")
        doc[header] = value
        token = value.partition(" ")[2]
        doc[header + "-decoded"] = base64.b64decode(token).decode() if token else ""
        doc[header + "-token"] = token
    doc["all"] = [doc["authorization"], doc["proxy-authorization"]]
    return Reply(200, json.dumps(doc).encode(), content_type="application/json")


def _forms(user: str, password: str) -> list[str]:
    pair = f"{user}:{password}".encode()
    b64 = base64.b64encode(pair).decode()
    return [password, pair.decode(), b64, b64.rstrip("="),
            base64.b64encode(password.encode()).decode().rstrip("=")]


def _shown(result: CheckResult) -> str:
    return f"{result.summary} {result.error or ''}"


@pytest.mark.parametrize("path", ["$.authorization", "$.authorization-decoded",
                                  "$.authorization-token", "$.all"])
@pytest.mark.parametrize(("user", "password"), [(USER, PASSWORD), (USER, LONG), ("a", "pw")])
@pytest.mark.parametrize("given_as", ["basic_auth", "url", "header"])
async def test_an_echoed_basic_credential_never_shows_in_a_failed_json_check(
        http_pool: HttpClientPool, path: str, user: str, password: str, given_as: str) -> None:
    async with HttpTestServer({"/echo": _echo}) as srv:
        options: dict[str, Any] = {"url": srv.url("/echo"),
                                   "json": [{"path": path, "equals": "something else"}]}
        if given_as == "basic_auth":
            options["basic_auth"] = {"username": user, "password": password}
        elif given_as == "url":
            options["url"] = options["url"].replace("//", f"//{user}:{password}@")
        else:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            options["headers"] = {"Authorization": f"Basic {token}"}
        result = await run(http_pool, **options)
        assert srv.requests[-1].headers["authorization"].startswith("Basic ")
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"{path} is ")
    for form in _forms(user, password):
        assert form not in _shown(result), (form, result.summary)
    assert "****" in result.summary


async def test_an_echoed_proxy_credential_never_shows(http_pool: HttpClientPool) -> None:
    # The proxy answers itself (port 9 is never contacted), echoing what it was sent.
    async with HttpTestServer(default=_echo) as proxy:
        proxy_url = proxy.url("/").replace("//", f"//bob:{PROXY_PASSWORD}@")
        result = await run(http_pool, url="http://127.0.0.1:9/", proxy=proxy_url,
                           json=[{"path": "$.all", "equals": []},
                                 {"path": "$.proxy-authorization-decoded", "equals": ""}])
        assert proxy.requests[-1].headers["proxy-authorization"].startswith("Basic ")
    assert result.status is Status.CRITICAL, result
    for form in _forms("bob", PROXY_PASSWORD):
        assert form not in _shown(result), (form, result.summary)


async def test_a_basic_credential_of_someone_else_is_masked_too(http_pool: HttpClientPool
                                                                 ) -> None:
    theirs = base64.b64encode(b"admin:their-secret").decode()
    async with HttpTestServer({"/": Reply(200, json.dumps({"h": f"Basic {theirs}"}).encode(),
                                          content_type="application/json")}) as srv:
        result = await run(http_pool, url=srv.url("/"), json=[{"path": "$.h", "equals": "x"}])
    assert result.summary == '$.h is "Basic ****", expected "x"'


async def test_words_that_merely_follow_basic_are_left_alone(http_pool: HttpClientPool) -> None:
    async with HttpTestServer({"/": Reply(200, b'{"auth": "Basic auth required"}',
                                          content_type="application/json")}) as srv:
        result = await run(http_pool, url=srv.url("/"),
                           json=[{"path": "$.auth", "equals": "none"}])
    assert result.summary == '$.auth is "Basic auth required", expected "none"'


async def test_a_credential_echoed_in_an_invalid_response_never_shows(
        http_pool: HttpClientPool) -> None:
    """h11 quotes the refused line as ``bytearray(b'...')``, doubling each backslash: a
    token holding one no longer matched the scrubber."""
    token = "tok\\XYZZY-secret"
    reply = f"HTTP/1.1 200 OK\r\nAuthorization Bearer {token}\r\n\r\n".encode()
    async with BannerServer(answers={b"GET": reply}) as srv:
        result = await run(http_pool, url=f"http://127.0.0.1:{srv.port}/",
                           bearer_token=token)
    assert result.status is Status.CRITICAL, result
    assert result.summary.startswith("invalid HTTP response: illegal header line:")
    assert "XYZZY" not in _shown(result), result
