"""One metric judged by static, learned and forecast thresholds together."""

from __future__ import annotations

import random

import pytest

from agent.alerting.state import AlertState, Phase
from agent.model import AlertKey, Finding, Status
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings
from agent.thresholds.rules import Op, ThresholdRule, parse_comparison
from agent.thresholds.series import SeriesJudge, worst_finding

START = 1_704_067_200.0
STEP = 300.0
KEY = AlertKey("db1", "disk", "used_percent", (("mount", "/var"),))
RULE = ThresholdRule("used_percent", warn=parse_comparison("> 80", "used_percent"),
                     crit=parse_comparison("> 90", "used_percent"),
                     recover=parse_comparison("< 75", "used_percent", Op.LT))
FORECAST = ForecastSettings.model_validate({"limit": 100, "horizon": "12h"})


def calm(judge: SeriesJudge, days: float, level: float = 50.0, seed: int = 1) -> float:
    rng = random.Random(seed)
    t = START
    for i in range(int(days * 86400 / STEP)):
        t = START + i * STEP
        assert not judge.observe(t, level + rng.gauss(0, 1))
    return t + STEP


def test_static_limits_apply_during_warm_up() -> None:
    judge = SeriesJudge("used_percent", RULE, AdaptiveSettings())
    finding = judge.judge(KEY, START, 95.0)
    assert (finding.status, finding.why) == (Status.CRITICAL, "used_percent 95% > 90%")


def test_a_learned_anomaly_below_the_static_limits_is_a_warning() -> None:
    judge = SeriesJudge("used_percent", RULE, AdaptiveSettings())
    t = calm(judge, 3, level=40.0)
    assert judge.observe(t, 70.0)
    finding = judge.finding(KEY, t, 70.0)
    assert finding.status is Status.WARNING
    assert finding.why.startswith("used_percent 70% is far above normal")


def test_static_hysteresis_holds_a_firing_alert() -> None:
    judge = SeriesJudge("used_percent", RULE)
    firing = AlertState(KEY, phase=Phase.FIRING, severity=Status.CRITICAL)
    assert not judge.observe(START, 78.0)
    assert judge.finding(KEY, START, 78.0, firing).status is Status.CRITICAL


@pytest.mark.parametrize(("statuses", "speaker"), [
    ((Status.OK, Status.WARNING, Status.OK), 1),
    ((Status.WARNING, Status.WARNING, Status.WARNING), 0),
    ((Status.WARNING, Status.OK, Status.CRITICAL), 2),
    ((Status.OK, Status.OK, Status.OK), 0),
])
def test_the_worst_finding_speaks_and_the_first_wins_a_tie(
        statuses: tuple[Status, ...], speaker: int) -> None:
    found = [Finding(KEY, s, f"judge {i}") for i, s in enumerate(statuses)]
    assert worst_finding(found).why == f"judge {speaker}"


def test_a_judge_without_thresholds_refuses_to_word_a_verdict() -> None:
    judge = SeriesJudge("used_percent")
    assert not judge.observe(START, 1.0)
    with pytest.raises(ValueError, match="no threshold"):
        judge.finding(KEY, START, 1.0)


def test_what_was_learned_survives_a_restart() -> None:
    a = SeriesJudge("used_percent", RULE, AdaptiveSettings(), FORECAST, utc_offset=0.0)
    t = calm(a, 3)
    b = SeriesJudge("used_percent", RULE, AdaptiveSettings(), FORECAST, utc_offset=0.0)
    assert b.restore(a.to_bytes())
    rng = random.Random(9)
    for i in range(600):
        v = 50 + rng.gauss(0, 1) + (40 if i == 300 else 0) + i * 0.02
        ta, tb = a.observe(t + i * STEP, v), b.observe(t + i * STEP, v)
        assert ta == tb
        assert a.finding(KEY, t + i * STEP, v) == b.finding(KEY, t + i * STEP, v)


@pytest.mark.parametrize("data", [b"", b"junk", b"WKS1\x05\x00\x00\x00abc"])
def test_unusable_stored_state_is_dropped_not_trusted(data: bytes) -> None:
    judge = SeriesJudge("used_percent", RULE, AdaptiveSettings(), FORECAST)
    assert not judge.restore(data)
    assert judge.judge(KEY, START, 50.0).status is Status.OK


def test_stored_state_for_another_forecast_window_is_dropped() -> None:
    a = SeriesJudge("used_percent", None, AdaptiveSettings(), FORECAST)
    calm(a, 1)
    other = ForecastSettings.model_validate({"limit": 100, "window": "2h"})
    b = SeriesJudge("used_percent", None, AdaptiveSettings(), other)
    assert not b.restore(a.to_bytes())


def test_nothing_learned_is_empty_bytes() -> None:
    assert SeriesJudge("used_percent", RULE).to_bytes() == b""


def test_state_learned_by_an_older_engine_is_dropped_with_a_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    judge = SeriesJudge("load", adaptive=AdaptiveSettings())
    for i in range(300):
        judge.observe(1_700_000_000 + 60 * i, 1.0 + (i % 7))
    data = bytearray(judge.to_bytes())
    data[8] = 1  # the adaptive state's format byte: the first engine's
    fresh = SeriesJudge("load", adaptive=AdaptiveSettings())
    with caplog.at_level("INFO"):
        assert not fresh.restore(bytes(data))
    assert "learned state of load not restored" in caplog.text
    assert fresh.adaptive is not None and fresh.adaptive.baseline.started is False
