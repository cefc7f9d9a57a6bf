"""Learned thresholds survive a restart: the judge saves them hourly and at the end, and a
new judge reading them back gives exactly the verdicts the old one would have."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.judge import Judge
from agent.config.models import AlertPolicy, CheckConfig
from agent.model import AlertKey, CheckResult, Finding, Sample, make_labels
from agent.store import Store
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings
from agent.thresholds.rules import ThresholdRule, parse_comparison

T0 = 1_700_006_400.0  # a whole hour
STEP = 300.0
DAY = 86400.0
HOST = "h1"
CYCLE = make_labels({"mount": "/"})
FILLING = make_labels({"mount": "/var"})


def _rule(sensitivity: str = "medium", window: str = "6h") -> ThresholdRule:
    return ThresholdRule(
        "used_percent", warn=parse_comparison("> 99", "used_percent"),
        adaptive=AdaptiveSettings(sensitivity=sensitivity, warmup="1d"),  # type: ignore[arg-type]
        forecast=ForecastSettings(limit=100, horizon="12h", window=window))  # type: ignore[arg-type]


def _check(rule: ThresholdRule | None = None) -> CheckConfig:
    return CheckConfig(name="disk", kind="disk", interval=STEP, timeout=10,
                       policy=AlertPolicy(), thresholds={"used_percent": rule or _rule()})


def _result(t: float) -> CheckResult:
    """A daily cycle on /, a steady fill on /var, with a spike and a jump on day 4."""
    day_part = (t - T0) % DAY / DAY
    noise = 0.7 * math.sin(t / 977.0)
    cycle = 50 + 20 * math.sin(2 * math.pi * day_part) + noise
    if 3.4 * DAY <= t - T0 < 3.4 * DAY + 1800:
        cycle += 35  # an unusual spike
    filling = 20 + 0.6 * (t - T0) / 3600 + noise
    if t - T0 >= 3.6 * DAY:
        filling += 20  # a sudden jump: full within the forecast horizon
    return CheckResult.ok("disks", samples=[Sample("used_percent", cycle, CYCLE),
                                            Sample("used_percent", filling, FILLING)])


def _times(start: float, stop: float) -> Iterator[float]:
    t = start
    while t < stop:
        yield t
        t += STEP


def _step(judge: Judge, store: Store | None, check: CheckConfig, t: float) -> list[Finding]:
    """What the agent does per result: judge, persist states, save learned state when due."""
    verdict = judge.judge(check, _result(t), t)
    if store is not None:
        store.commit(verdict.states, [])
    judge.apply(verdict)
    if store is not None:
        due = judge.learned_due(t)
        store.save_learned(due, t)
        judge.learned_saved([k for k, _ in due], t)
    return verdict.findings


def test_a_restarted_judge_gives_the_same_findings_as_one_that_ran_on(tmp_path: Path) -> None:
    check = _check()
    store = Store.open(tmp_path)
    old = Judge(HOST, store.load_states(), load_learned=store.load_learned)
    for t in _times(T0, T0 + 3 * DAY):
        _step(old, store, check, t)
    stop = T0 + 3 * DAY - STEP
    final = old.learned_due(stop, everything=True)  # what the agent saves at shutdown
    store.save_learned(final, stop)
    old.learned_saved([k for k, _ in final], stop)
    store.close()

    store = Store.open(tmp_path)
    new = Judge(HOST, store.load_states(), load_learned=store.load_learned)
    assert len(store.learned_keys("disk")) == 2
    old_findings: list[Finding] = []
    new_findings: list[Finding] = []
    for t in _times(T0 + 3 * DAY, T0 + 4 * DAY):
        old_findings += _step(old, None, check, t)
        new_findings += _step(new, store, check, t)
        if t == T0 + 3 * DAY:  # all of it came back (the last hour too): no second warm-up
            assert {k: s.to_bytes() for k, s in new.series.items()} == {
                k: s.to_bytes() for k, s in old.series.items()}
            assert all(s.adaptive is not None and s.adaptive.ready
                       for s in new.series.values())
    store.close()
    assert new_findings == old_findings
    problems = " | ".join(f.why for f in new_findings if f.status.is_problem)
    assert "is far above normal" in problems  # the spike on /
    assert "will reach 100% in about" in problems  # the fill on /var


def test_each_series_is_saved_once_per_clock_hour_and_all_unsaved_at_shutdown(
        tmp_path: Path) -> None:
    check = _check()
    judge = Judge(HOST)
    saves: list[tuple[float, list[AlertKey]]] = []
    for t in _times(T0 + 1800, T0 + 3 * 3600):
        judge.judge(check, _result(t), t)
        due = judge.learned_due(t)
        if due:
            saves.append((t, [k for k, _ in due]))
            judge.learned_saved([k for k, _ in due], t)
    cycle, filling = (AlertKey(HOST, "disk", "used_percent", lab) for lab in (CYCLE, FILLING))
    # The first sample, then the first sample of each new clock hour.
    both = [filling, cycle]  # by key text: "{mount=/v" sorts before "{mount=/}"
    assert saves == [(T0 + 1800, both), (T0 + 3600, both), (T0 + 7200, both)]
    assert judge.learned_due(T0 + 3 * 3600) == []  # nothing judged since
    shutdown = judge.learned_due(T0 + 3 * 3600, everything=True)
    assert [k for k, _ in shutdown] == both
    assert all(data == judge.series[k].to_bytes() for k, data in shutdown)
    judge.learned_saved([k for k, _ in shutdown], T0 + 3 * 3600)
    assert judge.learned_due(T0 + 3 * 3600, everything=True) == []


def test_state_unsaved_because_the_store_failed_is_due_again_with_the_next_sample() -> None:
    check = _check()
    judge = Judge(HOST)
    judge.judge(check, _result(T0), T0)
    assert len(judge.learned_due(T0)) == 2  # ... and the write failed: not marked saved
    judge.judge(check, _result(T0 + STEP), T0 + STEP)
    assert len(judge.learned_due(T0 + STEP)) == 2


def _learned_for_a_day(tmp_path: Path, rule: ThresholdRule) -> None:
    with Store.open(tmp_path) as store:
        judge = Judge(HOST, load_learned=store.load_learned)
        for t in _times(T0, T0 + DAY + 3600):
            _step(judge, store, _check(rule), t)


def test_state_learned_under_another_forecast_window_is_dropped_not_trusted(
        tmp_path: Path) -> None:
    _learned_for_a_day(tmp_path, _rule(window="6h"))
    with Store.open(tmp_path) as store:
        judge = Judge(HOST, load_learned=store.load_learned)
        t = T0 + DAY + 3600
        _step(judge, store, _check(_rule(window="3h")), t)
    assert len(judge.series) == 2
    for series in judge.series.values():
        assert series.adaptive is not None and series.forecast is not None
        assert series.adaptive.first_t == t and not series.adaptive.ready  # learning again
        assert series.forecast.cur_idx == int(t // series.forecast.bucket)
        assert math.isnan(series.forecast.slope)


@pytest.mark.parametrize("new_rule", [
    pytest.param(_rule(sensitivity="high"), id="sensitivity-changed"),
    pytest.param(_rule(), id="same-rule"),
])
def test_a_restart_keeps_what_was_learned_when_the_rule_still_fits(
        tmp_path: Path, new_rule: ThresholdRule) -> None:
    _learned_for_a_day(tmp_path, _rule())
    with Store.open(tmp_path) as store:
        judge = Judge(HOST, load_learned=store.load_learned)
        _step(judge, store, _check(new_rule), T0 + DAY + 3600)
    _assert_warmed_up(judge)


def _assert_warmed_up(judge: Judge) -> None:
    assert len(judge.series) == 2
    for series in judge.series.values():
        assert series.adaptive is not None and series.adaptive.ready
        assert series.adaptive.first_t == T0
        assert series.forecast is not None and not math.isnan(series.forecast.slope)


def test_a_rule_changed_while_running_keeps_what_was_learned_in_memory() -> None:
    judge = Judge(HOST)  # no store at all: only memory can carry the baseline over
    for t in _times(T0, T0 + DAY + 3600):
        judge.judge(_check(), _result(t), t)
    before = {k: id(s) for k, s in judge.series.items()}
    judge.judge(_check(_rule(sensitivity="low")), _result(T0 + DAY + 3600), T0 + DAY + 3600)
    assert all(id(s) != before[k] for k, s in judge.series.items())  # new rule, new judge
    _assert_warmed_up(judge)
