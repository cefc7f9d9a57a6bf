"""Forecasts: a leak alerts before the limit, a log-rotation saw-tooth does not."""

from __future__ import annotations

import math
import random

import pytest
from pydantic import ValidationError

from agent.model import AlertKey, Status
from agent.thresholds.forecast import (
    Forecaster,
    ForecastSettings,
    Heading,
    hours_to_full,
    judge_forecast,
    theil_sen,
)

START = 1_704_067_200.0
MINUTE = 60.0
HOUR = 3600.0
KEY = AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))
SETTINGS = ForecastSettings.model_validate({"limit": 100, "horizon": "12h", "window": "6h"})


def minutes(hours: float, shape: object, start: float = START, noise: float = 0.05,
            seed: int = 1) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    f = shape if callable(shape) else (lambda h: float(shape))  # type: ignore[arg-type]
    return [(start + i * MINUTE, f(i / 60) + rng.gauss(0, noise))
            for i in range(int(hours * 60))]


def firing_times(samples: list[tuple[float, float]],
                 settings: ForecastSettings = SETTINGS) -> list[float]:
    state = Forecaster(settings)
    out = []
    for t, v in samples:
        state, finding = judge_forecast(state, t, v, "used_percent", KEY)
        assert finding is not None
        if finding.status.is_problem:
            out.append(t)
    return out


def test_settings_defaults_and_units() -> None:
    s = ForecastSettings.model_validate({"limit": "95%"})
    assert (s.limit, s.horizon, s.window, s.direction, s.severity) == (
        95.0, 12 * HOUR, 6 * HOUR, Heading.RISING, Status.WARNING)
    falling = ForecastSettings.model_validate({"limit": "2GiB", "direction": "falling"})
    assert falling.limit == 2 * 1024**3


@pytest.mark.parametrize(("raw", "complaint"), [
    ({}, "limit"),
    ({"limit": "lots"}, "size"),
    ({"limit": 100, "window": "10m"}, "at least 1h"),
    ({"limit": 100, "horizon": 0}, "horizon"),
    ({"limit": 100, "direction": "up"}, "direction"),
    ({"limit": 100, "severity": "ok"}, "warning or critical"),
    ({"limit": 100, "every": "1h"}, "Extra inputs"),
])
def test_bad_settings_are_refused_with_a_reason(raw: dict[str, object],
                                                complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        ForecastSettings.model_validate(raw)


def test_theil_sen_ignores_one_wild_point() -> None:
    xs = [float(i) for i in range(10)]
    ys = [2.0 * x + 1 for x in xs]
    ys[4] = 500.0
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0)
    assert intercept == pytest.approx(1.0)


def test_steady_rise_gives_hours_to_full() -> None:
    samples = minutes(8, lambda h: 40 + 2.5 * h, noise=0.0)  # at 60 after 8h, +2.5/h
    assert hours_to_full(samples, SETTINGS) == pytest.approx(16.0, rel=0.02)


@pytest.mark.parametrize("shape", [50.0, lambda h: 80 - h])
def test_flat_or_falling_use_is_never_full(shape: object) -> None:
    assert hours_to_full(minutes(8, shape), SETTINGS) is None


def test_too_little_history_gives_no_forecast() -> None:
    assert hours_to_full(minutes(2, lambda h: 40 + 10 * h), SETTINGS) is None


def test_falling_free_space_reaches_its_floor() -> None:
    settings = ForecastSettings.model_validate({"limit": 10, "direction": "falling"})
    samples = minutes(8, lambda h: 90 - 5 * h, noise=0.0)  # at 50, -5/h: floor in 8h
    assert hours_to_full(samples, settings) == pytest.approx(8.0, rel=0.02)


def test_a_slow_leak_alerts_well_before_the_disk_is_full() -> None:
    steady = minutes(48, 50.0)
    # From hour 48 the disk fills at 3 points an hour: full at hour 48 + 50/3 = 64.7.
    leak = minutes(20, lambda h: 50 + 3 * h, start=START + 48 * HOUR, seed=2)
    leak = [(t, min(v, 100.0)) for t, v in leak]
    fired = firing_times(steady + leak)
    assert fired, "the leak never alerted"
    full_at = START + (48 + 50 / 3) * HOUR
    assert full_at - fired[0] >= 6 * HOUR
    state = Forecaster(SETTINGS)
    for t, v in steady + leak:
        if t >= fired[0]:
            break
        judge_forecast(state, t, v)
    _, finding = judge_forecast(state, fired[0], 80.0, "used_percent", KEY)
    assert finding is not None
    assert finding.why.startswith("used_percent will reach 100% in about ")
    assert "(rising " in finding.why and "per hour over the last 6h)" in finding.why


def sawtooth(h: float) -> float:
    """Logs fill /var from 55 % to 95 % each day; rotation at midnight empties them."""
    return 55 + 40 * ((h % 24) / 24)


def test_a_daily_log_rotation_saw_tooth_does_not_alert() -> None:
    # On the first day nothing tells a cycle from a fill; from the first rotation on it does.
    first_day = minutes(24, sawtooth)
    later = minutes(24 * 5, lambda h: sawtooth(h + 24), start=START + 24 * HOUR, seed=3)
    fired = firing_times(first_day + later)
    assert not [t for t in fired if t >= START + 25 * HOUR]


def test_a_leak_on_top_of_a_saw_tooth_still_alerts() -> None:
    days = minutes(24 * 3, sawtooth)
    # Then rotation breaks: no drop at midnight, the logs keep growing at the usual rate.
    broken = minutes(20, lambda h: 55 + 40 * (h + 24) / 24, start=START + 72 * HOUR, seed=4)
    fired = firing_times(days + broken)
    assert [t for t in fired if t >= START + 72 * HOUR]


def test_round_trip_keeps_the_forecast() -> None:
    samples = minutes(10, lambda h: 40 + 4 * h)
    a = Forecaster(SETTINGS)
    for t, v in samples[:400]:
        judge_forecast(a, t, v)
    b = Forecaster.from_bytes(a.to_bytes(), SETTINGS)
    for t, v in samples[400:]:
        judge_forecast(a, t, v)
        judge_forecast(b, t, v)
        assert (a.hours_to_full, a.firing) == (b.hours_to_full, b.firing)
    assert a.firing


def test_restoring_with_another_window_is_refused() -> None:
    data = Forecaster(SETTINGS).to_bytes()
    with pytest.raises(ValueError, match="stored forecast state"):
        Forecaster.from_bytes(data, ForecastSettings.model_validate({"limit": 100,
                                                                     "window": "3h"}))


def test_nan_and_clock_jumps_do_not_crash() -> None:
    state = Forecaster(SETTINGS)
    samples = minutes(10, lambda h: 40 + h)
    samples[100] = (samples[100][0], math.nan)
    samples[200] = (samples[200][0], math.inf)
    for t, v in samples[:300]:
        judge_forecast(state, t, v)
    for t, v in samples[300:]:
        judge_forecast(state, t - 5 * HOUR, v)  # the clock went back five hours
    assert not state.firing
