"""``watchkeeper uptime`` on a state database with a known history, as a user runs it."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest

from agent.config.models import HistorySettings
from agent.history.recorder import HistoryRecorder
from agent.history.report import month_bounds
from agent.history.writes import load_series
from agent.model import Sample, Status
from agent.store import Store
from tests.e2e.agent_process import cli

CONFIG = """\
agent:
  host: cli-host
  state_dir: {state}
checks:
  - name: web
    kind: http
    url: http://127.0.0.1:9/
    slo: 99.9
  - name: batch
    kind: command
    command: [/bin/true]
"""

#: Two days of web, a run a minute: a 30-minute outage that ended an hour ago, and one
#: UNKNOWN run (no data).
MINUTES = 2 * 24 * 60
DOWN = range(MINUTES - 90, MINUTES - 60)


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    tmp = tmp_path_factory.mktemp("uptime")
    now = time.time()
    start = now - MINUTES * 60
    with Store.open(tmp / "state") as store:
        rec = HistoryRecorder(HistorySettings, store, store.query(load_series), start)
        for i in range(MINUTES):
            at = start + i * 60
            status = (Status.CRITICAL if i in DOWN else
                      Status.UNKNOWN if i == 10 else Status.OK)
            rec.record("web", status, (Sample("response_ms", 100.0 + i % 10),), 0.2, at)
            rec.flush_due(at)
        rec.flush(now, everything=True)
    config = tmp / "config.yaml"
    config.write_text(CONFIG.format(state=tmp / "state"))
    return config, start


def test_uptime_shows_each_check_with_its_outages_and_budget(
        known: tuple[Path, float]) -> None:
    config, _ = known
    out = cli("uptime", "--since", "7d", "-c", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "uptime over the last 7d:"
    assert lines[1].split() == ["CHECK", "UPTIME", "OUTAGES", "DOWNTIME", "LONGEST",
                                "INCIDENTS", "P50", "P95", "SLO", "BUDGET", "LEFT"]
    web = lines[2].split()
    # 30 of 2879 runs with data were down: 98.957%, cut, never rounded up.
    assert web[:6] == ["web", "98.957%", "1", "30m", "30m", "0"], lines[2]
    assert web[6:9] == ["104ms", "109ms", "99.9%"], lines[2]
    assert lines[3].split()[:3] == ["batch", "no", "data"]
    assert lines[4] == ("(P50 and P95 are of the last 2d: the raw samples kept; rollups' "
                        "means would hide the slow tail)")


def test_uptime_json_gives_the_figures_in_seconds_and_percent(
        known: tuple[Path, float]) -> None:
    config, _ = known
    out = cli("uptime", "--json", "--check", "web", "-c", str(config))
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    (web,) = found["checks"]
    assert web["check"] == "web" and web["runs"] == MINUTES - 1
    assert web["uptime_percent"] == pytest.approx(100 * (MINUTES - 31) / (MINUTES - 1))
    assert (web["outages"], web["downtime_seconds"], web["longest_outage_seconds"]) == \
        (1, pytest.approx(1800, abs=1), pytest.approx(1800, abs=1))
    assert (web["response_metric"], web["response_p50_ms"], web["response_p95_ms"]) == \
        ("response_ms", 104.0, 109.0)
    budget = web["budget"]
    start, end, month = month_bounds(found["until"], datetime.datetime.now().astimezone()
                                     .tzinfo or datetime.UTC)
    allowed = 0.001 * (end - start)
    down_from = found["until"] - 90 * 60
    used = max(0.0, min(found["until"] - 60 * 60, found["until"]) - max(down_from, start))
    assert budget["month"] == month and budget["target_percent"] == 99.9
    assert budget["allowed_seconds"] == pytest.approx(allowed)
    assert budget["used_seconds"] == pytest.approx(used, abs=61)
    assert budget["left_percent"] == pytest.approx(100 * (allowed - used) / allowed, abs=3)


def test_uptime_of_a_check_not_configured_is_a_usage_error(known: tuple[Path, float]) -> None:
    config, _ = known
    out = cli("uptime", "--check", "nope", "-c", str(config))
    assert out.returncode == 2
    assert out.stderr.strip() == f"watchkeeper: no check is named 'nope' in {config}"
    assert cli("uptime", "--since", "soon", "-c", str(config)).returncode == 2


def test_uptime_without_any_state_says_no_data(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "none"))
    out = cli("uptime", "--json", "-c", str(config))
    assert out.returncode == 0, out.stderr
    assert [c["uptime_percent"] for c in json.loads(out.stdout)["checks"]] == [None, None]
    assert not (tmp_path / "none").exists()


#: (who runs on the state, the downtime of an outage left open 69 minutes ago)
LEFT_OPEN = [
    # Nobody watched since its last CRITICAL run: no data, as the next start will say.
    ("no agent", 9 * 60),
    ("an agent", 79 * 60),  # it records, so the outage goes on to now
]


@pytest.mark.parametrize(("who", "downtime"), LEFT_OPEN, ids=[c[0] for c in LEFT_OPEN])
def test_an_outage_left_open_counts_only_while_an_agent_runs(
        tmp_path: Path, who: str, downtime: float) -> None:
    from agent.state_lock import StateLock

    now = time.time()
    start = now - 80 * 60
    with Store.open(tmp_path / "state") as store:
        rec = HistoryRecorder(HistorySettings, store, store.query(load_series), start)
        for i in range(11):  # one OK run, then 10 minutes down; then the agent stopped
            rec.record("web", Status.OK if i == 0 else Status.CRITICAL, (), 0.1,
                       start + i * 60)
        rec.flush(start + 11 * 60, everything=True)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(state=tmp_path / "state"))
    lock = StateLock.acquire(tmp_path / "state") if who == "an agent" else None
    try:
        out = cli("uptime", "--json", "--check", "web", "-c", str(config))
    finally:
        if lock is not None:
            lock.release()
    assert out.returncode == 0, out.stderr
    (web,) = json.loads(out.stdout)["checks"]
    assert web["outages"] == 1
    assert web["downtime_seconds"] == pytest.approx(downtime, abs=30)
    assert web["budget"]["used_seconds"] <= web["downtime_seconds"]
