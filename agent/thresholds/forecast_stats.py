"""Robust lines and the statistics forecasts judge them by, on bucket means (pure).

``theil_sen`` is the median pairwise slope (one odd bucket cannot tilt it); ``steady``
says whether a line is a trend (both halves head its way, and its rise stands out of
the scatter around it); the rest are the medians, spreads and falls these are built of.
"""

from __future__ import annotations

import math
import operator
from itertools import accumulate, pairwise

#: A trend is steady when the rise over its window is this many times the median scatter
#: of the bucket means around the line (noise alone rarely reaches it).
NOISE_FACTOR = 3.0
#: ... and each half of the window rises at least this share of the whole window's slope.
HALF_SHARE = 0.25
#: A normal deviation is this many median absolute deviations.
MAD_SIGMA = 1.4826


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Median pairwise slope and the median intercept: a line one outlier cannot tilt."""
    n = len(xs)
    slopes = [(ys[j] - y) / (xs[j] - x) for i, (x, y) in enumerate(zip(xs, ys, strict=True))
              for j in range(i + 1, n) if xs[j] != x]
    slopes.sort()
    if not slopes:
        return 0.0, ys[-1]
    slope = median(slopes)
    return slope, median(sorted(y - slope * x for x, y in zip(xs, ys, strict=True)))


def median(v: list[float]) -> float:
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def covered(ks: list[int]) -> int:
    """How many buckets of time the known buckets ``ks`` (ascending) stand for: each for the
    usual distance between them, so samples sparser than the buckets (a check every 15
    minutes, 5-minute buckets) count for the time they cover, and a gap for nothing."""
    if len(ks) < 2:
        return len(ks)
    steps = sorted(b - a for a, b in pairwise(ks))
    return len(ks) * steps[(len(steps) - 1) // 2]


def mean_error(v: list[float]) -> float:
    """The standard error of the mean of ``v``, widened for neighbours that move together
    (a wandering metric's day-over-day differences are not independent)."""
    n = len(v)
    if n < 2:
        return math.inf
    m = sum(v) / n
    dev = [x - m for x in v]
    var = sum(d * d for d in dev) / (n - 1)
    if var == 0:
        return 0.0
    r = sum(a * b for a, b in pairwise(dev)) / (var * (n - 1))
    r = min(max(r, 0.0), 0.95)
    return math.sqrt(var / n * (1 + r) / (1 - r))


def spread(v: list[float]) -> float:
    """The standard deviation of ``v`` were it normal, from its median absolute deviation
    (a few outliers, the fall of a saw-tooth, do not widen it)."""
    mid = median(sorted(v))
    return MAD_SIGMA * median(sorted(abs(x - mid) for x in v))


def scatter(xs: list[float], ys: list[float], slope: float, intercept: float) -> float:
    """The median distance of the points from the line."""
    return median(sorted(abs(y - intercept - slope * x) for x, y in zip(xs, ys, strict=True)))


def steady(xs: list[float], ys: list[float], slope: float, intercept: float,
            window_h: float) -> bool:
    """Whether the line is a trend: both halves of the window head its way, and the rise
    over the window stands out of the scatter around it."""
    if slope == 0:
        return False
    off = scatter(xs, ys, slope, intercept)
    if abs(slope) * window_h <= NOISE_FACTOR * off:
        return False
    mid = len(xs) // 2
    for part in (slice(None, mid), slice(mid, None)):
        half, _ = theil_sen(xs[part], ys[part])
        if half / slope < HALF_SHARE:
            return False
    return True


def largest_fall(ys: list[float]) -> float:
    """The largest drop from an earlier high to a later low (0 for a rising series)."""
    if not ys:
        return 0.0
    fall: float = max(map(operator.sub, accumulate(ys, max), ys))
    return fall
