"""The normal range of one hour, and how the seasonal profiles shape it.

``Band`` is what ``Baseline`` derives for each hour. From its ring of hourly summaries,
``periods`` reads a profile (the ranges this hour reached on the last days or weeks),
``mean_periods`` the same of the hours' means, ``stretch_means`` the mean of the last
hours and of the same hours on the days before, and ``sustained`` the level the last
hours held. ``quieter`` and ``majority`` are the two ways a profile bears on the band:
an hour of the week clearly quieter than the day replaces the day's profile, and the
range most of the periods reached widens the band.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

#: An hour of the week replaces the hour of the day's profile if its highs stay below
#: this share of the day's range ...
WEEKLY_QUIETER = 0.5
#: ... or this share, where its highs come from fewer than ``WEEKLY_SAMPLES`` samples
#: (hourly samples: three weeks of an hour and its neighbours are nine). The fewer the
#: samples, the likelier noise alone keeps them all low; below a quarter of the range that
#: is as unlikely from nine samples as below half from two dozen.
WEEKLY_QUIETER_FEW = 0.25
WEEKLY_SAMPLES = 24
#: Samples an hour needs for its own low to make the profile (fewer: its neighbours' too).
PROFILE_SAMPLES = 6
#: Lows and highs (each sorted) of one hour in the last periods.
Ranges = tuple[list[float], list[float]]


@dataclass(frozen=True, slots=True)
class Band:
    """The normal range for one hour, and where it came from."""

    lo: float
    hi: float
    #: A daily or weekly profile was known for this hour (it may have widened or narrowed).
    seasonal: bool
    #: Completed hours in the recent window.
    hours: int
    #: The width of the recent range (margins are measured in it); NaN: ``hi - lo``.
    spread: float = math.nan
    #: The period in hours (24 or 168) of the profile that replaced the recent range (the
    #: band may be narrower than the week's); 0 when none did.
    profile: int = 0
    #: How far the last days went beyond their bands, at most but for the odd day, in
    #: band widths, above and below (NaN while few days are known).
    over: float = math.nan
    under: float = math.nan
    #: The same for the hours' means beyond the range of the recent hours' means.
    mean_over: float = math.nan
    mean_under: float = math.nan

    @property
    def width(self) -> float:
        """What a margin is a share of: the recent range's width."""
        return self.hi - self.lo if self.spread != self.spread else self.spread


def quieter(weekly: Ranges, daily: Ranges, samples: int) -> bool:
    """This hour of the week is clearly quieter than this hour of the day usually is
    (a Saturday afternoon of an office): its own profile, not the day's, is normal.
    For a metric without a weekly rhythm, a few weeks' hours are but a thin sample
    of the same, and the day's profile (of more hours) stays: the weekly highs' own
    ``samples`` say how clearly quieter they must be."""
    d_lo, d_hi = daily[0][0], daily[1][-1]
    share = WEEKLY_QUIETER if samples >= WEEKLY_SAMPLES else WEEKLY_QUIETER_FEW
    return weekly[1][-1] < d_lo + share * (d_hi - d_lo)


def samples_in(hours: array[int], counts: array[int], *, hour: int, period: int,
               count: int) -> int:
    """The samples the highs of ``periods`` come from: those of this hour of the period,
    give or take one, in the last ``count`` periods."""
    slots = len(hours)
    total = 0
    for k in range(1, count + 1):
        for h in range(hour - k * period - 1, hour - k * period + 2):
            i = h % slots
            if hours[i] == h:
                total += counts[i]
    return total


def majority(ranges: Ranges, lo: float, hi: float) -> tuple[float, float]:
    """``lo``-``hi`` widened by the range reached on a strict majority of the periods
    (both of two, two of three...)."""
    los, his = ranges
    m = len(his)
    return min(lo, los[m - 1 - (m - 1) // 2]), max(hi, his[(m - 1) // 2])


def periods(hours: array[int], lows: array[float], highs: array[float], counts: array[int], *,
            hour: int, period: int, count: int) -> Ranges:
    """The ranges at this hour of the period in the last ``count`` periods, from a ring
    of hourly summaries (``hours[i]`` the hour slot ``i`` holds): lows, highs sorted.

    The highs are those of the hour give or take one (a job that runs late is not an
    anomaly), the lows those of the hour itself (a job that did not run is one) if it
    had ``PROFILE_SAMPLES`` samples, else of the hour give or take one too.
    """
    los: list[float] = []
    his: list[float] = []
    slots = len(hours)
    oldest = hour - count * period  # not an hour older than the periods looked at
    for k in range(1, count + 1):
        at = hour - k * period
        i = at % slots
        if hours[i] != at:
            continue
        lo, hi = lows[i], highs[i]
        few = counts[i] < PROFILE_SAMPLES
        for h in (at - 1, at + 1):
            i = h % slots
            if hours[i] == h and h >= oldest:
                hi = max(hi, highs[i])
                if few:  # a low from a sample or two is no profile: its neighbours'
                    lo = min(lo, lows[i])
        los.append(lo)
        his.append(hi)
    los.sort()
    his.sort()
    return los, his


def mean_periods(hours: array[int], means: array[float], *, hour: int, period: int,
                 count: int) -> Ranges:
    """The range of the hourly means at this hour of the period (give or take one) in the
    last ``count`` periods: lows, highs sorted (a daily job is normal at its hour)."""
    los: list[float] = []
    his: list[float] = []
    slots = len(hours)
    for k in range(1, count + 1):
        lo, hi = math.inf, -math.inf
        for h in (hour - k * period - 1, hour - k * period, hour - k * period + 1):
            i = h % slots
            if hours[i] == h:
                lo, hi = min(lo, means[i]), max(hi, means[i])
        if hi >= lo:
            los.append(lo)
            his.append(hi)
    los.sort()
    his.sort()
    return los, his


def stretch_means(hours: array[int], means: array[float], *, end: int, span: int,
                  days: int) -> tuple[float, list[float]]:
    """The mean of the ``span`` hours before hour ``end`` (of their hourly means), and the
    same of the same hours on each of the last ``days`` days that knows all of them; NaN
    unless all of the last ``span`` hours are known."""
    slots = len(hours)

    def mean_of(stop: int) -> float:
        total = 0.0
        for h in range(stop - span, stop):
            i = h % slots
            if hours[i] != h:
                return math.nan
            total += means[i]
        return total / span

    now = mean_of(end)
    if math.isnan(now):
        return now, []
    return now, [m for d in range(1, days + 1) if not math.isnan(m := mean_of(end - 24 * d))]


def sustained(hours: array[int], lows: array[float], highs: array[float], now: int,
              count: int) -> tuple[float, float]:
    """The level most of the ``count`` hours before hour ``now`` reached: the (highest low,
    lowest high) of all but the ``count // 3`` most extreme of them; (inf, -inf) unless
    each of them is known."""
    los: list[float] = []
    his: list[float] = []
    slots = len(hours)
    for h in range(now - count, now):
        i = h % slots
        if hours[i] != h:
            return math.inf, -math.inf  # not known throughout: nothing sustained
        los.append(lows[i])
        his.append(highs[i])
    los.sort()
    his.sort()
    k = count // 3
    return los[-1 - k], his[k]
