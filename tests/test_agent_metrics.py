"""What the agent's /metrics page holds: checks' latest values and statuses, firing alerts,
scheduler totals, the queue and the version; and a running agent serving it."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from agent import __version__
from agent.agent_metrics import AgentMetrics, OutboxCounts, exposition
from agent.alerting.state import AlertState, Phase
from agent.config import load_config
from agent.latest import LatestRun, LatestRuns
from agent.model import AlertKey, CheckResult, Sample, Status, make_labels
from agent.runtime import Agent
from agent.scheduler import JobStats
from tests.ports import free_port

T0 = 1_700_000_000.0
EMPTY_QUEUE = OutboxCounts(0, 0)


def run(check: str, kind: str, result: CheckResult, at: float = T0,
        took: float = 0.25) -> LatestRun:
    return LatestRun(check, kind, result, at, took, result.status)


def page(runs: Sequence[LatestRun] = (), alerts: Sequence[AlertState] = (),
         stats: dict[str, JobStats] | None = None,
         outbox: OutboxCounts = EMPTY_QUEUE) -> str:
    return exposition(runs, alerts, stats or {}, outbox, version="9.9.9")


def samples(text: str, family: str) -> list[str]:
    return [line for line in text.splitlines()
            if line.startswith((family + " ", family + "{"))]


def test_the_whole_page_for_one_disk_check_and_one_firing_alert() -> None:
    disk = CheckResult.ok("/ 93% used", samples=[
        Sample("used_percent", 93.5, make_labels({"mount": "/"})),
        Sample("used_percent", 12.0, make_labels({"mount": "/boot"}))])
    firing = AlertState(AlertKey("h1", "disks", "used_percent", make_labels({"mount": "/"})),
                        Phase.FIRING, Status.CRITICAL)
    stats = {"disks": JobStats(runs=4, skipped=1, timeouts=2)}
    text = page([run("disks", "disk", disk)], [firing], stats, OutboxCounts(3, 1))
    assert text == """\
# HELP watchkeeper_check_status judged status of each check's latest run (its own \
outcome and its thresholds together): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
# TYPE watchkeeper_check_status gauge
watchkeeper_check_status{check="disks",kind="disk"} 0
# HELP watchkeeper_check_last_run_timestamp_seconds when each check's latest run finished, \
in Unix time
# TYPE watchkeeper_check_last_run_timestamp_seconds gauge
watchkeeper_check_last_run_timestamp_seconds{check="disks"} 1700000000
# HELP watchkeeper_check_duration_seconds how long each check's latest run took
# TYPE watchkeeper_check_duration_seconds gauge
watchkeeper_check_duration_seconds{check="disks"} 0.25
# HELP watchkeeper_check_runs_total runs of each check since the agent started
# TYPE watchkeeper_check_runs_total counter
watchkeeper_check_runs_total{check="disks"} 4
# HELP watchkeeper_check_skipped_total turns of each check skipped because its previous \
run was still going
# TYPE watchkeeper_check_skipped_total counter
watchkeeper_check_skipped_total{check="disks"} 1
# HELP watchkeeper_check_timeouts_total runs of each check that overran their timeout
# TYPE watchkeeper_check_timeouts_total counter
watchkeeper_check_timeouts_total{check="disks"} 2
# HELP watchkeeper_alert_firing 1 for each firing alert
# TYPE watchkeeper_alert_firing gauge
watchkeeper_alert_firing{check="disks",metric="used_percent",severity="critical",\
mount="/"} 1
# HELP watchkeeper_notifications_queued notifications waiting to be sent
# TYPE watchkeeper_notifications_queued gauge
watchkeeper_notifications_queued 3
# HELP watchkeeper_notifications_dead notifications given up on after their retries, kept \
until pruned
# TYPE watchkeeper_notifications_dead gauge
watchkeeper_notifications_dead 1
# HELP watchkeeper_build_info the running watchkeeper version (always 1)
# TYPE watchkeeper_build_info gauge
watchkeeper_build_info{version="9.9.9"} 1
# HELP watchkeeper_used_ratio latest value of used_percent (percent) reported by \
watchkeeper checks, as a ratio (1 is 100%)
# TYPE watchkeeper_used_ratio gauge
watchkeeper_used_ratio{check="disks",kind="disk",mount="/"} 0.935
watchkeeper_used_ratio{check="disks",kind="disk",mount="/boot"} 0.12
"""


@pytest.mark.parametrize(("status", "code"), [
    (Status.OK, 0), (Status.WARNING, 1), (Status.CRITICAL, 2), (Status.UNKNOWN, 3),
])
def test_check_status_is_the_nagios_code(status: Status, code: int) -> None:
    text = page([run("web", "http", CheckResult(status, "x"))])
    assert samples(text, "watchkeeper_check_status") == \
        [f'watchkeeper_check_status{{check="web",kind="http"}} {code}']


@pytest.mark.parametrize(("own", "judged", "code"), [
    (Status.OK, Status.WARNING, 1),
    (Status.OK, Status.CRITICAL, 2),
    (Status.WARNING, Status.CRITICAL, 2),
    (Status.CRITICAL, Status.CRITICAL, 2),
])
def test_check_status_is_the_judged_status_not_the_checks_own(own: Status, judged: Status,
                                                              code: int) -> None:
    # A disk check that says OK while its used_percent threshold fires.
    result = CheckResult(own, "/ 80% used", (Sample("used_percent", 80.0),))
    text = page([LatestRun("data-disk", "disk", result, T0, 0.1, judged)])
    assert samples(text, "watchkeeper_check_status") == \
        [f'watchkeeper_check_status{{check="data-disk",kind="disk"}} {code}']


@pytest.mark.parametrize(("phase", "shown"), [
    (Phase.OK, False), (Phase.PENDING, False), (Phase.FIRING, True), (Phase.RESOLVED, False),
])
def test_only_firing_alerts_are_shown(phase: Phase, shown: bool) -> None:
    state = AlertState(AlertKey("h1", "web", "status"), phase, Status.WARNING)
    expected = ['watchkeeper_alert_firing{check="web",metric="status",severity="warning"} 1']
    assert samples(page(alerts=[state]), "watchkeeper_alert_firing") == \
        (expected if shown else [])


def test_the_same_metric_of_several_checks_is_one_family() -> None:
    text = page([run("web-b", "http", CheckResult.ok("", {"response_ms": 20})),
                 run("web-a", "http", CheckResult.ok("", {"response_ms": 10})),
                 run("mem", "memory", CheckResult.ok("", {"used_percent": 50}))])
    assert text.count("# TYPE watchkeeper_response_seconds gauge") == 1
    assert samples(text, "watchkeeper_response_seconds") == [
        'watchkeeper_response_seconds{check="web-b",kind="http"} 0.02',
        'watchkeeper_response_seconds{check="web-a",kind="http"} 0.01']


def test_check_metrics_in_other_units_of_one_quantity_share_a_family_in_the_base_unit(
        ) -> None:
    text = page([run("web", "http", CheckResult.ok("", {"response_ms": 250})),
                 run("job", "command", CheckResult.ok("", {"response_seconds": 1.5}))])
    assert ("# HELP watchkeeper_response_seconds latest value of response_ms (milliseconds) "
            "or response_seconds (seconds) reported by watchkeeper checks, in seconds\n"
            "# TYPE watchkeeper_response_seconds gauge\n"
            'watchkeeper_response_seconds{check="web",kind="http"} 0.25\n'
            'watchkeeper_response_seconds{check="job",kind="command"} 1.5\n') in text


@pytest.mark.parametrize(("metric", "value", "lines"), [
    ("up", 1, ["# HELP watchkeeper_up latest value of up reported by watchkeeper checks",
               "# TYPE watchkeeper_up gauge", 'watchkeeper_up{check="c",kind="k"} 1']),
    ("free_bytes", 5e9, [
        "# HELP watchkeeper_free_bytes latest value of free_bytes (bytes) reported by "
        "watchkeeper checks",
        "# TYPE watchkeeper_free_bytes gauge",
        'watchkeeper_free_bytes{check="c",kind="k"} 5000000000']),
    ("cert_days_left", 10.5, [
        "# HELP watchkeeper_cert_left_seconds latest value of cert_days_left (days) "
        "reported by watchkeeper checks, in seconds",
        "# TYPE watchkeeper_cert_left_seconds gauge",
        'watchkeeper_cert_left_seconds{check="c",kind="k"} 907200']),
    ("errors_total", 3, [
        "# HELP watchkeeper_errors_total latest value of errors_total reported by "
        "watchkeeper checks",
        "# TYPE watchkeeper_errors_total counter",
        'watchkeeper_errors_total{check="c",kind="k"} 3']),
])
def test_a_check_metrics_help_names_it_and_its_unit_and_its_value_is_in_the_base_unit(
        metric: str, value: float, lines: list[str]) -> None:
    text = page([run("c", "k", CheckResult.ok("", {metric: value}))])
    assert text.splitlines()[-3:] == lines


def test_odd_metric_names_and_clashing_labels_are_made_valid() -> None:
    result = CheckResult.ok("", samples=[
        Sample("time-seconds", 1.5, make_labels({"check": "inner", "a.b": "x", "le": "5",
                                                 "fooBar": "y"}))])
    text = page([run("cmd", "command", result)])
    assert samples(text, "watchkeeper_time_seconds") == [
        'watchkeeper_time_seconds{check="cmd",kind="command",a_b="x",'
        'exported_check="inner",foo_Bar="y",exported_le="5"} 1.5']


@pytest.mark.parametrize("metric", ["check_status", "check_runs_total", "check_runs",
                                    "build_info", "alert_firing", "notifications_dead",
                                    "check_duration_ms"])
def test_a_check_metric_never_mixes_into_the_agents_own_families(metric: str) -> None:
    text = page([run("cmd", "command", CheckResult.ok("", {metric: 42, "fine": 1}))])
    assert " 42" not in text
    assert samples(text, "watchkeeper_fine") == \
        ['watchkeeper_fine{check="cmd",kind="command"} 1']


def test_checks_that_have_not_run_yet_show_only_their_counters() -> None:
    text = page(stats={"slow": JobStats()})
    assert samples(text, "watchkeeper_check_runs_total") == \
        ['watchkeeper_check_runs_total{check="slow"} 0']
    assert samples(text, "watchkeeper_check_status") == []


def test_latest_runs_keep_one_run_per_check_in_name_order() -> None:
    runs = LatestRuns()
    runs.record(run("b", "cpu", CheckResult.ok("first")))
    runs.record(run("a", "cpu", CheckResult.ok("")))
    runs.record(run("b", "cpu", CheckResult.ok("second")))
    assert [r.check for r in runs] == ["a", "b"]
    latest = runs.get("b")
    assert latest is not None and latest.result.summary == "second"
    assert len(runs) == 2 and runs.get("c") is None


class CountingStore:
    """Counts the queue and notes which threads asked."""

    def __init__(self) -> None:
        self.threads: set[threading.Thread] = set()

    def pending_count(self) -> int:
        self.threads.add(threading.current_thread())
        return 5

    def dead_count(self) -> int:
        self.threads.add(threading.current_thread())
        return 2


async def test_agent_metrics_counts_the_queue_in_a_thread_and_reads_live_sources() -> None:
    runs, states = LatestRuns(), dict[AlertKey, AlertState]()
    stats = {"mem": JobStats(runs=1)}
    store = CountingStore()
    metrics = AgentMetrics(runs, states, stats, store)
    runs.record(run("mem", "memory", CheckResult.ok("", {"used_percent": 50})))
    key = AlertKey("h", "mem", "used_percent")
    states[key] = AlertState(key, Phase.FIRING, Status.CRITICAL)
    stats["mem"].runs = 2
    text = await metrics()
    assert store.threads and threading.current_thread() not in store.threads
    assert "watchkeeper_notifications_queued 5\n" in text
    assert "watchkeeper_notifications_dead 2\n" in text
    assert 'watchkeeper_check_runs_total{check="mem"} 2\n' in text
    assert 'watchkeeper_alert_firing{check="mem",metric="used_percent",' \
           'severity="critical"} 1\n' in text
    assert f'watchkeeper_build_info{{version="{__version__}"}} 1\n' in text


# --- a running agent -----------------------------------------------------------------------



async def test_a_memory_only_agent_serves_metrics_without_the_prometheus_client(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Other tests of this process parse with the client; forget it for this one.
    for name in [m for m in sys.modules if m.split(".")[0] == "prometheus_client"]:
        monkeypatch.delitem(sys.modules, name)
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(f"""
agent:
  host: h1
  state_dir: {tmp_path / 'state'}
  listen: 127.0.0.1:{port}
checks:
  - name: mem
    kind: memory
    interval: 0.05
    thresholds:
      used_percent: {{crit: "> 0"}}
""")
    agent = Agent(load_config(path))
    started = time.time()
    task = asyncio.create_task(agent.run())
    try:
        text = ""
        async with httpx.AsyncClient(timeout=5.0) as client:
            for _ in range(200):
                await asyncio.sleep(0.02)
                if agent.checks["mem"].runs < 2:
                    continue
                r = await client.get(f"http://127.0.0.1:{port}/metrics")
                text = r.text
                if "watchkeeper_alert_firing{" in text:
                    break
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        # The judged status: the check's own outcome is OK, its threshold fires.
        latest = agent.latest.get("mem")
        assert latest is not None and latest.result.status is Status.OK
        assert 'watchkeeper_check_status{check="mem",kind="memory"} 2' in text
        (used,) = [float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith('watchkeeper_used_ratio{check="mem",kind="memory"} ')]
        assert 0 < used <= 1
        assert 'watchkeeper_alert_firing{check="mem",metric="used_percent",' \
               'severity="critical"} 1' in text
        (stamp,) = [float(line.rpartition(" ")[2]) for line in text.splitlines()
                    if line.startswith('watchkeeper_check_last_run_timestamp_seconds{check="mem"}')]
        assert started <= stamp <= time.time()
    finally:
        agent.stop()
        await asyncio.wait_for(task, 10)
    assert not [m for m in sys.modules if m.split(".")[0] == "prometheus_client"]
