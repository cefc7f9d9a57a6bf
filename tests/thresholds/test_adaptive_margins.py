"""How far beyond normal a value must go, on synthetic traces at one- and five-minute steps.

A level that crept beyond its band over an hour (a random walk, a temperature) is not an
anomaly until it moves suddenly; a weekly job seen on one earlier week is normal at its
hour of the week; and a value must go beyond what the odd bad day of the last weeks did,
by a margin more.
"""

from __future__ import annotations

import random

import pytest

from agent.thresholds.adaptive import ABOVE, PROBLEM_CODES, AdaptiveState, Code
from agent.thresholds.adaptive_codes import MARGIN_SLACK
from agent.thresholds.adaptive_settings import Sensitivity

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
HOUR = 3600
DAY = 86400
STEPS = [60, 300]


def wandering(step: int, days: int) -> list[tuple[float, float]]:
    """Each hour at its own level between 40 and 60, a little noise within the hour."""
    rng = random.Random(1)
    levels = [rng.uniform(40, 60) for _ in range(days * 24)]
    return [(START + i * step, levels[i * step // HOUR] + rng.gauss(0, 0.3))
            for i in range(days * DAY // step)]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("level_before", "value", "alerted"), [
    (50.0, 68.0, True),   # from an ordinary hour to far above: sudden
    (63.0, 68.0, False),  # the hour before already held beyond the band: it crept there
    (63.0, 75.0, True),   # ... and then jumped far further
])
def test_a_level_that_crept_beyond_its_band_alerts_only_when_it_moves_suddenly(
        step: int, level_before: float, value: float, alerted: bool) -> None:
    state = AdaptiveState(metric="value", utc_offset=0)
    history = [state.observe(t, v) for t, v in wandering(step, 8)]
    assert not any(c in PROBLEM_CODES for c in history)
    day = START + 8 * DAY
    rng = random.Random(2)
    before = [state.observe(day + i * step, level_before + rng.gauss(0, 0.3))
              for i in range(HOUR // step)]
    assert not any(c in PROBLEM_CODES for c in before)
    codes = [state.observe(day + HOUR + i * step, value) for i in range(2)]
    assert (ABOVE in codes) is alerted


def quiet_with_a_job(step: int, days: int, job_days: set[int]) -> list[tuple[float, float]]:
    """Quiet at 10, and a job 09:00-10:00 at 60 on the given days."""
    rng = random.Random(3)
    rows: list[tuple[float, float]] = []
    for i in range(days * DAY // step):
        t = float(START + i * step)
        job = int((t - START) // DAY) in job_days and 9 * HOUR <= t % DAY < 10 * HOUR
        rows.append((t, (60.0 if job else 10.0) + rng.gauss(0, 0.5)))
    return rows


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("day", "alerted"), [
    (14, False),  # Monday 09:00 again: the job ran at this hour of the week two weeks ago
    (15, True),   # Tuesday 09:00 never had it
])
def test_a_weekly_job_seen_on_one_earlier_week_is_normal_at_its_hour_of_the_week(
        step: int, day: int, alerted: bool) -> None:
    state = AdaptiveState(metric="value", utc_offset=0)
    for t, v in quiet_with_a_job(step, day, {0}):
        state.observe(t, v)
    at = START + day * DAY + 9 * HOUR + 300
    codes: list[Code] = [state.observe(at + i * step, 60.0) for i in range(2)]
    assert (ABOVE in codes) is alerted


@pytest.mark.parametrize("step", STEPS)
def test_a_value_must_go_further_than_the_odd_bad_day_did(step: int) -> None:
    # A burst every day, at a different hour each day: the days' bursts set the margin.
    rng = random.Random(4)
    state = AdaptiveState(metric="value", utc_offset=0)
    for i in range(10 * DAY // step):
        t = START + i * step
        at = (3 + 5 * int((t - START) // DAY)) % 24 * HOUR
        burst = 0 <= t % DAY - at < 600
        state.observe(t, (90.0 if burst else 50.0) + rng.gauss(0, 2))
    band = state.baseline.band
    assert band is not None and band.over > 0
    odd_day = band.hi + band.over * band.width
    slack = MARGIN_SLACK * Sensitivity.MEDIUM.margin_factor * band.width
    assert state.upper > odd_day
    assert state.upper == pytest.approx(odd_day + slack)
