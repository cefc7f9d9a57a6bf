"""Forecasts in the config: on by default where a limit is natural, a declared ``limit:``
turns one on, ``forecast: false`` turns it off, and mistakes are reported at their key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.config import Config, load_config
from agent.errors import ConfigError
from agent.thresholds.forecast import ForecastSettings, Heading
from agent.thresholds.rules import Comparison, Op

DAY = 86400.0
HOUR = 3600.0


def _load(tmp_path: Path, checks: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path}\nchecks:\n"
                    + textwrap.indent(textwrap.dedent(checks).strip("\n"), "  ") + "\n")
    return load_config(path, env={})


def _issues(tmp_path: Path, checks: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, checks)
    return [(i.path, i.message) for i in caught.value.issues]


def _forecasts(config: Config) -> dict[tuple[str, str], ForecastSettings | None]:
    return {(c.kind, m): r.forecast for c in config.checks for m, r in c.thresholds.items()}


def test_disk_inodes_and_memory_forecast_towards_100_percent_by_default(
        tmp_path: Path) -> None:
    config = _load(tmp_path, """
        - {kind: disk, all: true}
        - {kind: memory}
        - {kind: cpu}
        - {kind: load}
    """)
    default = ForecastSettings(limit=100)
    assert _forecasts(config) == {("disk", "used_percent"): default,
                                  ("disk", "inodes_used_percent"): default,
                                  ("memory", "used_percent"): default}
    assert (default.horizon, default.window) == (7 * DAY, 2 * DAY)
    assert (default.crit_horizon, default.crit_window) == (6 * HOUR, 2 * HOUR)


def test_static_limits_of_a_metric_keep_its_default_forecast(tmp_path: Path) -> None:
    (check,) = _load(tmp_path, """
        - kind: disk
          path: /
          thresholds:
            used_percent: {warn: "> 85", crit: "> 95"}
    """).checks
    rule = check.thresholds["used_percent"]
    assert rule.warn == Comparison(Op.GT, 85.0, "> 85")
    assert rule.forecast == ForecastSettings(limit=100)
    assert check.thresholds["inodes_used_percent"].forecast == ForecastSettings(limit=100)


@pytest.mark.parametrize("rule", [
    "{warn: 90, forecast: false}",
    "{forecast: false, crit: 97}",
])
def test_forecast_false_turns_the_default_off(tmp_path: Path, rule: str) -> None:
    (check,) = _load(tmp_path, f"""
        - kind: memory
          thresholds:
            used_percent: {rule}
    """).checks
    assert check.thresholds["used_percent"].forecast is None
    assert not check.thresholds["used_percent"].learns


@pytest.mark.parametrize(("rule", "expected"), [
    pytest.param("{forecast: {horizon: 3d}}",
                 ForecastSettings.model_validate({"limit": 100, "horizon": "3d"}),
                 id="own-horizon-default-limit"),
    pytest.param("{forecast: {crit_horizon: false}}",
                 ForecastSettings(limit=100, crit_horizon=None), id="no-critical"),
    pytest.param("{limit: 90}", ForecastSettings(limit=90), id="declared-limit"),
    pytest.param("{limit: '90%', forecast: {horizon: 1d}}",
                 ForecastSettings.model_validate({"limit": 90, "horizon": "1d"}),
                 id="declared-limit-own-horizon"),
    pytest.param("{forecast: {limit: 95}}", ForecastSettings(limit=95), id="limit-in-block"),
    pytest.param("{forecast: true}", ForecastSettings(limit=100), id="true"),
])
def test_a_metric_can_shape_its_forecast(tmp_path: Path, rule: str,
                                         expected: ForecastSettings) -> None:
    (check,) = _load(tmp_path, f"""
        - kind: disk
          path: /
          thresholds:
            used_percent: {rule}
    """).checks
    assert check.thresholds["used_percent"].forecast == expected


@pytest.mark.parametrize(("rule", "heading"), [
    pytest.param('{limit: 1GiB, crit: "< 2GiB"}', Heading.FALLING, id="declared-below"),
    pytest.param('{crit: "< 2GiB", forecast: {limit: 1GiB}}', Heading.FALLING,
                 id="in-block-below"),
    pytest.param('{limit: 1GiB, crit: "< 2GiB", forecast: {direction: rising}}',
                 Heading.RISING, id="said-otherwise"),
    pytest.param('{limit: 90GiB, warn: "> 80GiB"}', Heading.RISING, id="declared-above"),
])
def test_a_limit_below_the_metric_s_thresholds_is_approached_falling(
        tmp_path: Path, rule: str, heading: Heading) -> None:
    (check,) = _load(tmp_path, f"""
        - kind: disk
          path: /
          thresholds:
            free_bytes: {rule}
    """).checks
    forecast = check.thresholds["free_bytes"].forecast
    assert forecast is not None and forecast.direction is heading


def test_a_declared_limit_turns_a_forecast_on_for_any_metric(tmp_path: Path) -> None:
    (check,) = _load(tmp_path, """
        - kind: command
          command: [/bin/true]
          thresholds:
            queue_length: {limit: 5000, warn: "> 4000"}
            backlog_bytes: {limit: 10GiB}
    """).checks
    assert check.thresholds["queue_length"].forecast == ForecastSettings(limit=5000)
    assert check.thresholds["backlog_bytes"].forecast == ForecastSettings(limit=10 * 2.0**30)


@pytest.mark.parametrize(("kind", "rule", "where", "message"), [
    pytest.param("command\n  command: [/bin/true]", "{forecast: {horizon: 1d}}",
                 "thresholds.queue_length.forecast",
                 "a forecast needs a limit: set limit: on the metric or in forecast:",
                 id="no-limit-anywhere"),
    pytest.param("disk\n  path: /", "{limit: 90, forecast: {limit: 95}}",
                 "thresholds.used_percent.forecast.limit",
                 "the limit is set twice (limit: beside forecast:); keep one", id="twice"),
    pytest.param("disk\n  path: /", "{limit: lots}", "thresholds.used_percent.limit",
                 "size", id="bad-limit"),
    pytest.param("disk\n  path: /", "{forecast: {horizon: soon}}",
                 "thresholds.used_percent.forecast.horizon", "soon", id="bad-horizon"),
    pytest.param("disk\n  path: /", "{forecast: 100}", "thresholds.used_percent.forecast",
                 "expected a mapping, got 100", id="not-a-mapping"),
])
def test_forecast_mistakes_are_reported_at_their_key(tmp_path: Path, kind: str, rule: str,
                                                     where: str, message: str) -> None:
    metric = "queue_length" if kind.startswith("command") else "used_percent"
    found = _issues(tmp_path, f"- kind: {kind}\n  thresholds:\n    {metric}: {rule}\n")
    assert len(found) == 1, found
    path, text = found[0]
    assert path == f"checks[0].{where}"
    assert message in text
