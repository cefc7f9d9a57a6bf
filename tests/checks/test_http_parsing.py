"""Parsing details of answers that a local server cannot easily produce (respx)."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest
import respx

from agent.check import CheckContext
from agent.http_client import HttpClientPool
from agent.model import CheckResult, Status
from checks.http.check import HttpCheck
from checks.http.options import HttpOptions

URL = "http://app.test/health"


async def run(pool: HttpClientPool, response: httpx.Response,
              **options: Any) -> CheckResult:
    with respx.mock(assert_all_called=True) as mock:
        mock.get(URL).mock(return_value=response)
        check = HttpCheck("app", HttpOptions.model_validate({"url": URL, **options}))
        return await check.run(CheckContext("app", "h", 2.0, http_client_factory=pool))


async def test_a_compressed_body_is_capped_after_decoding(http_pool: HttpClientPool) -> None:
    raw = b"A" * 50_000
    response = httpx.Response(200, content=gzip.compress(raw),
                              headers={"Content-Encoding": "gzip"})
    result = await run(http_pool, response, max_body=10_000)
    assert result.status is Status.OK
    # The declared length is of the compressed bytes, so it is not reported past the cap.
    assert result.metrics["body_bytes"] == 10_000


async def test_an_undeclared_length_past_the_cap_reports_the_cap(http_pool: HttpClientPool) -> None:
    response = httpx.Response(200, stream=httpx.ByteStream(b"B" * 5000))
    result = await run(http_pool, response, max_body=1000)
    assert result.metrics["body_bytes"] == 1000


@pytest.mark.parametrize(("content_type", "data", "needle", "ok"), [
    ("text/html; charset=windows-1252", "naïve €".encode("cp1252"), "naïve €", True),
    ("text/html; charset=utf-8", "naïve".encode("latin-1"), "naïve", False),
    ("text/html; charset=bogus", "naïve".encode(), "naïve", True),
    ("text/html", "naïve".encode(), "naïve", True),
])
async def test_the_declared_charset_decides_how_text_is_searched(http_pool: HttpClientPool,
        content_type: str, data: Any, needle: str, ok: bool) -> None:
    response = httpx.Response(200, content=data, headers={"Content-Type": content_type})
    result = await run(http_pool, response, body_contains=needle)
    assert (result.status is Status.OK) is ok, result


async def test_an_empty_reason_phrase_leaves_no_gap(http_pool: HttpClientPool) -> None:
    response = httpx.Response(299, content=b"")
    result = await run(http_pool, response)
    assert result.summary.startswith("299 in ")
