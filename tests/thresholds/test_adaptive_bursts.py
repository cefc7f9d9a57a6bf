"""A lone burst in a bursty metric, on synthetic traces at one- and five-minute steps.

A metric whose ordinary day bursts far beyond its band (counts of events, requests) has
bursts of one sample as a matter of course: one a little larger than the usual ones is
not an anomaly, one that lasts a second sample is. A smooth metric alerts at the first
sample, and so does any metric sampled seldom (each sample is an aggregate already).
"""

from __future__ import annotations

import random

import pytest

from agent.thresholds.adaptive import ABOVE, PROBLEM_CODES, AdaptiveState, Code
from agent.thresholds.adaptive_codes import BURSTY_EXCESS
from agent.thresholds.adaptive_settings import AdaptiveSettings, Sensitivity
from tests.stored_forms import as_format

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
HOUR = 3600
DAY = 86400
DAYS = 10


def learned(step: int, bursty: bool,
            sensitivity: Sensitivity = Sensitivity.MEDIUM) -> AdaptiveState:
    """Ten days at 50 with a little noise; if ``bursty``, a lone sample at 90 each day at
    a different hour."""
    rng = random.Random(7)
    state = AdaptiveState(AdaptiveSettings(sensitivity=sensitivity), metric="value",
                          utc_offset=0)
    for i in range(DAYS * DAY // step):
        t = START + i * step
        at = (3 + 5 * int((t - START) // DAY)) % 24 * HOUR
        burst = bursty and 0 <= t % DAY - at < step
        state.observe(t, (90.0 if burst else 50.0) + rng.gauss(0, 2))
    return state


def burst_codes(state: AdaptiveState, step: int, samples: int) -> list[Code]:
    """Half an hour into an hour: ``samples`` samples beyond the threshold, then normal."""
    t0 = START + DAYS * DAY + 2 * HOUR
    codes = [state.observe(t0, 50.0)]
    value = state.upper + 10
    for i in range(1, 2 * samples + 2):
        codes.append(state.observe(t0 + i * step, value if i <= samples else 50.0))
    return codes


@pytest.mark.parametrize(("bursty", "step", "samples", "alerted"), [
    (True, 60, 1, False),    # one more burst, a little larger than the usual ones
    (True, 300, 1, False),
    (True, 60, 2, True),     # it lasted: an anomaly
    (True, 300, 2, True),
    (True, 1800, 1, True),   # samples half an hour apart: each is an aggregate already
    (False, 60, 1, True),    # a smooth metric: a spike alerts at once
    (False, 300, 1, True),
])
def test_a_lone_burst_alerts_only_in_a_metric_without_bursts(
        bursty: bool, step: int, samples: int, alerted: bool) -> None:
    state = learned(step, bursty)
    band = state.baseline.band
    assert band is not None
    assert (band.over > BURSTY_EXCESS) is bursty
    codes = burst_codes(state, step, samples)
    assert (ABOVE in codes) is alerted
    if alerted and samples == 1:
        assert codes[1] == ABOVE  # at the first sample, not later


@pytest.mark.parametrize("step", [60, 300])
def test_a_burst_that_lasts_is_one_anomaly_peaking_at_the_burst(step: int) -> None:
    state = learned(step, bursty=True)
    t0 = START + DAYS * DAY + 2 * HOUR
    state.observe(t0, 50.0)
    peak = state.upper + 20
    assert state.observe(t0 + step, peak) not in PROBLEM_CODES
    second = state.upper - 1  # beyond the band, not beyond the threshold: it lasted
    assert state.observe(t0 + 2 * step, second) == ABOVE
    assert state.peak == peak


@pytest.mark.parametrize("step", [60, 300])
def test_a_burst_waiting_for_its_second_sample_survives_a_restart(step: int) -> None:
    state = learned(step, bursty=True)
    t0 = START + DAYS * DAY + 2 * HOUR
    state.observe(t0, 50.0)
    value = state.upper + 10
    assert state.observe(t0 + step, value) not in PROBLEM_CODES
    restored = AdaptiveState.from_bytes(state.to_bytes(), metric="value", utc_offset=0)
    assert restored.observe(t0 + 2 * step, value) == ABOVE


@pytest.mark.parametrize("step", [60, 300])
@pytest.mark.parametrize(("sensitivity", "share", "alerted"), [
    (Sensitivity.MEDIUM, 0.3, True),   # beyond the band by a quarter of the margin
    (Sensitivity.MEDIUM, 0.2, False),  # not that far: the burst did not last
    (Sensitivity.LOW, 0.15, True),     # low's margin is wider: a quarter of medium's
    (Sensitivity.LOW, 0.1, False),
])
def test_the_second_sample_of_a_burst_must_stay_beyond_the_band_by_part_of_the_margin(
        step: int, sensitivity: Sensitivity, share: float, alerted: bool) -> None:
    state = learned(step, True, sensitivity)
    t0 = START + DAYS * DAY + 2 * HOUR
    state.observe(t0, 50.0)
    band = state.baseline.band
    assert band is not None
    assert state.observe(t0 + step, state.upper + 10) not in PROBLEM_CODES
    second = band.hi + share * (state.upper - band.hi)
    assert (state.observe(t0 + 2 * step, second) == ABOVE) is alerted


def test_a_state_stored_before_bursts_waited_is_restored_with_none_waiting() -> None:
    state = learned(300, bursty=True)
    t0 = START + DAYS * DAY + 2 * HOUR
    state.observe(t0, 50.0)
    stored = state.to_bytes()
    # The earlier format: the same fields but the burst waiting and its level (and what
    # later formats added after them).
    earlier = as_format(stored, 2)
    restored = AdaptiveState.from_bytes(earlier, metric="value", utc_offset=0)
    assert restored.baseline.band == state.baseline.band
    assert restored.upper == state.upper
    assert restored.burst != restored.burst  # NaN: none waiting
    # From the next hour on it judges as the state it came from.
    t1 = START + DAYS * DAY + 3 * HOUR
    codes = [(s.observe(t1 + i * 300, 50.0 + i % 2), s.confirm_hi)
             for s in (state, restored) for i in range(3)]
    assert codes[:3] == codes[3:]
