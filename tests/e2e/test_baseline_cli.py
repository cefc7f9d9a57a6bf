"""``watchkeeper baseline`` as a user runs it, on a state directory filled beforehand."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import load_config
from agent.config.models import Config
from agent.model import AlertKey
from agent.store import Store
from agent.thresholds.series import SeriesJudge
from tests.e2e.agent_process import cli

pytestmark = pytest.mark.slow

CONFIG = """
agent:
  host: web1
  state_dir: {state}
checks:
  - name: api
    kind: memory
    thresholds:
      used_percent:
        adaptive: {{warmup: 1d}}
        forecast: false
  - name: disk
    kind: disk
    path: /
    thresholds:
      used_percent:
        forecast: {{limit: 100, horizon: 12h}}
      free_bytes:
        adaptive: {{warmup: 1d}}
"""
ROOT = (("mount", "/"),)


def _learn(config: Config, key: AlertKey, hours: float, value: Callable[[float], float],
           now: float) -> tuple[AlertKey, bytes]:
    check = config.check(key.check)
    assert check is not None
    rule = check.thresholds[key.metric]
    judge = SeriesJudge(key.metric, rule=rule, adaptive=rule.adaptive, forecast=rule.forecast)
    t = now - hours * 3600
    while t <= now:
        judge.observe(t, value(t))
        t += 300
    return key, judge.to_bytes()


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and a state directory holding what the agent would have learned."""
    tmp = tmp_path_factory.mktemp("baseline")
    path = tmp / "config.yaml"
    path.write_text(CONFIG.format(state=tmp / "state"))
    config = load_config(path)
    now = time.time()
    items = [
        _learn(config, AlertKey("web1", "api", "used_percent"), 9 * 24,
               lambda t: 50 + 20 * math.sin(2 * math.pi * t / 86400), now),
        _learn(config, AlertKey("web1", "disk", "free_bytes", ROOT), 14.2,
               lambda t: 5e9 + 1e7 * math.sin(t / 5000), now),
        _learn(config, AlertKey("web1", "disk", "used_percent", ROOT), 12,
               lambda t: 100 - 0.8 * (7 + (now - t) / 3600), now),
        (AlertKey("web1", "gone", "response_ms"), b"whatever it was"),
    ]
    with Store.open(config.agent.state_dir) as store:
        store.save_learned(items, now)
    return path


def test_every_learned_series_is_shown_in_words(config_file: Path) -> None:
    out = cli("baseline", "-c", str(config_file))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    heads = [line for line in text.splitlines() if line.startswith("web1/")]
    assert [h.split(" (")[0] for h in heads] == [
        "web1/api/used_percent", "web1/disk/free_bytes{mount=/}",
        "web1/disk/used_percent{mount=/}", "web1/gone/response_ms"]
    assert text.startswith("agent not running; state as saved at "), text
    assert re.search(r"web1/api/used_percent \(last sample \d+[sm] ago; as saved \d+s ago\)\n"
                     r"  normal now \((Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:00\): "
                     r"\d\d(\.\d+)?%-\d\d(\.\d+)?%; alerts below [\d.]+% or above [\d.]+%\n"
                     r"  normal by hour +00:00 +04:00 +08:00 +12:00 +16:00 +20:00\n"
                     r"  Mon +\d\d(\.\d+)?%-", text), text  # the band of whatever hour it is now
    assert re.search(r"  learning: 14 of 2[45] hours \(5\d%(; warmup 1d, then from the next "
                     r"full hour)?\)\n", text), text
    assert re.search(r"  trend: \+0\.8%/h, full in about (6h \d+m|7h( \d+m)?) \(limit 100%\)",
                     text), text
    assert "web1/gone/response_ms (no longer configured)" in text
    assert "Traceback" not in out.stderr


def test_one_check_as_json_with_every_hour(config_file: Path) -> None:
    out = cli("baseline", "api", "used_percent", "--json", "-c", str(config_file))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [series] = doc["series"]
    assert series["key"] == "web1/api/used_percent"
    assert series["configured"] and series["restored"]
    assert series["learning"]["ready"] and series["learning"]["percent"] == 100
    assert 24 * 3600 <= series["learning"]["needed_seconds"] <= 25 * 3600
    assert series["saved_at"] is not None and doc["source"] == "store"
    assert series["normal_now"]["lo"] < series["normal_now"]["hi"]
    assert len(series["by_hour"]) == 168
    assert series["by_hour"][0] == {"weekday": "Mon", "hour": 0,
                                    "lo": series["by_hour"][0]["lo"],
                                    "hi": series["by_hour"][0]["hi"]}
    assert series["trend"] is None


def test_the_full_hour_table(config_file: Path) -> None:
    out = cli("baseline", "api", "--hours", "-c", str(config_file))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "normal by hour" in line)
    assert lines[start].split()[3:] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    rows = lines[start + 1:start + 25]
    assert [r.split()[0] for r in rows] == [f"{h:02d}:00" for h in range(24)]


@pytest.mark.parametrize(("args", "words"), [
    (["nope"], ["no learned thresholds for check 'nope'",
                "checks with learned thresholds: api, disk, gone"]),
    (["disk", "load1"], ["check disk has no learned thresholds for metric 'load1'",
                         "it has: free_bytes, inodes_used_percent, used_percent"]),
    (["disk", "used_percent", "extra"], ["unrecognized arguments: extra"]),
], ids=["unknown-check", "unknown-metric", "too-many-arguments"])
def test_bad_arguments_exit_2_with_what_exists(config_file: Path, args: list[str],
                                               words: list[str]) -> None:
    out = cli("baseline", *args, "-c", str(config_file))
    assert out.returncode == 2
    assert out.stdout == ""
    for w in words:
        assert w in out.stderr
    assert "Traceback" not in out.stderr


def test_before_the_agent_ever_ran(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    out = cli("baseline", "-c", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"no state yet in {tmp_path / 'state'} (has the agent run?)"
    assert not (tmp_path / "state").exists()
