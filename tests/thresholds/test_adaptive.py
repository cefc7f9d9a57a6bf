"""Learned thresholds on synthetic traces: seasonality, shifts, warm-up, odd input, restarts."""

from __future__ import annotations

import gc
import math
import random
import time
import tracemalloc
from collections.abc import Callable, Iterable

import pytest
from pydantic import ValidationError

from agent.model import AlertKey, Status
from agent.thresholds.adaptive import (
    ABOVE,
    BELOW,
    HELD,
    HIGHER,
    IGNORED,
    LEARNING,
    NORMAL,
    PROBLEM_CODES,
    AdaptiveSettings,
    AdaptiveState,
    Code,
    Deviation,
    Direction,
    Sensitivity,
    judge,
)
from agent.units import format_value

START = 1_704_067_200.0  # Mon 2024-01-01 00:00 UTC
STEP = 300.0             # five-minute samples
DAY = 86400.0


def trace(days: float, shape: Callable[[float], float], seed: int = 1,
          noise: float = 1.0) -> list[tuple[float, float]]:
    """(t, value) every 5 minutes from START; ``shape`` gets seconds since START."""
    rng = random.Random(seed)
    n = int(days * DAY / STEP)
    return [(START + i * STEP, shape(i * STEP) + rng.gauss(0, noise)) for i in range(n)]


def daily_cycle(s: float) -> float:
    """Busy afternoons, quiet nights, and a nightly backup at 02:00-02:15."""
    minute = (s % DAY) / 60
    value = 100 + 30 * math.sin(2 * math.pi * (minute - 480) / 1440)
    return value + (150 if 120 <= minute < 135 else 0)


def run(state: AdaptiveState, samples: Iterable[tuple[float, float]]) -> list[Code]:
    return [state.observe(t, v) for t, v in samples]


def episodes(codes: list[Code]) -> int:
    """How many times the verdict turned into a problem (= alerts that would fire)."""
    count, before = 0, False
    for c in codes:
        now = c in PROBLEM_CODES
        count += now and not before
        before = now
    return count


def fresh(**settings: object) -> AdaptiveState:
    return AdaptiveState(AdaptiveSettings.model_validate(settings), "response_ms",
                         utc_offset=0.0)


# -- settings ----------------------------------------------------------------------------

def test_defaults_are_medium_both_ten_percent_one_day() -> None:
    s = AdaptiveSettings()
    assert (s.sensitivity, s.direction, s.min_deviation, s.warmup, s.cooldown, s.severity) == (
        Sensitivity.MEDIUM, Direction.BOTH, Deviation(0.10, True), 86400.0, 3600.0,
        Status.WARNING)


@pytest.mark.parametrize(("raw", "field", "expected"), [
    ({"sensitivity": "High"}, "sensitivity", Sensitivity.HIGH),
    ({"direction": "below"}, "direction", Direction.BELOW),
    ({"min_deviation": "5%"}, "min_deviation", Deviation(0.05, True)),
    ({"min_deviation": 50}, "min_deviation", Deviation(50.0, False)),
    ({"min_deviation": "2.5"}, "min_deviation", Deviation(2.5, False)),
    ({"warmup": "2d"}, "warmup", 172800.0),
    ({"warmup": "36h"}, "warmup", 129600.0),
    ({"cooldown": "15m"}, "cooldown", 900.0),
    ({"severity": "critical"}, "severity", Status.CRITICAL),
])
def test_settings_parse_what_users_write(raw: dict[str, object], field: str,
                                         expected: object) -> None:
    assert getattr(AdaptiveSettings.model_validate(raw), field) == expected


@pytest.mark.parametrize(("raw", "complaint"), [
    ({"sensitivity": "extreme"}, "sensitivity"),
    ({"direction": "sideways"}, "direction"),
    ({"min_deviation": "ten"}, "10%"),
    ({"min_deviation": -1}, "positive"),
    ({"warmup": "soon"}, "duration"),
    ({"severity": "ok"}, "warning or critical"),
    ({"treshold": 3}, "Extra inputs"),
])
def test_settings_reject_bad_input_with_a_reason(raw: dict[str, object],
                                                 complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        AdaptiveSettings.model_validate(raw)


# -- behaviour ---------------------------------------------------------------------------

def test_no_adaptive_alert_during_warmup() -> None:
    state = fresh(warmup="1d")
    samples = trace(0.9, lambda s: 100.0)
    samples[200] = (samples[200][0], 10_000.0)
    codes = run(state, samples)
    assert set(codes) == {LEARNING}


def test_spike_at_an_unusual_hour_alerts_but_not_at_the_usual_hour() -> None:
    history = trace(10, daily_cycle)
    usual = fresh()
    unusual = fresh()
    run(usual, history)
    run(unusual, history)
    day = START + 10 * DAY
    # The day after: the backup's spike at 02:05 is normal, the same spike at 14:05 is not.
    normal_night = run(usual, [(day + i * STEP, daily_cycle(i * STEP)) for i in range(30)])
    assert episodes(normal_night) == 0
    afternoon = [(day + i * STEP, daily_cycle(i * STEP)) for i in range(170)]
    afternoon[-1] = (afternoon[-1][0], 250.0)  # Thu 14:05
    codes = run(unusual, afternoon)
    assert codes[-1] == ABOVE
    why = unusual.explain(codes[-1], *afternoon[-1])
    assert why.startswith("response_ms 250ms is far above normal for Thu 14:00 (usually ")
    # Ten days known: the profile of 14:00 speaks, and the alert says how young it is.
    assert why.endswith(" at 14:00; learned over 10d)")


@pytest.mark.parametrize(("days", "learned"), [(3, "; learned over 3d"),
                                               (27, "; learned over 27d"), (29, "")])
def test_an_alert_says_how_long_the_metric_was_learned_until_four_weeks(
        days: int, learned: str) -> None:
    state = fresh()
    run(state, trace(days, daily_cycle))
    t = START + days * DAY + 14 * 3600 + 5 * 60  # 14:05, the afternoon after
    run(state, [(t - STEP * (12 - i), daily_cycle(14 * 3600 - STEP * (12 - i)))
                for i in range(12)])
    assert state.observe(t, 250.0) == ABOVE
    why = state.explain(ABOVE, t, 250.0)
    assert why.startswith("response_ms 250ms is far above normal for ")
    assert why.endswith(f"{learned})") and "learned" not in why.removesuffix(f"{learned})")


def test_level_shift_alerts_once_then_adapts_within_bounded_time() -> None:
    state = fresh()
    codes = run(state, trace(3, lambda s: 50.0))
    assert episodes(codes) == 0
    shifted = trace(4, lambda s: 80.0, seed=2)
    codes = run(state, [(t + 3 * DAY, v) for t, v in shifted])
    assert episodes(codes) == 1
    assert codes[0] == ABOVE
    last_problem = max(i for i, c in enumerate(codes) if c in PROBLEM_CODES)
    # Normal again once the new level has lasted about 5 % of a week, plus the cooldown.
    assert last_problem * STEP <= 12 * 3600


@pytest.mark.parametrize(("direction", "jump", "expected"), [
    ("both", +60.0, ABOVE), ("both", -45.0, BELOW),
    ("above", +60.0, ABOVE), ("above", -45.0, NORMAL),
    ("below", +60.0, NORMAL), ("below", -45.0, BELOW),
])
def test_direction_decides_which_side_is_a_problem(direction: str, jump: float,
                                                   expected: Code) -> None:
    state = fresh(direction=direction)
    run(state, trace(3, lambda s: 50.0))
    assert state.observe(START + 3 * DAY, 50.0 + jump) == expected


@pytest.mark.parametrize(("sensitivity", "alerts"), [
    ("low", False), ("medium", True), ("high", True),
])
def test_sensitivity_sets_how_far_out_counts(sensitivity: str, alerts: bool) -> None:
    # Normal 40..60; 68 is 8 beyond: more than a quarter of the range, less than half.
    state = fresh(sensitivity=sensitivity)
    run(state, trace(3, lambda s: 50 + 10 * math.sin(s / 3600), noise=0.0))
    code = state.observe(START + 3 * DAY, 68.0)
    assert (code == ABOVE) is alerts


def test_min_deviation_keeps_a_flat_metric_quiet() -> None:
    state = fresh()  # 10 %: a change of 1 % of a steady 200 is noise
    codes = run(state, trace(5, lambda s: 200.0, noise=0.1))
    codes += run(state, [(START + 5 * DAY, 202.0), (START + 5 * DAY + STEP, 198.0)])
    assert episodes(codes) == 0
    assert state.observe(START + 5 * DAY + 2 * STEP, 260.0) == ABOVE


def test_absolute_min_deviation_is_in_the_metric_unit() -> None:
    state = fresh(min_deviation=100)
    run(state, trace(3, lambda s: 200.0, noise=0.1))
    assert state.observe(START + 3 * DAY, 290.0) == NORMAL
    assert state.observe(START + 3 * DAY + STEP, 310.0) == ABOVE


def test_a_perfectly_flat_line_never_alerts() -> None:
    state = fresh()
    assert episodes(run(state, trace(10, lambda s: 7.0, noise=0.0))) == 0


def test_one_spike_cannot_drag_the_normal_range() -> None:
    state = fresh()
    run(state, trace(3, lambda s: 50.0))
    before = state.baseline.band
    spiky = trace(1, lambda s: 50.0, seed=3)
    spiky[10] = (spiky[10][0], 5000.0)
    run(state, [(t + 3 * DAY, v) for t, v in spiky])
    after = state.baseline.band
    assert before is not None and after is not None
    assert after.hi < before.hi + 2


def test_a_ragged_anomaly_is_one_episode() -> None:
    state = fresh(cooldown="1h")
    run(state, trace(3, lambda s: 50.0))
    t0 = START + 3 * DAY
    ragged = [(t0 + i * STEP, 200.0 if i % 3 == 0 else 50.0) for i in range(10)]
    calm = [(t0 + (10 + i) * STEP, 50.0) for i in range(20)]
    codes = run(state, ragged + calm)
    assert episodes(codes) == 1
    assert HELD in codes
    assert codes[-1] == NORMAL


def test_missing_samples_do_not_crash_or_storm() -> None:
    state = fresh()
    samples = [s for i, s in enumerate(trace(10, daily_cycle)) if (i // 24) % 5 != 0]
    assert episodes(run(state, samples)) == 0


def test_a_gap_longer_than_a_week_warms_up_again() -> None:
    state = fresh()
    run(state, trace(3, lambda s: 50.0))
    later = START + 20 * DAY
    codes = run(state, [(later + i * STEP, 500.0) for i in range(100)])
    assert set(codes) == {LEARNING}


@pytest.mark.parametrize("jump", [-3 * 3600.0, -2 * DAY, -30.0])
def test_a_clock_set_back_moves_history_with_it(jump: float) -> None:
    # The samples keep coming in true time; only their stamps jump back.
    state = fresh()
    before = trace(4, daily_cycle)
    after = [(t + 4 * DAY + jump, daily_cycle(t - START)) for t, _ in trace(3, lambda s: 0.0)]
    codes = run(state, before) + run(state, after)
    assert episodes(codes) == 0
    assert state.ready


@pytest.mark.parametrize("jump", [5 * 3600.0, 2 * DAY, 6 * DAY])
def test_a_clock_jumping_forward_is_a_gap(jump: float) -> None:
    state = fresh()
    before = trace(4, daily_cycle)
    after = [(t + 4 * DAY + jump, daily_cycle(t - START + jump))
             for t, _ in trace(3, lambda s: 0.0)]
    assert episodes(run(state, before) + run(state, after)) == 0


def test_nan_and_infinity_are_not_learned_nor_alerted() -> None:
    state = fresh()
    run(state, trace(3, lambda s: 50.0))
    band = state.baseline.band
    t = START + 3 * DAY
    codes = [state.observe(t + i, v) for i, v in enumerate([math.nan, math.inf, -math.inf])]
    assert codes == [IGNORED] * 3
    assert state.baseline.band == band
    assert state.observe(t + 10, 500.0) == ABOVE
    assert state.observe(t + 20, math.nan) == HELD  # an ongoing anomaly stays one


def test_round_trip_gives_identical_later_verdicts() -> None:
    samples = trace(12, daily_cycle)
    samples[3300] = (samples[3300][0], 900.0)
    original = fresh()
    run(original, samples[:2000])
    data = original.to_bytes()
    restored = AdaptiveState.from_bytes(data, original.settings, "response_ms", 0.0)
    assert len(data) < 16_000
    rest = samples[2000:]
    a = [(c, original.explain(c, t, v)) for (t, v), c in zip(rest, run(original, rest),
                                                              strict=True)]
    b = [(c, restored.explain(c, t, v)) for (t, v), c in zip(rest, run(restored, rest),
                                                             strict=True)]
    assert a == b
    assert any(c == ABOVE for c, _ in a)


@pytest.mark.parametrize("garbage", [b"", b"\x01", b"\x07" + bytes(100),
                                     b"\x05" + bytes(230),  # the fields of format 5 cut
                                     b"\x05" + bytes(300),  # ... a baseline of zeros
                                     AdaptiveState().to_bytes()[:-5]])
def test_corrupt_stored_state_is_a_clear_error(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="stored"):
        AdaptiveState.from_bytes(garbage)


def test_memory_per_metric_stays_under_50_kb_however_long_it_runs() -> None:
    def footprint(days: int) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            state = AdaptiveState(utc_offset=0.0)
            step = 60.0  # one-minute samples
            observe = state.observe
            for i in range(int(days * DAY / step)):
                observe(START + i * step, 50.0 + (i % 97))
            gc.collect()
            size, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert state.baseline.band is not None
        return size

    three_weeks, six_weeks = footprint(21), footprint(42)
    assert three_weeks < 50_000
    assert six_weeks < 50_000
    assert abs(six_weeks - three_weeks) < 2_000


def test_judge_gives_a_finding_with_the_reason() -> None:
    state = fresh()
    run(state, trace(3, lambda s: 120.0 + 30 * math.sin(s / 5000), noise=0.5))
    state, verdict = judge(state, START + 3 * DAY + 14 * 3600, 840.0)
    assert verdict.status is Status.WARNING and verdict.code == ABOVE
    finding = verdict.finding(AlertKey("web1", "shop", "response_ms"))
    assert finding.status is Status.WARNING
    assert finding.why.startswith("response_ms 840ms is far above normal for Thu 14:00 (usually")
    assert finding.threshold == f"usual {verdict.usual}"
    assert finding.value == 840.0


def test_hours_follow_the_given_time_zone() -> None:
    state = AdaptiveState(utc_offset=2 * 3600.0)
    assert state.when(START + 12 * 3600) == "Mon 14:00"


def test_hours_follow_the_hosts_zone_across_a_daylight_saving_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        state = AdaptiveState()  # no offset given: the host's zone
        switch = 1_711_846_800  # 2024-03-31 01:00 UTC: 02:00 CET becomes 03:00 CEST
        for t in range(switch - 3 * 3600, switch + 3 * 3600, 600):
            state.observe(float(t), 5.0)
            offset = 3600 if t < switch else 7200
            assert state.baseline.cur_hour == (t + offset) // 3600
        assert state.when(switch + 600.0) == "Sun 03:00"
    finally:
        monkeypatch.undo()  # TZ as it was (set or not), then the zone read from it again
        time.tzset()


def test_learning_verdict_says_how_far_along() -> None:
    state = fresh()
    _, verdict = judge(state, START, 5.0)
    _, verdict = judge(state, START + 6 * 3600, 5.0)
    assert verdict.status is Status.OK
    assert verdict.why == "response_ms 5ms: learning what is normal (6h of 1d)"


def test_a_level_alert_speaks_of_its_mean_and_a_calm_value_of_how_near_it_is() -> None:
    state = fresh()
    run(state, trace(8, lambda s: 50.0 + (s % 600) / 100))  # 50-56 every ten minutes
    t = START + 8 * DAY
    codes = run(state, [(t + i * STEP, 80.0 + (i % 2) * 1.0) for i in range(12)])
    assert ABOVE in codes
    level = state.explain(HIGHER, t + 12 * STEP, 80.0)
    assert level.startswith("response_ms is on a level far above normal: the last hour ")
    # After it, a value above the usual range but under the limit is no longer far above;
    # one within the range is back within normal.
    assert state.baseline.band is not None
    upper, hi = state.upper, state.baseline.band.hi
    between = (hi + upper) / 2
    assert hi < between < upper
    assert state.explain(HELD, t + 13 * STEP, between).startswith(
        f"response_ms {format_value('response_ms', between)} is no longer far above normal")
    assert state.explain(HELD, t + 13 * STEP, 52.0).startswith(
        "response_ms 52ms is back within normal")
