"""``/metrics`` on the agent's listener, with real HTTP requests on 127.0.0.1 and a real
store; the page read back with the official Prometheus parser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.agent_metrics import AgentMetrics, OutboxCounter
from agent.alerting.state import AlertState, Phase
from agent.clock import FakeClock
from agent.config.loader import parse_config
from agent.errors import StateError
from agent.http_api import Health, HttpApi, Listener, serve_agent, start_listener
from agent.latest import LatestRun, LatestRuns
from agent.listen_address import ListenAddress
from agent.model import AlertKey, CheckResult, Sample, Status, make_labels
from agent.scheduler import JobStats
from agent.store import Store
from tests.ports import free_port

T0 = 1_700_000_000.0
TOKEN = "metrics-token-for-tests-0123"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def agent_metrics(store: OutboxCounter) -> AgentMetrics:
    runs = LatestRuns()
    runs.record(LatestRun("disks", "disk", CheckResult.failed(
        Status.WARNING, "/ 91% used", samples=[
            Sample("used_percent", 91.0, make_labels({"mount": "/"})),
            Sample("used_percent", 40.0, make_labels({"mount": 'C:\\ "x"'}))]),
        T0, 0.01, Status.WARNING))
    key = AlertKey("h1", "disks", "used_percent", make_labels({"mount": "/"}))
    states = {key: AlertState(key, Phase.FIRING, Status.WARNING)}
    return AgentMetrics(runs, states, {"disks": JobStats(runs=3)}, store)


async def start(store: Store, token: str | None = None, with_metrics: bool = True) -> Listener:
    api = HttpApi(heartbeats={"nightly"}, sink=store, health=lambda: Health("ok", 1, 0, 0),
                  clock=FakeClock(T0), token=token,
                  metrics=agent_metrics(store) if with_metrics else None)
    return await start_listener(ListenAddress("127.0.0.1", 0), api)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


async def test_metrics_are_served_in_the_text_format_and_parse(store: Store,
                                                               client: httpx.AsyncClient) -> None:
    listener = await start(store)
    try:
        r = await client.get(f"http://127.0.0.1:{listener.port}/metrics")
    finally:
        await listener.close()
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    used = families["watchkeeper_used_ratio"]
    assert used.type == "gauge"
    assert {(s.labels["mount"], s.value) for s in used.samples} == {("/", 0.91),
                                                                   ('C:\\ "x"', 0.4)}
    (status,) = families["watchkeeper_check_status"].samples
    assert (status.labels, status.value) == ({"check": "disks", "kind": "disk"}, 1)
    (firing,) = families["watchkeeper_alert_firing"].samples
    assert firing.labels == {"check": "disks", "metric": "used_percent",
                             "severity": "warning", "mount": "/"}
    runs = families["watchkeeper_check_runs"]
    assert runs.type == "counter"
    assert [(s.name, s.value) for s in runs.samples] == [("watchkeeper_check_runs_total", 3)]
    # The real store's queue, counted through the listener.
    assert families["watchkeeper_notifications_queued"].samples[0].value == 0
    assert families["watchkeeper_notifications_dead"].samples[0].value == 0


async def test_head_gives_the_headers_and_other_methods_are_405(
        store: Store, client: httpx.AsyncClient) -> None:
    listener = await start(store)
    try:
        url = f"http://127.0.0.1:{listener.port}/metrics"
        head = await client.head(url)
        post = await client.post(url)
    finally:
        await listener.close()
    assert (head.status_code, head.headers["content-type"], head.content) == \
        (200, CONTENT_TYPE, b"")
    assert int(head.headers["content-length"]) > 0
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TOKEN}"])
async def test_metrics_need_the_token_like_every_other_path(
        store: Store, client: httpx.AsyncClient, auth: str | None) -> None:
    listener = await start(store, token=TOKEN)
    try:
        url = f"http://127.0.0.1:{listener.port}/metrics"
        denied = await client.get(url, headers={"Authorization": auth} if auth else {})
        allowed = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await listener.close()
    assert denied.status_code == 401
    assert "watchkeeper" not in denied.text
    assert allowed.status_code == 200 and "watchkeeper_check_status" in allowed.text


async def test_without_a_metrics_source_the_path_is_404(store: Store,
                                                        client: httpx.AsyncClient) -> None:
    listener = await start(store, with_metrics=False)
    try:
        r = await client.get(f"http://127.0.0.1:{listener.port}/metrics")
    finally:
        await listener.close()
    assert r.status_code == 404


class BrokenStore:
    """A store whose every read fails, as with a corrupt file."""

    def pending_count(self) -> int:
        raise StateError("state database state.db: database disk image is malformed")

    def dead_count(self) -> int:
        raise AssertionError("not reached")


async def test_a_store_failure_is_a_500_and_the_listener_goes_on(
        store: Store, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    api = HttpApi(heartbeats=(), sink=store, health=lambda: Health("ok", 1, 0, 0),
                  clock=FakeClock(T0), metrics=agent_metrics(BrokenStore()))
    listener = await start_listener(ListenAddress("127.0.0.1", 0), api)
    try:
        base = f"http://127.0.0.1:{listener.port}"
        r = await client.get(base + "/metrics")
        assert (r.status_code, r.text) == (500, "cannot read the state\n")
        assert "cannot serve /metrics: state database state.db" in caplog.text
        assert (await client.get(base + "/healthz")).status_code == 200
    finally:
        await listener.close()




async def test_serve_agent_passes_the_metrics_source_on(tmp_path: Path, store: Store,
                                                        client: httpx.AsyncClient) -> None:
    port = free_port()
    config = parse_config(f"""
agent:
  state_dir: {tmp_path / 'state'}
  listen: "127.0.0.1:{port}"
  token: {TOKEN}
""")
    listener = await serve_agent(config, store, FakeClock(T0), metrics=agent_metrics(store))
    try:
        r = await client.get(f"http://127.0.0.1:{port}/metrics",
                             headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        await listener.close()
    assert r.status_code == 200
    assert TOKEN not in r.text
    assert 'watchkeeper_check_status{check="disks",kind="disk"} 1' in r.text
