"""The learned checks for what a band misses: a level shift, a stretch of hours, a drift.

Once an hour: was the mean of the hour that ended far beyond the recent hours' means
(``HIGHER`` / ``LOWER``: a level shift that spikes would hide)? Were the last hours far
below the same hours of each of the last days (``LOWER``: a quiet day among busy ones, a
holiday, traffic lost; a drop hides in a single sample's noise and among the weekend's
lows, a stretch of hours does not), or, in a bursty metric, far above them (``HIGHER``: a
surge of hours that stays under the margin its bursts set)? Once a day: did the daily
mean move the same way on each of the last days, by more than a share of the week's
range (``RISING`` / ``FALLING``: a leak)? Pure functions of the learned baseline; the
state reports what they find with the next sample.
"""

from __future__ import annotations

import math
from itertools import pairwise

from agent.thresholds.adaptive_codes import (
    DRIFT_DAYS,
    DRIFT_SHARE,
    FALLING,
    HIGHER,
    LEVEL_FACTOR,
    LEVEL_LEAST,
    LOWER,
    MARGIN_SLACK,
    RISING,
    STRETCH_FACTOR,
    STRETCH_LEAST,
    STRETCH_MIN_DAYS,
    STRETCH_REGULAR,
    SURGE_SAMPLES,
    Code,
    bursty,
)
from agent.thresholds.adaptive_settings import AdaptiveSettings, Direction
from agent.thresholds.baseline import Baseline


def level_change(base: Baseline, settings: AdaptiveSettings,
                 rearm: tuple[float, float]) -> tuple[Code, tuple[float, float, float]] | None:
    """At the end of an hour: was its mean far beyond the recent hours' means? The code
    and (the hour's mean, the usual means' low and high), or None.

    Far is beyond the sensitivity's share of their range (times ``LEVEL_FACTOR``), beyond
    what the hours of all but the odd recent day went (by a slack), by more than a share of
    ``min_deviation``, and beyond ``rearm`` (the means a new level above, below must pass
    after an anomaly). In a bursty metric one burst lifts an hour's mean: a new level above
    must pass the usual means by the band's whole width (a busy hour is one more burst)."""
    band = base.band
    if band is None or band.mean_over != band.mean_over:
        return None
    up, down = base.mean_excess
    lo, hi = base.mean_range
    mean = base.last_mean
    # Means vary less than values: a share of the least deviation of a value.
    least = LEVEL_LEAST * settings.min_deviation.of(max(abs(lo), abs(hi)))
    direction = settings.direction
    f = settings.sensitivity.margin_factor * LEVEL_FACTOR
    calibrate = settings.sensitivity.calibrate
    r_hi, r_lo = rearm
    # As for values: further than the odd day went, by a slack.
    slack = MARGIN_SLACK * settings.sensitivity.margin_factor
    over = calibrate * band.mean_over + slack if band.mean_over > 0 else 0.0
    under = calibrate * band.mean_under + slack if band.mean_under > 0 else 0.0
    if (up > max(f, over) and mean - hi > max(least, band.width if bursty(band) else 0.0)
            and mean > r_hi and direction is not Direction.BELOW):
        return HIGHER, (mean, lo, hi)
    if (down > max(f, under) and lo - mean > least and mean < r_lo
            and direction is not Direction.ABOVE):
        return LOWER, (mean, lo, hi)
    return None


def stretch_change(base: Baseline, settings: AdaptiveSettings, rearm: tuple[float, float],
                   ) -> tuple[Code, tuple[float, float, float]] | None:
    """At the end of an hour: were the last hours together far below (or, in a bursty
    metric, far above) the same hours of each of the last days? ``LOWER`` / ``HIGHER`` and
    (their mean, the days' lowest and highest), or None.

    Only in a metric whose days repeat (their means within ``STRETCH_REGULAR`` of their
    level), once ``STRETCH_MIN_DAYS`` days tell how far such stretches usually go; far is
    beyond ``STRETCH_FACTOR`` times the sensitivity's share of the days' range, beyond what
    the odd day went (by a slack), and by more than ``STRETCH_LEAST`` times
    ``min_deviation``, and beyond ``rearm`` (as for a level). Above, only a bursty metric
    sampled more often than hourly (``SURGE_SAMPLES``): elsewhere the band already sees a
    rise within the hour, and where each sample is an hour's aggregate its bursts last
    hours, so a few hours above are one more of them."""
    now, lo, hi = base.stretch
    if not (math.isfinite(now) and hi - lo <= STRETCH_REGULAR * abs(lo + hi) / 2):
        return None
    below, above = base.stretch_ranks(STRETCH_MIN_DAYS)
    sensitivity, direction = settings.sensitivity, settings.direction
    f = STRETCH_FACTOR * sensitivity.margin_factor
    least = STRETCH_LEAST * settings.min_deviation.of(max(abs(lo), abs(hi)))

    def margin(usual: float) -> float:
        return max(f, sensitivity.calibrate * usual + MARGIN_SLACK * f) * (hi - lo)

    r_hi, r_lo = rearm
    if (direction is not Direction.ABOVE and not math.isnan(below)
            and lo - now > max(margin(below), least) and now < r_lo):
        return LOWER, (now, lo, hi)
    band = base.band
    if (direction is not Direction.BELOW and not math.isnan(above) and band is not None
            and bursty(band) and base.hour_range(base.cur_hour - 1)[2] >= SURGE_SAMPLES
            and now - hi > max(margin(above), least) and now > r_hi):
        return HIGHER, (now, lo, hi)
    return None


def drift_change(base: Baseline, settings: AdaptiveSettings,
                 width: float) -> tuple[Code, float, float] | None:
    """Once a day: did the daily mean move the same way on each of the last
    ``DRIFT_DAYS`` days, by more than ``DRIFT_SHARE`` of ``width`` in all? The code and
    the daily means it moved from and to, or None."""
    means = base.daily_means(DRIFT_DAYS + 1)
    if means is None:
        return None
    steps = [b - a for a, b in pairwise(means)]
    direction = settings.direction
    if not abs(means[-1] - means[0]) > DRIFT_SHARE * width:
        return None
    if all(s > 0 for s in steps) and direction is not Direction.BELOW:
        return RISING, means[0], means[-1]
    if all(s < 0 for s in steps) and direction is not Direction.ABOVE:
        return FALLING, means[0], means[-1]
    return None



