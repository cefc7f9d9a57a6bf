"""Compressed bodies count against ``max_body`` once decoded: a gzip bomb, nested or
chunked, costs the check no more memory than its cap (a real server on 127.0.0.1; the
peak measured with tracemalloc, which sees every bytes object zlib returns)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agent.http_client import HttpClientPool
from agent.model import CheckResult, Status
from tests.checks.http_bombs import Bomb, BombServer, MiB, gzip_layers, zeros_compressed
from tests.checks.http_support import run

#: 256 MiB of zeros: each 64 KB network read of it inflates to some 64 MB at once.
BOMB = 256 * MiB
#: Memory beyond the body the check keeps: sockets, buffers, one network read.
SLACK = 2 * MiB

ROUTES = {
    "/gzip": Bomb(zeros_compressed(BOMB)),
    "/gzip-chunked": Bomb(zeros_compressed(BOMB), chunked=True),
    "/gzip-gzip": Bomb(gzip_layers(zeros_compressed(BOMB), 1), "gzip, gzip"),
    "/gzip-x3-chunked": Bomb(gzip_layers(zeros_compressed(BOMB), 2), "gzip, gzip, gzip",
                             chunked=True),
    "/x-gzip": Bomb(zeros_compressed(BOMB), "x-gzip"),
    "/deflate": Bomb(zeros_compressed(BOMB, "deflate"), "deflate"),
    "/raw-deflate": Bomb(zeros_compressed(BOMB, "raw-deflate"), "deflate"),
    "/members": Bomb(gzip.compress(b'{"a": ') + gzip.compress(b'"ok"}')),
    "/small-json": Bomb(gzip.compress(json.dumps({"status": "ok"}).encode()),
                        chunked=True),
    "/exactly-cap": Bomb(gzip.compress(b"y" * 1000), chunked=True),
    "/five-layers": Bomb(gzip_layers(b"ok", 5), ", ".join(["gzip"] * 5)),
    "/not-gzip": Bomb(b"this is not gzip at all", "gzip"),
    "/identity-huge": Bomb(bytes(8 * MiB), "", chunked=True),
}


@pytest.fixture(scope="module")
def bombs() -> Iterator[BombServer]:
    with BombServer(ROUTES) as srv:
        yield srv


@pytest.fixture
async def pool() -> AsyncIterator[HttpClientPool]:
    p = HttpClientPool()
    yield p
    await p.aclose()


async def _peak(pool: HttpClientPool, **options: Any) -> tuple[CheckResult, int]:
    """One run and the most memory Python held during it, beyond what it held before."""
    await run(pool, timeout=10.0, **{**options, "url": options["url"].rsplit("/", 1)[0]
                                     + "/small-json"})  # warm: imports, client, TLS context
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = await run(pool, timeout=10.0, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - before


@pytest.mark.parametrize("path", ["/gzip", "/gzip-chunked", "/gzip-gzip", "/gzip-x3-chunked",
                                  "/x-gzip", "/deflate", "/raw-deflate", "/identity-huge"])
@pytest.mark.parametrize("max_body", [1_000_000, 64 * 1024])
async def test_a_bomb_costs_no_more_memory_than_the_cap(bombs: BombServer, pool: HttpClientPool,
                                                         path: str, max_body: int) -> None:
    result, peak = await _peak(pool, url=bombs.url(path), max_body=max_body,
                               body_contains="never there")
    assert peak < 4 * max_body + SLACK, f"{peak / MiB:.1f} MiB held for {path}"
    assert result.status is Status.CRITICAL, result
    assert result.summary.startswith("body does not contain 'never there' in its first ")
    assert result.metrics["body_bytes"] == max_body


async def test_a_bomb_without_expectations_is_up_and_says_where_it_was_cut(
        bombs: BombServer, pool: HttpClientPool) -> None:
    result = await run(pool, timeout=10.0, url=bombs.url("/gzip"))
    assert result.status is Status.OK, result
    assert result.summary.endswith(", more than 977 KiB, cut at max_body"), result.summary
    assert result.metrics["up"] == 1


async def test_json_of_a_bomb_is_not_checked_and_says_to_raise_max_body(
        bombs: BombServer, pool: HttpClientPool) -> None:
    result = await run(pool, timeout=10.0, url=bombs.url("/gzip-chunked"),
                       json=[{"path": "$.status", "equals": "ok"}])
    assert result.summary == ("body is larger than the 977 KiB cap, so its JSON was not "
                              "checked (raise max_body)")


@pytest.mark.parametrize(("path", "options"), [
    ("/small-json", {"json": [{"path": "$.status", "equals": "ok"}]}),
    ("/members", {"json": [{"path": "$.a", "equals": "ok"}]}),
    ("/exactly-cap", {"max_body": 1000, "body_contains": "yyy"}),
])
async def test_compressed_bodies_within_the_cap_are_judged_whole(
        bombs: BombServer, pool: HttpClientPool, path: str, options: dict[str, Any]) -> None:
    result = await run(pool, timeout=10.0, url=bombs.url(path), **options)
    assert result.status is Status.OK, result
    assert "cut at max_body" not in result.summary


@pytest.mark.parametrize(("path", "summary"), [
    ("/not-gzip", "body could not be decoded (Error -3 while decompressing data: incorrect "
                  "header check)"),
    ("/five-layers", "body could not be decoded (5 layers of Content-Encoding, at most 4 "
                     "are decoded)"),
])
async def test_a_body_that_cannot_be_decoded_says_why(bombs: BombServer, pool: HttpClientPool,
                                                      path: str, summary: str) -> None:
    result = await run(pool, timeout=10.0, url=bombs.url(path))
    assert result.status is Status.CRITICAL
    assert result.summary == summary


def test_the_test_bombs_are_what_they_claim() -> None:
    assert len(zlib.decompress(zeros_compressed(BOMB), 31)) == BOMB
    assert len(ROUTES["/gzip"].payload) < BOMB // 200
