"""/metrics passes Prometheus's own lint (``promtool check metrics``) with nothing to say,
for a page holding every metric of every built-in check kind, odd labels and firing
alerts."""

from __future__ import annotations

import random
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from agent.agent_metrics import IncidentFigures, OutboxCounts, exposition
from agent.alerting.state import AlertState, Phase
from agent.incidents.counters import IncidentCounters
from agent.latest import LatestRun
from agent.model import AlertKey, CheckResult, Sample, Status, make_labels
from agent.scheduler import JobStats
from checks.command.perfdata import parse_perfdata
from checks.database.check import STANDARD_METRICS
from tests.promtool import lint, promtool

T0 = 1_700_000_000.0
#: What a Nagios plugin run by a command check might print after its ``|``.
PLUGIN_PERFDATA = ("'Response Time'=12ms;100;200 'used'=80%;90;95;0;100 errors=3c "
                   "rss=1.5MB queueCount=7 load=0.5 uptime=3600s 'C:\\ free'=4GB '1min'=0.5")
#: Label values and names a check may hand over: quotes, backslashes, newlines, other
#: scripts, an undecodable byte of a path, names clashing with ours or the lint's.
ODD_LABELS = [
    {"mount": 'C:\\ "data"\n'},
    {"path": "/srv/résumé/\udcff", "a.b": "x"},
    {"check": "inner", "le": "0.5", "quantile": "0.9", "deviceName": "sda"},
]


def builtin_metrics() -> dict[str, set[str]]:
    """Every metric name each built-in kind reports, by kind."""
    out: dict[str, set[str]] = {}
    for ep in entry_points(group="watchkeeper.checks"):
        if ep.value.split(":")[0].split(".")[0] != "checks":
            continue
        out[ep.name] = set(ep.load().metrics)
    out["database"] |= STANDARD_METRICS | {"query_value"}
    data, problems = parse_perfdata(PLUGIN_PERFDATA)
    assert not problems
    out["command"] |= {d.metric for d in data}
    return out


def realistic_page() -> str:
    runs, alerts = [], []
    for i, (kind, metrics) in enumerate(sorted(builtin_metrics().items())):
        name = f"{kind}-check"
        samples = [Sample(metric, 12.5 + n, make_labels(ODD_LABELS[(i + n) % 3]))
                   for n, metric in enumerate(sorted(metrics))]
        samples += [Sample(metric, 1.0) for metric in sorted(metrics)]
        own = [Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN][i % 4]
        runs.append(LatestRun(name, kind, CheckResult(own, "x", tuple(samples)), T0, 0.125,
                              Status.CRITICAL))
        for metric in sorted(metrics)[:2]:
            alerts.append(AlertState(AlertKey("h1", name, metric,
                                              make_labels(ODD_LABELS[i % 3])),
                                     Phase.FIRING, Status.WARNING))
    stats = {run.check: JobStats(runs=3, skipped=1, timeouts=1) for run in runs}
    counters = IncidentCounters()
    for run in runs:
        counters.opened[run.check] += 2
        counters.held[(run.check, "dependency")] += 1
        counters.acknowledged[run.check] += 1
    alerts.append(AlertState(AlertKey("h1", "flappy", "status"), Phase.FIRING,
                             Status.CRITICAL, flapping=True))
    return exposition(runs, alerts, stats, OutboxCounts(2, 1), version="1.2.3",
                      incidents=IncidentFigures(3, counters))


def test_every_kind_of_check_is_on_the_realistic_page() -> None:
    kinds = builtin_metrics()
    assert {"cpu", "memory", "disk", "http", "tls", "dns", "tcp", "database", "command",
            "process", "systemd", "backup", "heartbeat", "load", "logins"} <= set(kinds)
    text = realistic_page()
    assert "watchkeeper_response_seconds{" in text and "watchkeeper_used_ratio{" in text
    assert "exported_le=" in text and 'mount="C:\\\\ \\"data\\"\\n"' in text
    assert text.count("watchkeeper_alert_firing{") == 2 * len(kinds) + 1
    assert "watchkeeper_incidents_open 3" in text
    assert 'watchkeeper_alerts_held_total{check="cpu-check",reason="dependency"} 1' in text
    assert 'watchkeeper_alert_flapping{check="flappy",metric="status"} 1' in text


def test_promtool_has_nothing_to_say_about_the_page() -> None:
    assert lint(realistic_page()) == ""


#: Words a name of a plugin's or a user's making may be built from: units, abbreviations,
#: the words the lint keeps for other types, camelCase, digits, colons.
WORDS = ["used", "ms", "percent", "seconds", "hours", "days", "left", "bytes", "kb", "m", "h",
         "d", "s", "b", "total", "count", "sum", "bucket", "gauge", "counter", "queueDepth",
         "1st", "a:b", "Disk", "ratio", "per", "core", "x"]


def test_promtool_has_nothing_to_say_about_names_of_any_making() -> None:
    rng = random.Random(8)
    names = {"_".join(rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(400)}
    run = LatestRun("cmd", "command", CheckResult.ok("", {n: 1.5 for n in sorted(names)}),
                    T0, 0.1, Status.OK)
    text = exposition([run], [], {}, OutboxCounts(0, 0))
    assert text.count("# TYPE") > 100
    assert lint(text) == ""


@pytest.mark.parametrize("page", [
    "# HELP x_ms took\n# TYPE x_ms gauge\nx_ms 1\n",
    "# HELP x_percent used\n# TYPE x_hours gauge\nx_hours 1\n",
    "# HELP runs runs\n# TYPE runs counter\nruns 1\n",
    "# TYPE x gauge\nx{le=\"1\"} 1\n",
    "not a metric page\n",
])
def test_promtool_is_asked_for_real(page: str) -> None:
    assert lint(page) != ""


@pytest.mark.parametrize(("env", "outcome"), [
    ({}, pytest.skip.Exception),
    ({"CI": "true"}, pytest.fail.Exception),
    ({"WATCHKEEPER_REQUIRE_SERVICES": "1"}, pytest.fail.Exception),
])
def test_without_promtool_the_lint_is_skipped_except_in_ci(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str],
        outcome: type[BaseException]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("CI", "WATCHKEEPER_REQUIRE_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(outcome, match="promtool is not installed"):
        promtool()
