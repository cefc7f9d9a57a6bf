"""``/status`` on the agent's listener, over real HTTP on 127.0.0.1: public while every
other path needs the token, built at most once per ``max_age`` however often it is asked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.alerting.state import Phase
from agent.clock import FakeClock
from agent.errors import StateError
from agent.http_api import Health, HttpApi, Listener, start_listener
from agent.listen_address import ListenAddress
from agent.model import Status
from agent.status_page.live import LivePage
from agent.status_page.sources import NoHistory, Snapshot
from agent.store import Store
from tests.status_page.history_fake import FakeHistory
from tests.status_page.test_build import DAY, NOW, snapshot, state

TOKEN = "status-page-token-0123"


class CountingHistory(FakeHistory):
    """A history that counts the pages built from it (one ``uptime`` of 24 h per check),
    and can be made to wait or fail."""

    def __init__(self) -> None:
        super().__init__(uptimes={"web": {DAY: 0.9995}})
        self.builds = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def uptime(self, check: str, since: float, until: float) -> float | None:
        if check == "web" and round(until - since) == DAY:
            self.builds += 1
            self.gate.wait(10)
            if self.fail:
                raise StateError("state database /x/state.db: disk I/O error")
        return super().uptime(check, since, until)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


class Rig:
    def __init__(self, listener: Listener, clock: FakeClock, history: CountingHistory,
                 shots: list[Snapshot]) -> None:
        self.listener, self.clock, self.history, self.shots = listener, clock, history, shots
        self.url = f"http://127.0.0.1:{listener.port}"


async def serve(store: Store, shots: list[Snapshot], *, status: bool = True) -> Rig:
    clock = FakeClock(NOW)
    history = CountingHistory()
    page = LivePage(lambda: shots[-1], history, clock, title="Acme") if status else None
    api = HttpApi(heartbeats=(), sink=store, health=lambda: Health("ok", 1, 0, 0),
                  clock=clock, token=TOKEN, metrics=None, status=page)
    return Rig(await start_listener(ListenAddress("127.0.0.1", 0), api), clock, history,
               shots)


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    r = await serve(store, [snapshot(state("api", Phase.FIRING, Status.CRITICAL))])
    yield r
    await r.listener.close()


async def test_the_status_page_needs_no_token_while_the_rest_does(rig: Rig) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        page = await client.get(f"{rig.url}/status")
        doc = await client.get(f"{rig.url}/status.json")
        head = await client.head(f"{rig.url}/status/")
        health = await client.get(f"{rig.url}/healthz")
        other = await client.get(f"{rig.url}/status/x")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'data-check="web" data-state="up"' in page.text
    assert 'data-check="api" data-state="down"' in page.text
    assert '<dd data-span="24h">99.95%</dd>' in page.text
    assert (doc.status_code, doc.json()["state"]) == (200, "down")
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) == len(page.content)
    assert (health.status_code, other.status_code) == (401, 401)


async def test_the_status_page_takes_only_get_and_head(rig: Rig) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(f"{rig.url}/status", content=b"x")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")


async def test_without_a_status_page_the_path_needs_the_token(store: Store) -> None:
    rig = await serve(store, [], status=False)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            bare = await client.get(f"{rig.url}/status")
            authed = await client.get(f"{rig.url}/status",
                                      headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await rig.listener.close()
    assert (bare.status_code, authed.status_code) == (401, 404)


async def test_with_no_public_check_the_page_is_not_found(store: Store) -> None:
    rig = await serve(store, [snapshot(public=(), private=("web", "api"))])
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"{rig.url}/status")
    finally:
        await rig.listener.close()
    assert answer.status_code == 404
    assert "web" not in answer.text


async def test_the_page_is_built_once_per_max_age_however_often_asked(rig: Rig) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        first = [await client.get(f"{rig.url}/status") for _ in range(5)]
        rig.shots.append(snapshot())  # the api check recovered
        rig.clock.advance(5)
        cached = await client.get(f"{rig.url}/status")
        rig.clock.advance(6)
        fresh = await client.get(f"{rig.url}/status")
    assert rig.history.builds == 2
    assert {r.text for r in first} == {cached.text}
    assert 'data-check="api" data-state="down"' in cached.text
    assert 'data-check="api" data-state="up"' in fresh.text


async def test_requests_arriving_during_a_build_share_it(rig: Rig) -> None:
    rig.history.gate.clear()
    async with httpx.AsyncClient(timeout=5) as client:
        asked = [asyncio.ensure_future(client.get(f"{rig.url}/status")) for _ in range(8)]
        while rig.history.builds == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # every request is in, waiting for the one build
        rig.history.gate.set()
        answers = await asyncio.gather(*asked)
    assert [a.status_code for a in answers] == [200] * 8
    assert rig.history.builds == 1


async def test_a_state_that_cannot_be_read_is_a_500_and_the_next_request_tries_again(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.history.fail = True
    async with httpx.AsyncClient(timeout=5) as client:
        failed = await client.get(f"{rig.url}/status")
        rig.history.fail = False
        again = await client.get(f"{rig.url}/status")
    assert (failed.status_code, failed.text) == (500, "cannot read the state\n")
    assert "disk I/O error" in caplog.text
    assert again.status_code == 200


async def test_a_page_without_history_says_no_data() -> None:
    page = LivePage(snapshot, NoHistory(), FakeClock(NOW))
    rendered = await page.current()
    assert rendered.html is not None and rendered.json is not None
    assert rendered.html.count(b'<dd data-span="90d">-</dd>') == 2
