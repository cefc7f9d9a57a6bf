"""Surges, busy hours and aftermaths, on synthetic traces at one- and five-minute steps.

A bursty metric (counts of events: its ordinary day has a burst far above the band) sets
a wide margin, so hours of a surge can stay under it: the last hours together, far above
the same hours of the last days, alert. A busy hour of the usual bursts lifts that hour's
mean, but is one more burst, not a new level. And an hour above normal soon after an
anomaly is its aftermath: one event, one alert.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from agent.thresholds.adaptive import (
    ABOVE,
    BELOW,
    HIGHER,
    LOWER,
    PROBLEM_CODES,
    AdaptiveState,
    Code,
)
from agent.thresholds.adaptive_codes import bursty

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
HOUR = 3600
DAY = 86400
STEPS = [60, 300]
#: The day of the event: four weeks in, and two weeks after the bursts were learned.
EVENT = 31
LEARNED = 14
Shape = Callable[[float, random.Random], float]


def traffic(t: float, rng: random.Random) -> float:
    """A daily cycle from 15 at night to 100 in the afternoon, noise of a few percent."""
    hod = (t % DAY) / HOUR
    level = 15 + 85 * max(0.0, math.sin(math.pi * (hod - 5) / 19)) if hod >= 5 else 15.0
    return level * (1 + rng.gauss(0, 0.03))


def counts(step: int) -> Shape:
    """``traffic`` counted: whole numbers, and a burst of about four times it once a day
    at a random time."""
    def shape(t: float, rng: random.Random) -> float:
        v = traffic(t, rng)
        if rng.random() < step / DAY:
            v *= rng.uniform(3.5, 4.5)
        return float(round(v))
    return shape


def during(shape: Shape, change: Callable[[float, float, random.Random], float],
           start_hour: float, end_hour: float) -> Shape:
    """``shape``, but ``change(t, value, rng)`` on day EVENT from ``start_hour`` to
    ``end_hour``."""
    def changed(t: float, rng: random.Random) -> float:
        v = shape(t, rng)
        into = t - START - EVENT * DAY
        return change(t, v, rng) if start_hour * HOUR <= into < end_hour * HOUR else v
    return changed


def run(shape: Shape, days: float, step: int) -> tuple[AdaptiveState, list[tuple[float, Code]]]:
    """Replay ``days`` of ``shape``; the state and where each new alert began (days from
    START, and its code)."""
    rng = random.Random(1)
    state = AdaptiveState(metric="requests", utc_offset=0)
    out: list[tuple[float, Code]] = []
    prev = False
    for i in range(int(days * DAY / step)):
        t = START + i * step
        code = state.observe(t, shape(t, rng))
        now = code in PROBLEM_CODES
        if now and not prev:
            out.append(((t - START) / DAY, code))
        prev = now
    return state, out


def after_learning(found: list[tuple[float, Code]]) -> list[tuple[int, Code]]:
    return [(int(day), code) for day, code in found if day >= LEARNED]


@pytest.mark.parametrize("step", STEPS)
def test_a_bursty_metric_stays_quiet_once_it_learned_its_bursts(step: int) -> None:
    state, found = run(counts(step), EVENT + 5, step)
    band = state.baseline.band
    assert band is not None and bursty(band)
    assert after_learning(found) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_surge_of_hours_in_a_bursty_metric_alerts_once_with_the_hours_it_rose(
        step: int) -> None:
    # 40 % more for eight hours: each value stays under the margin the bursts set; six
    # hours together are far above the same hours of each of the last 7 days.
    surge = during(counts(step), lambda t, v, rng: v * 1.4, 10, 18)
    state, found = run(surge, EVENT + 2, step)
    assert after_learning(found) == [(EVENT, HIGHER)]
    why = state.explain(HIGHER, START + EVENT * DAY + 18 * HOUR, 100.0)
    assert "is on a level far above normal: the last 6 hours averaged " in why
    assert why.endswith(" at these hours on the last 7 days)")


def test_a_surge_is_not_looked_for_where_each_sample_is_an_hour() -> None:
    # One sample an hour: each is the hour's aggregate, its bursts last hours, and eight
    # hours at 40 % more are within what they do.
    surge = during(counts(HOUR), lambda t, v, rng: v * 1.4, 10, 18)
    state, found = run(surge, EVENT + 2, HOUR)
    band = state.baseline.band
    assert band is not None and bursty(band)
    assert after_learning(found) == []


@pytest.mark.parametrize("step", STEPS)
def test_the_same_surge_in_a_smooth_metric_alerts_at_once_by_its_band(step: int) -> None:
    surge = during(traffic, lambda t, v, rng: v * 1.4, 10, 18)
    _, found = run(surge, EVENT + 2, step)
    assert [(int(day), code) for day, code in found] == [(EVENT, ABOVE)]
    assert found[0][0] < EVENT + 11 / 24  # within the surge's first hour


@pytest.mark.parametrize("step", STEPS)
def test_a_busy_hour_of_the_usual_bursts_is_not_a_new_level(step: int) -> None:
    # A quarter of the hour's samples are bursts like the daily one: the hour's mean is
    # far above the usual means, but within what the values themselves span.
    every = 4 * step

    def bursts(t: float, v: float, rng: random.Random) -> float:
        return traffic(t, rng) * 4 if t % every < step else v

    _, found = run(during(counts(step), bursts, 14, 15), EVENT + 2, step)
    assert after_learning(found) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_new_level_in_a_bursty_metric_alerts_once(step: int) -> None:
    level = during(counts(step), lambda t, v, rng: traffic(t, rng) * 2.5, 14, 16)
    _, found = run(level, EVENT + 2, step)
    assert after_learning(found) == [(EVENT, HIGHER)]


def noisy(t: float, rng: random.Random) -> float:
    return rng.gauss(50, 10)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("busy_at", "alerts"), [
    (14, [ABOVE]),          # two hours after the spike: its aftermath
    (17, [ABOVE]),
    (19, [ABOVE, HIGHER]),  # seven hours after: a new anomaly
    (21, [ABOVE, HIGHER]),
])
def test_an_hour_above_normal_soon_after_a_spike_is_its_aftermath(
        step: int, busy_at: int, alerts: list[Code]) -> None:
    # Ten days of noise, then a spike of one sample at 12:00 (it ends at 13:00, after its
    # cooldown), then an hour whose values are each within normal but whose mean is far
    # above the usual.
    day = 10

    def event(t: float, rng: random.Random) -> float:
        into = t - START - day * DAY
        if 12 * HOUR <= into < 12 * HOUR + step:
            return 200.0
        if busy_at * HOUR <= into < (busy_at + 1) * HOUR:
            return rng.gauss(75, 10)
        return noisy(t, rng)

    _, found = run(event, day + 1, step)
    assert [code for _, code in found] == alerts


@pytest.mark.parametrize("step", [60, 300, 3600])
@pytest.mark.parametrize(("dip_at", "alerts"), [
    (13, [LOWER]),          # a dip hours after the quiet morning: its aftermath
    (16, [LOWER]),
    (20, [LOWER, BELOW]),   # far later: a new anomaly
])
def test_a_dip_soon_after_a_quiet_stretch_is_its_aftermath(
        step: int, dip_at: int, alerts: list[Code]) -> None:
    # A night and morning at 30 % of their level (found as a quiet stretch; it is over by
    # noon), then one sample at 30 % of its level later in the day: far below normal
    # then, but not below the quiet night's level.
    def dip(t: float, v: float, rng: random.Random) -> float:
        return traffic(t, rng) * 0.3

    shape = during(traffic, dip, 0, 8)

    def dipped(t: float, rng: random.Random) -> float:
        v = shape(t, rng)
        into = t - START - EVENT * DAY
        return dip(t, v, rng) if dip_at * HOUR <= into < dip_at * HOUR + step else v

    _, found = run(dipped, EVENT + 1, step)
    assert [code for _, code in after_learning(found)] == alerts


@pytest.mark.parametrize("step", STEPS)
def test_a_state_restored_in_an_aftermath_judges_as_the_one_it_came_from(step: int) -> None:
    # Stored at 14:00, after the spike's episode ended: the aftermath must go with it.
    day = 10

    def event(t: float, rng: random.Random) -> float:
        into = t - START - day * DAY
        if 12 * HOUR <= into < 12 * HOUR + step:
            return 200.0
        if 15 * HOUR <= into < 16 * HOUR:
            return rng.gauss(75, 10)
        return noisy(t, rng)

    rng = random.Random(1)
    rows = [(START + i * step, event(START + i * step, rng))
            for i in range(int((day + 1) * DAY / step))]
    cut = int((day * DAY + 14 * HOUR) / step)
    state = AdaptiveState(metric="requests", utc_offset=0)
    for t, v in rows[:cut]:
        state.observe(t, v)
    assert state.aftermath[2] > rows[cut][0] and not state.episode
    restored = AdaptiveState.from_bytes(state.to_bytes(), metric="requests", utc_offset=0)
    rest = rows[cut:]
    codes = [state.observe(t, v) for t, v in rest]
    assert codes == [restored.observe(t, v) for t, v in rest]
    assert not any(c in PROBLEM_CODES for c in codes)  # the busy hour is its aftermath
