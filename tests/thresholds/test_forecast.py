"""Forecasts: a leak alerts before the limit, a log-rotation saw-tooth and noise do not.

The traces are what a disk or memory gauge shows (percent used, clamped to 0..100),
sampled every minute (the agent's default) and every 5 minutes (the example's disks).
"""

from __future__ import annotations

import gc
import math
import random
import re
import struct
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.alerting.judge import Judge
from agent.config.models import AlertPolicy, CheckConfig
from agent.model import AlertKey, CheckResult, Sample, Status, make_labels
from agent.store import Store
from agent.thresholds.forecast import (
    Forecaster,
    ForecastSettings,
    Heading,
    hours_to_full,
    judge_forecast,
    theil_sen,
)
from checks.disk import DiskCheck, DiskOptions

START = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
KEY = AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))
DEFAULTS = ForecastSettings(limit=100)
SETTINGS = ForecastSettings.model_validate({"limit": 100, "horizon": "12h", "window": "6h"})
STEPS = [pytest.param(60.0, id="1m"), pytest.param(300.0, id="5m")]
#: Check intervals longer than the fast trend's 5-minute buckets.
SPARSE = [pytest.param(600.0, id="10m"), pytest.param(900.0, id="15m"),
          pytest.param(1800.0, id="30m")]

Trace = list[tuple[float, float]]
Shape = Callable[[float], float]


def trace(days: float, shape: Shape, step: float, *, noise: float = 0.3, seed: int = 1,
          start: float = START) -> Trace:
    """``shape(hours since start)`` plus Gaussian noise, every ``step`` seconds, clamped."""
    rng = random.Random(seed)
    n = int(days * DAY / step)
    return [(start + i * step, min(100.0, max(0.0, shape(i * step / HOUR) + rng.gauss(0, noise))))
            for i in range(n)]


def wandering(days: float, level: float, sd: float, minutes: float, step: float, *,
              seed: int) -> Trace:
    """A flat level with noise that wanders: AR(1) with a correlation time of ``minutes``."""
    rng = random.Random(seed)
    phi = math.exp(-step / (minutes * MINUTE))
    shock = sd * math.sqrt(1 - phi * phi)
    x, out = 0.0, []
    for i in range(int(days * DAY / step)):
        x = phi * x + rng.gauss(0, shock)
        out.append((START + i * step, min(100.0, max(0.0, level + x))))
    return out


@dataclass(frozen=True)
class Alert:
    """The start of one firing forecast."""

    at_hours: float  # since START
    value: float
    status: Status
    hours_to_full: float
    why: str = ""


def alerts(samples: Trace, settings: ForecastSettings = DEFAULTS) -> list[Alert]:
    """Each time the forecast starts to fire, or turns worse."""
    state = Forecaster(settings)
    out: list[Alert] = []
    before = Status.OK
    for t, v in samples:
        state, finding = judge_forecast(state, t, v, "used_percent", KEY)
        assert finding is not None
        if finding.status.rank > before.rank:
            out.append(Alert((t - START) / HOUR, v, finding.status, state.hours_to_full or 0.0,
                             finding.why))
        before = finding.status
    return out


def leak(h: float) -> float:
    """+3 % a day from 40 %: at 82 % after 14 days, full after 20."""
    return 40 + 3 * h / 24


def sawtooth(h: float) -> float:
    """Logs fill /var from 60 % to 80 % each day; rotation at midnight empties them."""
    return 60 + 20 * ((h % 24) / 24)


def sawtooth_near_full(h: float) -> float:
    """Logs fill /var from 55 % to 95 % each day (the static crit is what speaks here)."""
    return 55 + 40 * ((h % 24) / 24)


# -- settings -------------------------------------------------------------------------------

def test_settings_defaults_and_units() -> None:
    s = ForecastSettings.model_validate({"limit": "95%"})
    assert (s.limit, s.horizon, s.window, s.direction, s.severity) == (
        95.0, 7 * DAY, 2 * DAY, Heading.RISING, Status.WARNING)
    assert (s.crit_horizon, s.crit_window) == (6 * HOUR, 2 * HOUR)
    falling = ForecastSettings.model_validate({"limit": "2GiB", "direction": "falling"})
    assert falling.limit == 2 * 1024**3


@pytest.mark.parametrize(("raw", "windows"), [
    pytest.param({"horizon": "12h"}, (12 / 3.5 * HOUR, 2 * HOUR), id="short-horizon"),
    pytest.param({"horizon": "2h", "crit_horizon": "1h"}, (HOUR, HOUR), id="at-least-1h"),
    pytest.param({"horizon": "90d"}, (7 * DAY, 2 * HOUR), id="at-most-a-week"),
    pytest.param({"horizon": "3d", "window": "1d"}, (DAY, 2 * HOUR), id="given"),
    pytest.param({"crit_horizon": "12h"}, (2 * DAY, 4 * HOUR), id="crit"),
])
def test_a_window_not_given_follows_its_horizon(raw: dict[str, object],
                                                windows: tuple[float, float]) -> None:
    s = ForecastSettings.model_validate({"limit": 100, **raw})
    assert (s.window, s.crit_window) == pytest.approx(windows)


@pytest.mark.parametrize("off", [False, None, 0, "0s"])
def test_the_critical_forecast_can_be_turned_off(off: object) -> None:
    s = ForecastSettings.model_validate({"limit": 100, "crit_horizon": off})
    assert s.crit_horizon is None
    assert [tr.severity for tr in Forecaster(s).trends] == [Status.WARNING]


@pytest.mark.parametrize(("raw", "complaint"), [
    ({}, "limit"),
    ({"limit": "lots"}, "size"),
    ({"limit": 100, "window": "10m"}, "at least 1h"),
    ({"limit": 100, "crit_window": "10m"}, "crit_window must be at least 1h"),
    ({"limit": 100, "horizon": 0}, "horizon"),
    ({"limit": 100, "horizon": "soon"}, "horizon"),
    ({"limit": 100, "direction": "up"}, "direction"),
    ({"limit": 100, "severity": "ok"}, "warning or critical"),
    ({"limit": 100, "every": "1h"}, "Extra inputs"),
])
def test_bad_settings_are_refused_with_a_reason(raw: dict[str, object],
                                                complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        ForecastSettings.model_validate(raw)


# -- the trend ------------------------------------------------------------------------------

def test_theil_sen_ignores_one_wild_point() -> None:
    xs = [float(i) for i in range(10)]
    ys = [2.0 * x + 1 for x in xs]
    ys[4] = 500.0
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0)
    assert intercept == pytest.approx(1.0)


def test_steady_rise_gives_hours_to_full() -> None:
    samples = trace(8 / 24, lambda h: 40 + 2.5 * h, MINUTE, noise=0.0)  # at 60 after 8h
    assert hours_to_full(samples, SETTINGS) == pytest.approx(16.0, rel=0.02)


@pytest.mark.parametrize("shape", [lambda h: 50.0, lambda h: 80 - h])
def test_flat_or_falling_use_is_never_full(shape: Shape) -> None:
    assert hours_to_full(trace(8 / 24, shape, MINUTE, noise=0.05), SETTINGS) is None


def test_too_little_history_gives_no_forecast() -> None:
    assert hours_to_full(trace(1 / 24, lambda h: 40 + 10 * h, MINUTE), SETTINGS) is None


def test_falling_free_space_reaches_its_floor() -> None:
    settings = ForecastSettings.model_validate({"limit": 10, "direction": "falling",
                                                "window": "6h"})
    samples = trace(8 / 24, lambda h: 90 - 5 * h, MINUTE, noise=0.0)  # at 50, -5/h
    assert hours_to_full(samples, settings) == pytest.approx(8.0, rel=0.02)


# -- what alerts, and when: the default settings on synthetic traces ----------------------

@pytest.mark.parametrize("step", STEPS)
def test_a_slow_leak_warns_a_week_before_memory_or_disk_is_full(step: float) -> None:
    # +3 % a day from 40 % to 82 % over two weeks; it would be full on day 20.
    found = alerts(trace(14, leak, step, noise=1.0), DEFAULTS)
    assert found, "the leak never alerted"
    first = found[0]
    assert first.status is Status.WARNING
    full_at = 20 * 24.0
    assert full_at - first.at_hours >= 6.5 * 24  # a week ahead, give or take a bucket
    assert first.value < 81
    assert first.hours_to_full == pytest.approx(full_at - first.at_hours, rel=0.1)
    assert [a.status for a in found] == [Status.WARNING]  # never critical: it is slow


@pytest.mark.parametrize("step", STEPS)
def test_a_slow_leak_under_a_daily_cycle_warns_a_week_ahead(step: float) -> None:
    # Memory that swings 10 points a day (busy by day, quiet at night) and leaks 3 a day.
    def shape(h: float) -> float:
        return leak(h) + 5 * math.sin(2 * math.pi * h / 24)

    found = alerts(trace(14, shape, step, noise=1.0))
    assert found and found[0].status is Status.WARNING
    assert 20 * 24.0 - found[0].at_hours >= 6 * 24


@pytest.mark.parametrize("step", STEPS)
def test_a_disk_that_fills_in_hours_is_critical_three_hours_before_it_is_full(
        step: float) -> None:
    flat = trace(2, lambda h: 50.0, step)
    # Then a runaway log: +10 % an hour, full 5 hours after it starts.
    runaway = trace(5 / 24, lambda h: 50 + 10 * h, step, seed=2, start=START + 2 * DAY)
    found = alerts(flat + runaway)
    assert found and found[0].status is Status.CRITICAL
    assert found[0].at_hours - 48 <= 2  # within two hours of the start of the fill
    assert 53 - found[0].at_hours >= 3
    assert found[0].value < 72


def rotated_daily(h: float) -> float:
    """Logs fill /var from 50 % to 65 % each day; rotation at midnight empties them."""
    return 50 + 15 * ((h % 24) / 24)


@pytest.mark.parametrize("step", [*STEPS, pytest.param(900.0, id="15m")])
def test_a_runaway_log_on_a_disk_whose_logs_rotate_daily_is_critical_in_time(
        step: float) -> None:
    # The daily fall is within the fast trend's last day, yet the runaway rises far
    # faster than the same hours did the day before: no cycle, a fill. From 57.5 % at
    # 12:00 on day 4, +10.6 % an hour: full at 16:00.
    def shape(h: float) -> float:
        return rotated_daily(h) + 10 * max(0.0, h - 84)

    found = alerts(trace(88 / 24, shape, step))
    crit = [a for a in found if a.status is Status.CRITICAL]
    assert [a for a in found if a.at_hours < 84] == []
    assert len(crit) == 1, "critical from the first page on, no flapping"
    assert crit[0].at_hours - 84 <= 2
    assert 88 - crit[0].at_hours >= 2
    assert crit[0].hours_to_full == pytest.approx(88 - crit[0].at_hours, rel=0.25)


@pytest.mark.parametrize("step", SPARSE)
def test_a_disk_that_fills_in_hours_is_critical_in_time_when_checked_rarely(
        step: float) -> None:
    # The same runaway checked every 10 to 30 minutes: fewer samples than the fast trend
    # has buckets, still a trend once they span more than half its window.
    flat = trace(2, lambda h: 50.0, step)
    runaway = trace(5 / 24, lambda h: 50 + 10 * h, step, seed=2, start=START + 2 * DAY)
    found = alerts(flat + runaway)
    assert found and found[0].status is Status.CRITICAL
    assert found[0].at_hours - 48 <= 2
    assert 53 - found[0].at_hours >= 3


@pytest.mark.parametrize("step", [*STEPS, *SPARSE])
@pytest.mark.parametrize("make", [
    pytest.param(lambda step: trace(1 / 24, lambda h: 40 + 10 * h, step), id="the-first-hour"),
    pytest.param(lambda step: trace(2, lambda h: 50.0, step)
                 + trace(1 / 24, lambda h: 50 + 10 * h, step, start=START + 2 * DAY + 2 * HOUR),
                 id="an-hour-after-a-2h-gap"),
])
def test_half_a_window_or_less_gives_no_fast_forecast_at_any_interval(
        step: float, make: Callable[[float], Trace]) -> None:
    state = Forecaster(DEFAULTS)
    for t, v in make(step):
        judge_forecast(state, t, v)
    state.flush()
    fast = state.trends[1]
    assert fast.hours_to_full is None and math.isnan(fast.slope)


@pytest.mark.parametrize("step", STEPS)
def test_a_disk_that_fills_on_its_first_day_warns_in_time_without_paging(
        step: float) -> None:
    # Nothing tells a first busy morning from a fill yet: a warning, 3 hours before full.
    flat = trace(3 / 24, lambda h: 50.0, step)
    runaway = trace(5 / 24, lambda h: 50 + 10 * h, step, seed=2, start=START + 3 * HOUR)
    found = alerts(flat + runaway)
    assert [a.status for a in found] == [Status.WARNING]
    assert 8 - found[0].at_hours >= 3


def ramp(h: float) -> float:
    """Memory of an app server: 40 % at night, up to 75 % from 08:00 to 12:00, down at 20:00."""
    d = h % 24
    if d < 8 or d >= 22:
        return 40.0
    if d < 12:
        return 40 + 35 * (d - 8) / 4
    if d < 20:
        return 75.0
    return 75 - 35 * (d - 20) / 2


@pytest.mark.parametrize("step", STEPS)
def test_a_daily_memory_ramp_never_pages_and_is_quiet_after_its_first_day(
        step: float) -> None:
    found = alerts(trace(14, ramp, step, noise=1.0))
    assert all(a.status is Status.WARNING for a in found)
    assert [a for a in found if a.at_hours >= 24] == []


@pytest.mark.parametrize("step", STEPS)
def test_a_log_rotation_saw_tooth_stays_quiet_for_three_weeks(step: float) -> None:
    assert alerts(trace(21, sawtooth, step)) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_saw_tooth_near_full_is_quiet_from_its_first_rotation_on(step: float) -> None:
    # On the first day nothing tells a cycle from a fill (95 % and rising 1.7 an hour is
    # 3 hours from full); from the first rotation on it does.
    found = alerts(trace(7, sawtooth_near_full, step))
    assert [a for a in found if a.at_hours >= 25] == []


@pytest.mark.parametrize("step", STEPS)
def test_a_leak_on_top_of_a_saw_tooth_still_alerts(step: float) -> None:
    days = trace(3, sawtooth_near_full, step)
    # Then rotation breaks: no drop at midnight, the logs keep growing at the usual rate.
    broken = trace(20 / 24, lambda h: 55 + 40 * (h + 24) / 24, step, seed=4,
                   start=START + 3 * DAY)
    found = alerts(days + broken)
    assert [a for a in found if a.at_hours >= 72]


def rotation_stops(rate: float, days: float = 14) -> Shape:
    """/var fills ``rate`` points a day from 50 % and is rotated every midnight, until
    logrotate breaks after ``days``: from then on it keeps filling at the same rate."""
    def shape(h: float) -> float:
        d = h / 24
        return 50 + rate * (d % 1 if d < days else d - days)
    return shape


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("rate", [10.0, 15.0, 25.0])
def test_a_log_rotation_that_stops_warns_within_a_day_of_the_missed_rotation(
        step: float, rate: float) -> None:
    # The first rotation missed is at day 15 00:00; full at day 14 + 50 / rate.
    full_at = (14 + 50 / rate) * 24
    found = alerts(trace(14 + 50 / rate, rotation_stops(rate), step, noise=0.05))
    assert found, "the fill never alerted"
    first = found[0]
    assert first.status is Status.WARNING
    assert 15 * 24 <= first.at_hours <= 15 * 24 + 6
    assert first.hours_to_full == pytest.approx(full_at - first.at_hours, rel=0.1)
    # It speaks of the fill it was fitted over (about a day, since the last fall), not of
    # the whole two days' window that holds the fall too.
    assert f"rising {rate:g}% a day over the last 1d " in first.why


def jittered(step: float, days: float, minutes: float, *, seed: int = 1) -> Trace:
    """A saw-tooth of 15 points a day from 50 % rotated at a random time up to ``minutes``
    either side of midnight."""
    rng = random.Random(seed)
    cuts = [0.0] + [d * DAY + rng.uniform(-minutes, minutes) * MINUTE
                    for d in range(1, int(days) + 2)]
    out = []
    for i in range(int(days * DAY / step)):
        t = i * step
        last = max(c for c in cuts if c <= t)
        out.append((START + t, 50 + 15 * (t - last) / DAY + rng.gauss(0, 0.05)))
    return out


def staging(h: float) -> float:
    """A nightly backup writes a 20-point dump to /var from 01:00 to 03:00, uploads and
    deletes it at 03:30."""
    d = h % 24
    return 55 + (0 if d < 1 else 10 * (d - 1) if d < 3 else 20 if d < 3.5 else 0)


def staging_early_or_late(h: float) -> float:
    """The staging file of a backup that starts up to an hour early or late each night."""
    return staging(h - random.Random(int(h // 24)).uniform(-1, 1))


@pytest.mark.parametrize("step", [*STEPS, pytest.param(900.0, id="15m")])
@pytest.mark.parametrize(("make", "quiet_after"), [
    pytest.param(lambda step: trace(14, lambda h: 60 + 4 * (h % 6) / 6, step, noise=0.05),
                 0, id="rotated-every-6h"),
    pytest.param(lambda step: jittered(step, 14, 60), 0, id="rotated-at-midnight-give-or-take-1h"),
    pytest.param(lambda step: jittered(step, 14, 90, seed=3), 0,
                 id="rotated-at-midnight-give-or-take-90m"),
    pytest.param(lambda step: trace(14, staging, step, noise=0.05), 24, id="nightly-staging-file"),
    pytest.param(lambda step: trace(14, staging_early_or_late, step, noise=0.05), 24,
                 id="nightly-staging-file-up-to-an-hour-early-or-late"),
    pytest.param(lambda step: trace(14, lambda h: staging(h) - 55 + rotated_daily(h), step,
                                    noise=0.05), 24,
                 id="nightly-staging-file-on-a-rotated-disk"),
    pytest.param(lambda step: trace(14, lambda h: 50 + 15 * ((h / 36) % 1), step, noise=0.05),
                 36, id="rotated-every-36h"),
    pytest.param(lambda step: [(t, v) for t, v in trace(10, sawtooth, step)
                               if not 5 * DAY <= t - START < 6 * DAY], 0,
                 id="a-day-missing"),
    pytest.param(lambda step: trace(21, lambda h: 55 + (20 if h % 168 < 120 else 8)
                                    * ((h % 24) / 24), step), 0,
                 id="quieter-at-weekends"),
])
def test_saw_tooth_variants_stay_quiet(step: float, make: Callable[[float], Trace],
                                       quiet_after: float) -> None:
    # Whatever a first day shows before its first fall, no forecast from then on.
    assert [a for a in alerts(make(step)) if a.at_hours >= quiet_after] == []


@pytest.mark.parametrize("step", [*STEPS, *SPARSE])
@pytest.mark.parametrize("noisy", [
    pytest.param(lambda step: trace(14, lambda h: 85.0, step, noise=3.0, seed=3),
                 id="85pct-noise-3"),
    pytest.param(lambda step: trace(14, lambda h: 60.0, step, noise=8.0, seed=8),
                 id="60pct-noise-8"),
    pytest.param(lambda step: wandering(14, 85.0, 3.0, 100, step, seed=0),
                 id="85pct-wandering-for-100-minutes"),
])
def test_a_noisy_flat_series_stays_quiet_for_two_weeks(
        step: float, noisy: Callable[[float], Trace]) -> None:
    assert alerts(noisy(step)) == []


@pytest.mark.parametrize("step", [*STEPS, *SPARSE])
@pytest.mark.parametrize("make", [
    pytest.param(lambda step: trace(3, lambda h: 50.0, step)
                 + trace(3, lambda h: 62.0, step, seed=5, start=START + 3 * DAY + 8 * HOUR),
                 id="agent-down-8h-comes-back-higher"),
    pytest.param(lambda step: trace(3, lambda h: 50.0, step)
                 + trace(3, lambda h: 62.0, step, seed=5, start=START + 3 * DAY),
                 id="one-off-copy-of-12pct"),
    pytest.param(lambda step: [(t + (6 * HOUR if 3 * DAY <= t - START < 3 * DAY + HOUR else 0.0)
                                - (5 * HOUR if t - START >= 4 * DAY else 0.0), v)
                               for t, v in trace(6, lambda h: 70.0, step, noise=1.0)],
                 id="clock-6h-ahead-for-an-hour-then-5h-back"),
    pytest.param(lambda step: [(t, v) for t, v in trace(6, lambda h: 70.0, step, noise=1.0)
                               if not DAY <= t - START < 2.5 * DAY],
                 id="a-day-and-a-half-missing"),
])
def test_gaps_steps_and_clock_jumps_do_not_make_a_forecast(
        step: float, make: Callable[[float], Trace]) -> None:
    assert alerts(make(step)) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_slow_leak_with_a_day_missing_still_warns_a_week_ahead(step: float) -> None:
    samples = [(t, v) for t, v in trace(14, leak, step, noise=1.0)
               if not 5 * DAY <= t - START < 6 * DAY]
    found = alerts(samples)
    assert found and 20 * 24.0 - found[0].at_hours >= 6.5 * 24


@pytest.mark.parametrize(("make", "status", "rate"), [
    pytest.param(lambda: trace(2, lambda h: 50.0, MINUTE)
                 + trace(3 / 24, lambda h: 50 + 10 * h, MINUTE, start=START + 2 * DAY),
                 Status.CRITICAL, r"\(rising (9\.\d+|10(\.\d+)?)% per hour over the last 2h\)",
                 id="fast"),
    pytest.param(lambda: trace(13.5, leak, 300.0, noise=0.0),
                 Status.WARNING, r"\(rising 3% a day over the last 2d\)", id="slow"),
    pytest.param(lambda: trace(12, lambda h: leak(h) + 15 * ((h % 24) / 24), 300.0,
                               noise=0.0),
                 Status.WARNING, r"\(rising 3% a day, day over day\)", id="saw-tooth"),
])
def test_the_message_says_when_and_how_fast(make: Callable[[], Trace], status: Status,
                                            rate: str) -> None:
    state = Forecaster(DEFAULTS)
    finding = None
    for t, v in make():
        state, finding = judge_forecast(state, t, v, "used_percent", KEY)
    assert finding is not None and finding.status is status
    assert finding.why.startswith("used_percent will reach 100% in about ")
    assert re.search(rate + "$", finding.why), finding.why


def test_a_firing_forecast_resolves_once_the_fill_stops() -> None:
    flat = trace(2, lambda h: 50.0, MINUTE)
    runaway = trace(2 / 24, lambda h: 50 + 10 * h, MINUTE, start=START + 2 * DAY)
    calm = trace(1, lambda h: 70.0, MINUTE, start=START + 2 * DAY + 2 * HOUR)
    state = Forecaster(DEFAULTS)
    seen = []
    for t, v in flat + runaway + calm:
        judge_forecast(state, t, v)
        seen.append(state.status)
    assert Status.CRITICAL in seen and seen[-1] is Status.OK


# -- state ----------------------------------------------------------------------------------

def test_round_trip_keeps_the_forecast() -> None:
    samples = trace(3, lambda h: 40 + 0.5 * h, MINUTE)
    a = Forecaster(DEFAULTS)
    for t, v in samples[:2000]:
        judge_forecast(a, t, v)
    b = Forecaster.from_bytes(a.to_bytes(), DEFAULTS)
    for t, v in samples[2000:]:
        judge_forecast(a, t, v)
        judge_forecast(b, t, v)
        assert (a.hours_to_full, a.status) == (b.hours_to_full, b.status)
    assert a.firing


def test_a_state_restored_after_a_rotation_stopped_says_what_the_original_says() -> None:
    samples = trace(15.5, rotation_stops(10.0), 300.0, noise=0.05)
    a = Forecaster(DEFAULTS)
    for t, v in samples[:-12]:
        judge_forecast(a, t, v)
    b = Forecaster.from_bytes(a.to_bytes(), DEFAULTS)
    for t, v in samples[-12:]:
        _, found_a = judge_forecast(a, t, v, "used_percent", KEY)
        _, found_b = judge_forecast(b, t, v, "used_percent", KEY)
        assert found_a is not None and found_b is not None
        assert found_b.why == found_a.why
    assert found_a is not None and " over the last 1d " in found_a.why


@pytest.mark.parametrize("junk", [math.nan, math.inf, -math.inf, 1e308, 0.0])
def test_a_stored_state_with_junk_means_is_refused_or_restored_never_a_crash(
        junk: float) -> None:
    state = Forecaster(DEFAULTS)
    for t, v in trace(2, leak, 300.0):
        judge_forecast(state, t, v)
    data = bytearray(state.to_bytes())
    slots = state.trends[-1]._slots  # the last trend's means are stored last
    data[len(data) - 8 * slots:] = struct.pack(f"<{slots}d", *([junk] * slots))
    try:
        restored = Forecaster.from_bytes(bytes(data), DEFAULTS)
    except ValueError:
        return
    judge_forecast(restored, START + 2 * DAY, 50.0)


def test_the_state_of_a_series_is_a_few_kilobytes_however_long_it_runs() -> None:
    samples = trace(3.5, leak, 300.0)  # every bucket of both trends filled, a day over
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        state = Forecaster(DEFAULTS)
        for t, v in samples:
            judge_forecast(state, t, v)
        gc.collect()
        grown = sum(d.size_diff for d in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 12 * 1024  # measured: about 7.5 KB
    assert len(state.to_bytes()) < 6 * 1024  # stored: 5.7 KB


def test_a_restart_keeps_how_old_the_history_is() -> None:
    # Restarted after two quiet days, a runaway fill still pages: not a first day again.
    flat = trace(2, lambda h: 50.0, MINUTE)
    runaway = trace(3 / 24, lambda h: 50 + 10 * h, MINUTE, seed=2, start=START + 2 * DAY)
    state = Forecaster(DEFAULTS)
    for t, v in flat:
        judge_forecast(state, t, v)
    state = Forecaster.from_bytes(state.to_bytes(), DEFAULTS)
    seen = set()
    for t, v in runaway:
        judge_forecast(state, t, v)
        seen.add(state.status)
    assert Status.CRITICAL in seen


@pytest.mark.parametrize("other", [
    {"limit": 100, "window": "3h"},
    {"limit": 100, "crit_window": "3h"},
    {"limit": 100, "crit_horizon": False},
])
def test_restoring_with_another_window_is_refused(other: dict[str, object]) -> None:
    data = Forecaster(DEFAULTS).to_bytes()
    with pytest.raises(ValueError, match="stored forecast state"):
        Forecaster.from_bytes(data, ForecastSettings.model_validate(other))


def test_nan_and_clock_jumps_do_not_crash() -> None:
    state = Forecaster(SETTINGS)
    samples = trace(10 / 24, lambda h: 40 + h, MINUTE)
    samples[100] = (samples[100][0], math.nan)
    samples[200] = (samples[200][0], math.inf)
    for t, v in samples[:300]:
        judge_forecast(state, t, v)
    for t, v in samples[300:]:
        judge_forecast(state, t - 5 * HOUR, v)  # the clock went back five hours
    assert not state.firing


def test_a_disk_check_s_default_forecast_survives_a_restart(tmp_path: Path) -> None:
    """The leak of a disk check with no thresholds configured, the agent restarted on day
    12, half a day before it warns: the warning comes when it would have without the
    restart, a week ahead."""
    rules = DiskCheck.default_thresholds(DiskOptions(path="/"))
    check = CheckConfig(name="disks", kind="disk", interval=300.0, timeout=10.0,
                        policy=AlertPolicy(), thresholds=rules)
    labels = make_labels({"mount": "/var"})
    samples = trace(14, leak, 300.0, noise=1.0)

    def warned_at(restart_at: float | None) -> float | None:
        store = Store.open(tmp_path / str(restart_at))
        judge = Judge("web1", load_learned=store.load_learned)
        for t, v in samples:
            if restart_at is not None and t >= restart_at:
                final = judge.learned_due(t, everything=True)  # saved at shutdown
                store.save_learned(final, t)
                store.close()
                store = Store.open(tmp_path / str(restart_at))
                judge = Judge("web1", load_learned=store.load_learned)
                restart_at = None
            result = CheckResult.ok("disks", samples=[Sample("used_percent", v, labels)])
            verdict = judge.judge(check, result, t)
            judge.apply(verdict)
            due = judge.learned_due(t)
            store.save_learned(due, t)
            judge.learned_saved([k for k, _ in due], t)
            if verdict.status is Status.WARNING:
                store.close()
                return (t - START) / HOUR
        store.close()
        return None

    uninterrupted = warned_at(None)
    assert uninterrupted is not None and 20 * 24 - uninterrupted >= 6.5 * 24
    # A state lost at the restart would need another day of history: a later warning.
    assert warned_at(START + 12.5 * DAY) == uninterrupted
