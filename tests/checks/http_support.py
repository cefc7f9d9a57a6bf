"""Helpers shared by the http check tests: run a check once, and the routes of the
scripted test server (``http_server`` fixture in conftest)."""

from __future__ import annotations

import gzip
import json
from typing import Any

from agent.check import CheckContext
from agent.http_client import HttpClientPool
from agent.model import CheckResult, Status
from checks.http.check import HttpCheck
from checks.http.options import HttpOptions
from tests.servers.http_server import Reply, Request, Route, redirect

TIMEOUT = 1.0


def context(pool: HttpClientPool | None, timeout: float = TIMEOUT) -> CheckContext:
    return CheckContext(check_name="web", host="testhost", timeout=timeout,
                        http_client_factory=pool)


async def run(pool: HttpClientPool | None, timeout: float = TIMEOUT,
              **options: Any) -> CheckResult:
    """One run of an http check with these options (its own resources closed after)."""
    check = HttpCheck("web", HttpOptions.model_validate(options))
    try:
        return await check.run(context(pool, timeout))
    finally:
        await check.close()


def assert_critical(result: CheckResult, summary: str) -> None:
    assert result.status is Status.CRITICAL, result
    assert result.summary == summary
    assert result.metrics["up"] == 0
    assert not result.problems()


JSON_DOC = {"status": "ok", "queue": {"depth": 42}, "items": [{"id": 1, "ok": True}],
            "version": "2.4.1"}


def http_routes() -> dict[str, Route]:
    """Every behaviour the http tests meet, one path each."""
    routes: dict[str, Route] = {
        "/": Reply(200, b"<h1>Welcome</h1>", content_type="text/html; charset=utf-8"),
        "/json": Reply(200, json.dumps(JSON_DOC).encode(), content_type="application/json"),
        "/broken-json": Reply(200, b'{"status": "ok",', content_type="application/json"),
        "/down": Reply(503, b"maintenance"),
        "/latin1": Reply(200, "café Welcome".encode("latin-1"),
                         content_type="text/plain; charset=iso-8859-1"),
        "/not-utf8": Reply(200, b"caf\xe9 \xff Welcome", content_type="text/plain"),
        "/not-utf8-json": Reply(200, b'{"name": "caf\xe9"}', content_type="application/json"),
        "/huge": Reply(200, body_size=10_000_000, content_type="application/octet-stream"),
        "/hang": Reply(hang=True),
        "/stall": Reply(200, body_size=100_000, stall_after=100),
        "/reset": Reply(200, body_size=100_000, reset_after=5000),
        "/cut": Reply(200, body_size=100_000, close_after=5000),
        "/drop": Reply(drop=True),
        "/moved": redirect("/"),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a"),
        "/gzip": Reply(200, gzip.compress(b"Welcome " * 1000),
                       headers=(("Content-Encoding", "gzip"),)),
        "/set-cookie": Reply(200, headers=(("Set-Cookie", "session=abc; Path=/"),)),
        "/redirect-ftp": redirect("ftp://127.0.0.1/file"),
    }

    def chain(req: Request) -> Reply:
        n = int(req.path.rsplit("/", 1)[1])
        return redirect(f"/chain/{n + 1}")

    for i in range(30):
        routes[f"/chain/{i}"] = chain
    return routes
