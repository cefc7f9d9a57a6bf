"""Prometheus scraping a real ``watchkeeper run``: /metrics over HTTP, read with the official
parser, with values a user can check against the config."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from agent import __version__
from tests.e2e.agent_process import AGENT, Agents, wait_until
from tests.ports import free_port
from tests.promtool import lint

pytestmark = pytest.mark.slow

TOKEN = "e2e-metrics-token-0123456789"
PASSWORD = "hunter2-e2e-secret"

CONFIG = AGENT + """  listen: {listen}
  token: ${file:token}
channels:
  log: ["log://"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "> 0"}
  - name: root
    kind: disk
    path: /
  - name: web
    kind: http
    url: http://admin:{password}@127.0.0.1:{closed_port}/
  - name: listener
    kind: tcp
    host: 127.0.0.1
    port: {port}
"""


def scrape(port: int, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=5.0)


def families(text: str) -> dict[str, Metric]:
    parsed = list(text_string_to_metric_families(text))
    names = [f.name for f in parsed]
    assert len(names) == len(set(names)), f"a family appears twice: {sorted(names)}"
    return {f.name: f for f in parsed}


def values(family: Metric) -> dict[tuple[tuple[str, str], ...], float]:
    out = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
    assert len(out) == len(family.samples), f"a series appears twice in {family.name}"
    return out


def test_prometheus_can_scrape_a_running_agent(agents: Agents) -> None:
    (agents.tmp / "token").write_text(TOKEN + "\n")
    port = agents.port
    started = time.time()
    agent = agents.start(CONFIG, password=PASSWORD, closed_port=free_port(), port=port)
    agent.wait_for_first_cycle()

    def both_alerts_firing() -> str | None:
        text = scrape(port).text
        return text if text.count("watchkeeper_alert_firing{") >= 2 else None

    text = wait_until(both_alerts_firing, timeout=15, what="two firing alerts")
    response = scrape(port)
    denied = scrape(port, token=None)
    assert agent.stop() == 0
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert denied.status_code == 401
    for secret in (TOKEN, PASSWORD):
        assert secret not in text and secret not in response.text

    fams = families(response.text)
    assert {"watchkeeper_check_status", "watchkeeper_check_last_run_timestamp_seconds",
            "watchkeeper_check_duration_seconds", "watchkeeper_check_runs",
            "watchkeeper_check_skipped", "watchkeeper_check_timeouts",
            "watchkeeper_alert_firing", "watchkeeper_notifications_queued",
            "watchkeeper_notifications_dead", "watchkeeper_build_info",
            "watchkeeper_used_ratio", "watchkeeper_free_bytes",
            "watchkeeper_inodes_used_ratio", "watchkeeper_available_bytes"} <= set(fams)
    assert not {name for name in fams if name.endswith(("_percent", "_ms"))}
    for name in ("watchkeeper_check_runs", "watchkeeper_check_skipped",
                 "watchkeeper_check_timeouts"):
        assert fams[name].type == "counter"

    # The judged status: memory's own outcome is OK, its used_percent threshold fires.
    assert values(fams["watchkeeper_check_status"]) == {
        (("check", "mem"), ("kind", "memory")): 2,
        (("check", "root"), ("kind", "disk")): 0,
        (("check", "web"), ("kind", "http")): 2,
        (("check", "listener"), ("kind", "tcp")): 0}
    firing = values(fams["watchkeeper_alert_firing"])
    assert firing == {
        (("check", "mem"), ("metric", "used_percent"), ("severity", "critical")): 1,
        (("check", "web"), ("metric", "status"), ("severity", "critical")): 1}

    used = values(fams["watchkeeper_used_ratio"])
    assert 0 < used[(("check", "mem"), ("kind", "memory"))] <= 1
    assert 0 <= used[(("check", "root"), ("kind", "disk"), ("mount", "/"))] <= 1
    # The tcp check's connect_ms, in seconds.
    (connect,) = values(fams["watchkeeper_connect_seconds"]).values()
    assert 0 <= connect < 5

    runs = values(fams["watchkeeper_check_runs"])
    assert set(runs) == {(("check", c),) for c in ("mem", "root", "web", "listener")}
    assert all(v >= 1 for v in runs.values())
    for stamp in values(fams["watchkeeper_check_last_run_timestamp_seconds"]).values():
        assert started <= stamp <= time.time()
    for took in values(fams["watchkeeper_check_duration_seconds"]).values():
        assert 0 <= took < 5 and not math.isnan(took)
    queued = values(fams["watchkeeper_notifications_queued"])[()]
    dead = values(fams["watchkeeper_notifications_dead"])[()]
    assert (queued >= 0, dead) == (True, 0)
    assert values(fams["watchkeeper_build_info"]) == {(("version", __version__),): 1}


def test_promtool_has_nothing_to_say_about_a_running_agents_page(agents: Agents) -> None:
    (agents.tmp / "token").write_text(TOKEN + "\n")
    port = agents.port
    agent = agents.start(CONFIG, password=PASSWORD, closed_port=free_port(), port=port)
    agent.wait_for_first_cycle()
    text = wait_until(lambda: (t := scrape(port).text).count(
        "watchkeeper_alert_firing{") >= 2 and t, timeout=15, what="two firing alerts")
    assert agent.stop() == 0
    assert lint(text) == ""
