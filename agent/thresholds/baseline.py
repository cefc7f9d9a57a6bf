"""The learned normal range of one metric: hourly summaries, robust ranks, seasonal bands.

History is kept as one summary per clock hour (lowest, highest and mean value, and the
number of samples) in a ring of three weeks, plus how far each of the last twelve weeks'
days went beyond its bands, so memory is fixed (about 32 KB per metric) however fast
samples arrive and however long the agent runs. Every statistic is over hours and days,
never over samples. Each new hour the *band* (the normal range for that hour) is
recomputed from completed hours only:

* **recent**: over the last 7 days, the range reached in more than ``rank_fraction`` of
  the hours (by default 5 %: 9 of a week's 168 hours, 2 of the first day's 24). One
  spike, or a few, cannot widen it; a lasting level shift widens it once it has lasted
  that many hours. Its width is what margins are measured in.
* **seasonal profile**: the range reached at this hour on the last days (or at this hour
  of the week on the last weeks). While fewer than ``NARROW_DAYS`` days of it are known it
  only widens the recent range, with what most of those days did (a nightly backup at
  02:00 makes 02:00 busy, not 14:00). From then on the profile *is* the band: what this
  hour reached on any of the last 7 days (highs give or take an hour, so a job that runs
  late is not an anomaly; lows of the hour itself, so one that did not run is), and once
  ``NARROW_WEEKS`` weeks are known, what this hour of the week reached on each of them
  where that is clearly quieter than the day's profile (a weekly rhythm). Once two weeks
  are known, the high this hour of the week reached on any of them is normal too (the
  Sunday backup makes Sundays busy). An hour that is always quiet gets a quiet band: a
  value normal at 14:00 is unusual at 03:00 if 03:00 is always quiet, and on a Saturday
  if Saturdays are. The band narrows from below only once a whole week is known (the
  first weekend is quieter, not wrong).
* **sustained**: once the last ``SUSTAINED_SLOTS`` hours all went beyond their profile on
  one side, the level most of them reached joins the band, so a lasting level shift is
  the new normal within hours at every hour (until the profile has learned it).
* **stretch**: the mean of the last ``STRETCH_HOURS`` hours, and the lowest and highest
  of the same hours on each of the last ``STRETCH_DAYS`` days (a quiet day among busy
  ones shows there, not in any one hour).
* **excess**: how far beyond its band each hour went, its mean beyond the recent hours'
  means, and the stretch below and above the same hours of the last days, noted day by day
  (``excess``): how far out a value must be to be unusual (``adaptive``).

All of it is O(1) per sample; the hourly recompute costs tens of microseconds. The band
and its profiles are in ``band``, the stored form in ``baseline_store``.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort

from agent.thresholds.band import (
    Band,
    Ranges,
    majority,
    mean_periods,
    periods,
    quieter,
    samples_in,
    stretch_means,
    sustained,
)
from agent.thresholds.baseline_store import pack_baseline, unpack_baseline
from agent.thresholds.excess import DailyExcess

__all__ = ["DAY_SLOTS", "MIN_SLOTS", "RECENT_SLOTS", "SLOT_SECONDS", "STRETCH_DAYS",
           "STRETCH_HOURS", "WEEK_SLOTS", "Band", "Baseline"]

SLOT_SECONDS = 3600
DAY_SLOTS = 24
WEEK_SLOTS = 7 * DAY_SLOTS
#: Hourly summaries kept: three weeks (the weekly profile looks that far back).
RING_SLOTS = 3 * WEEK_SLOTS
#: The window of the rank-based recent range.
RECENT_SLOTS = WEEK_SLOTS
DAILY_DAYS = 7
WEEKLY_WEEKS = 3
#: Days (weeks) of the same hour that must be known before the profile counts at all ...
DAILY_MIN = 1
WEEKLY_MIN = 2
#: ... and before it replaces the recent range (narrowing it where the hour is quiet).
NARROW_DAYS = 5
NARROW_WEEKS = 3
#: Days known before the profile narrows the band from below too.
NARROW_LOW_DAYS = 7
#: A stretch of this many hours is compared with the same hours of this many days before
#: (the quiet and busy stretches of ``adaptive``).
STRETCH_HOURS = 6
STRETCH_DAYS = 7
#: Hours whose common level joins the band (a level shift is normal after this long).
SUSTAINED_SLOTS = 6
#: Completed hours needed before there is any band at all ...
MIN_SLOTS = 3
#: ... and before how far an hour went beyond it counts toward the days' excess.
EXCESS_MIN_HOURS = 6
#: The hour of an empty slot of the ring.
EMPTY_HOUR = -(2**62)


class Baseline:
    """Hourly summaries of one metric and the band derived from them.

    ``add(hour, value)`` is the per-sample entry (``hour`` counts clock hours since the
    epoch in the metric's time zone). ``band`` is the band for the current hour, or None
    while fewer than ``MIN_SLOTS`` hours are known.
    """

    __slots__ = (
        "_count",
        "_days",
        "_hi",
        "_hour",
        "_lo",
        "_mean",
        "_rec_hi",
        "_rec_lo",
        "_rec_mean",
        "_usual",
        "band",
        "beyond",
        "cur_hi",
        "cur_hour",
        "cur_lo",
        "cur_n",
        "cur_sum",
        "last_mean",
        "mean_excess",
        "mean_range",
        "rank_fraction",
        "stretch",
    )

    def __init__(self, rank_fraction: float = 0.05) -> None:
        if not 0.0 <= rank_fraction < 0.5:
            raise ValueError("rank_fraction must be in [0, 0.5)")
        self.rank_fraction = rank_fraction
        self._clear()

    def _clear(self) -> None:
        self._hour = array("q", [EMPTY_HOUR]) * RING_SLOTS
        self._lo = array("d", [0.0]) * RING_SLOTS
        self._hi = array("d", [0.0]) * RING_SLOTS
        self._mean = array("d", [0.0]) * RING_SLOTS
        self._count = array("I", [0]) * RING_SLOTS  # samples in the hour
        # How far each of the last days went beyond its bands, at most, in band widths.
        self._days = DailyExcess()  # how far the last days went beyond
        self._rec_mean = array("d")  # sorted means of the recent window
        #: How far the mean of the hour that ended went beyond the recent hours' means
        #: (above, below; in widths of their range), and that range.
        self.mean_excess = (0.0, 0.0)
        self.mean_range = (math.nan, math.nan)
        self.last_mean = math.nan
        #: The mean of the last ``STRETCH_HOURS`` hours and the lowest and highest of the
        #: same hours on the last ``STRETCH_DAYS`` days (NaN unless all are known).
        self.stretch = (math.nan, math.nan, math.nan)
        self._rec_hi = array("d")  # sorted highs of the recent window
        self._rec_lo = array("d")  # sorted lows of the recent window
        self.cur_hour = EMPTY_HOUR
        self.cur_lo = math.inf
        self.cur_hi = -math.inf
        self.cur_n = 0
        self.cur_sum = 0.0
        self.band: Band | None = None
        #: Hours in a row whose highs went above their usual range, and whose lows below.
        self.beyond = [0, 0]
        #: The current hour's usual range: its band before a sustained level widened it.
        self._usual = (math.inf, -math.inf)

    # -- learning ------------------------------------------------------------------------

    def add(self, hour: int, value: float) -> bool:
        """Learn ``value`` seen in ``hour``. True when a new hour began (the band changed)."""
        rolled = False
        if hour != self.cur_hour:
            self.roll(hour)
            rolled = True
        if value < self.cur_lo:  # noqa: PLR1730 - a comparison is cheaper than min()
            self.cur_lo = value
        if value > self.cur_hi:  # noqa: PLR1730
            self.cur_hi = value
        self.cur_n += 1
        self.cur_sum += value
        return rolled

    def roll(self, hour: int) -> None:
        """Close the current hour and start ``hour``: store, expire, recompute the band.

        A clock that went back moves the whole history back with it (the hours already
        learned keep their order); a gap longer than the recent window starts afresh.
        """
        prev = self.cur_hour
        if prev == EMPTY_HOUR:
            self.cur_hour = hour
            return
        if hour < prev:
            self._shift(hour - prev)
            self.band = self._compute_band(hour, keep=True)
            return
        if hour - prev > RECENT_SLOTS:
            self.reset()
            self.cur_hour = hour
            return
        self.mean_excess = (0.0, 0.0)
        if self.cur_n:
            mean = self.last_mean = self.cur_sum / self.cur_n
            self.mean_excess = self._mean_excess(prev, mean)
            self._store(prev, self.cur_lo, self.cur_hi, mean)
            self._count[prev % RING_SLOTS] = min(self.cur_n, 2**31)
            (lo, hi), beyond = self._usual, self.beyond
            beyond[0] = beyond[0] + 1 if self.cur_hi > hi else 0
            beyond[1] = beyond[1] + 1 if self.cur_lo < lo else 0
            self._excess(prev, *self.mean_excess)
        self.cur_lo, self.cur_hi, self.cur_n, self.cur_sum = math.inf, -math.inf, 0, 0.0
        self.cur_hour = hour
        self._stretch(prev + 1)
        self._expire(prev - RECENT_SLOTS, hour - RECENT_SLOTS)
        self.band = self._compute_band(hour, keep=True)

    def reset(self) -> None:
        """Forget everything learned."""
        self._clear()

    def _mean_excess(self, hour: int, mean: float) -> tuple[float, float]:
        """How far ``mean``, that of ``hour``, is beyond the range of the recent hours'
        means (widened by what the means near this hour of the day reached on two of the
        last days: a daily job is normal at its hour), in widths of the recent range."""
        rec = self._rec_mean
        n = len(rec)
        if n < DAY_SLOTS:
            self.mean_range = (math.nan, math.nan)
            return 0.0, 0.0
        r = min(int(self.rank_fraction * n) + 1, n)
        lo, hi = rec[r - 1], rec[n - r]
        width = hi - lo
        los, his = mean_periods(self._hour, self._mean, hour=hour, period=DAY_SLOTS,
                                count=DAILY_DAYS)
        if len(his) >= 2:
            lo, hi = min(lo, los[1]), max(hi, his[-2])
        self.mean_range = (lo, hi)
        if not width > 0:
            return 0.0, 0.0
        return max(0.0, (mean - hi) / width), max(0.0, (lo - mean) / width)

    def _stretch(self, end: int) -> None:
        """Compare the hours before ``end`` with the same hours of the last days, and note
        how far below them they went (in widths of those days' range)."""
        now, days = stretch_means(self._hour, self._mean, end=end, span=STRETCH_HOURS,
                                  days=STRETCH_DAYS)
        if len(days) < STRETCH_DAYS:
            self.stretch = (math.nan, math.nan, math.nan)
            return
        lo, hi = min(days), max(days)
        self.stretch = (now, lo, hi)
        if hi > lo:
            below, above = (lo - now) / (hi - lo), (now - hi) / (hi - lo)
        else:
            below, above = (math.inf if now < lo else 0.0), (math.inf if now > hi else 0.0)
        self._days.note_stretch(end - STRETCH_HOURS, max(0.0, below), max(0.0, above))

    def stretch_ranks(self, least_days: int) -> tuple[float, float]:
        """How far below and above the same hours of the last days the stretches of the
        day that counts went, in widths of their range (NaN while fewer than
        ``least_days`` days had a stretch to compare)."""
        return self._days.stretch_ranks(self.cur_hour - STRETCH_HOURS, least_days)

    def _excess(self, hour: int, mean_up: float, mean_down: float) -> None:
        """Note how far the hour that ended went beyond its band, in band widths (and its
        mean beyond the recent means)."""
        band = self.band
        if band is None or band.hours < EXCESS_MIN_HOURS:
            return  # judged against a few hours only: no measure of how far it strays
        up = down = 0.0
        if band.width > 0:
            up = max(0.0, (self.cur_hi - band.hi) / band.width)
            down = max(0.0, (band.lo - self.cur_lo) / band.width)
        self._days.note(hour, up, down, mean_up, mean_down)

    def _store(self, hour: int, lo: float, hi: float, mean: float) -> None:
        i = hour % RING_SLOTS
        if self._hour[i] == hour:  # the same hour again (after a clock shift): merge
            self._unrecent(i)
            lo, hi = min(lo, self._lo[i]), max(hi, self._hi[i])
            mean = (mean + self._mean[i]) / 2
        self._hour[i], self._lo[i], self._hi[i], self._mean[i] = hour, lo, hi, mean
        insort(self._rec_hi, hi)
        insort(self._rec_lo, lo)
        insort(self._rec_mean, mean)

    def _unrecent(self, i: int) -> None:
        rec = self._rec_hi
        j = bisect_left(rec, self._hi[i])
        if j < len(rec) and rec[j] == self._hi[i]:
            rec.pop(j)
        rec = self._rec_lo
        j = bisect_left(rec, self._lo[i])
        if j < len(rec) and rec[j] == self._lo[i]:
            rec.pop(j)
        rec = self._rec_mean
        j = bisect_left(rec, self._mean[i])
        if j < len(rec) and rec[j] == self._mean[i]:
            rec.pop(j)

    def _expire(self, start: int, stop: int) -> None:
        """Drop the hours in [start, stop) from the recent window."""
        for h in range(max(start, stop - RING_SLOTS), stop):
            i = h % RING_SLOTS
            if self._hour[i] == h:
                self._unrecent(i)

    def _shift(self, delta: int) -> None:
        hours = [(h + delta, self._lo[i], self._hi[i], self._mean[i], self._count[i])
                 for i, h in enumerate(self._hour) if h != EMPTY_HOUR]
        cur = (self.cur_lo, self.cur_hi, self.cur_n, self.cur_sum)
        self._hour = array("q", [EMPTY_HOUR]) * RING_SLOTS
        self._rec_hi, self._rec_lo, self._rec_mean = array("d"), array("d"), array("d")
        self.cur_hour += delta
        for h, lo, hi, mean, count in hours:
            if h >= self.cur_hour - RING_SLOTS:
                self._store(h, lo, hi, mean)
                self._count[h % RING_SLOTS] = count
        self._expire(self.cur_hour - RING_SLOTS, self.cur_hour - RECENT_SLOTS)
        self.cur_lo, self.cur_hi, self.cur_n, self.cur_sum = cur

    # -- the band ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True once any value was learned."""
        return self.cur_hour != EMPTY_HOUR

    def band_at(self, hour: int) -> Band | None:
        """The band hour ``hour`` gets from what is known now; read-only.

        ``band_at(cur_hour)`` is ``band``; for an hour ahead it is the band that hour would
        get if nothing more were learned before it (the recent window as of now).
        """
        if self.cur_hour == EMPTY_HOUR:
            return None
        return self._compute_band(hour)

    def _compute_band(self, hour: int, keep: bool = False) -> Band | None:
        """The band of ``hour``; ``keep``: it is the current hour's (remember its usual
        range, to tell at its end whether it went beyond)."""
        n = len(self._rec_hi)
        if n < MIN_SLOTS:
            if keep:
                self._usual = (-math.inf, math.inf)
            return None
        r = min(int(self.rank_fraction * n) + 1, n)
        lo, hi = self._rec_lo[r - 1], self._rec_hi[n - r]
        spread = hi - lo
        over, under, mean_over, mean_under = self._days.ranks(hour)
        weekly = self._profile(hour, WEEK_SLOTS, WEEKLY_WEEKS)
        daily = self._profile(hour, DAY_SLOTS, DAILY_DAYS)
        narrow, period = (daily, DAY_SLOTS) if len(daily[0]) >= NARROW_DAYS else (None, 0)
        if len(weekly[0]) >= NARROW_WEEKS and (
                narrow is None or quieter(weekly, daily, samples_in(
                    self._hour, self._count, hour=hour, period=WEEK_SLOTS,
                    count=WEEKLY_WEEKS))):
            narrow, period = weekly, WEEK_SLOTS
        if narrow is not None:
            los, his = narrow
            # What this hour reached in any of the periods; from below only once a whole
            # week is known (the first weekend is quieter, not wrong): always so where the
            # periods are weeks.
            whole = len(los) * period >= NARROW_LOW_DAYS * DAY_SLOTS
            lo, hi = (los[0] if whole else min(lo, los[0])), his[-1]
            if period == DAY_SLOTS and len(weekly[0]) >= WEEKLY_MIN:
                # A weekly job: the high this hour of the week reached on any of the last
                # weeks is normal there (the Sunday backup makes Sundays busy).
                lo, hi = majority(weekly, lo, hi)[0], max(hi, weekly[1][-1])
            if keep:
                self._usual = (lo, hi)
            # A level held beyond the band for hours is the new normal (a level shift).
            s_lo, s_hi = sustained(self._hour, self._lo, self._hi, self.cur_hour,
                                   SUSTAINED_SLOTS)
            if self.beyond[0] >= SUSTAINED_SLOTS:
                hi = max(hi, s_hi)
            if self.beyond[1] >= SUSTAINED_SLOTS:
                lo = min(lo, s_lo)
            return Band(lo, hi, True, n, spread, period, over, under, mean_over, mean_under)
        seasonal = False
        for ranges, least in ((daily, DAILY_MIN), (weekly, WEEKLY_MIN)):
            if len(ranges[0]) >= least:
                seasonal = True
                lo, hi = majority(ranges, lo, hi)
        if keep:
            self._usual = (lo, hi)
        return Band(lo, hi, seasonal, n, spread, 0, over, under, mean_over, mean_under)

    def _profile(self, hour: int, period: int, count: int) -> Ranges:
        """The ranges at this hour of the period in the last ``count`` periods."""
        return periods(self._hour, self._lo, self._hi, self._count, hour=hour, period=period,
                       count=count)

    def lowest(self, start: int, stop: int) -> float:
        """The lowest value of the completed hours known from hour ``start`` to before
        ``stop`` (inf when none is)."""
        low = math.inf
        hours, lows = self._hour, self._lo
        for h in range(max(start, stop - RING_SLOTS), stop):
            i = h % RING_SLOTS
            if hours[i] == h and lows[i] < low:
                low = lows[i]
        return low

    def hour_range(self, hour: int) -> tuple[float, float, int]:
        """The lowest and highest value of ``hour`` (a completed hour) and its number of
        samples; (inf, -inf, 0) when it is not known."""
        i = hour % RING_SLOTS
        if self._hour[i] != hour:
            return math.inf, -math.inf, 0
        return self._lo[i], self._hi[i], self._count[i]

    def daily_means(self, days: int) -> list[float] | None:
        """The mean of each of the last ``days`` whole days (24 hours before the current
        hour, 48 to 24 before...), oldest first; None unless each has 20 of its hours."""
        out: list[float] = []
        for d in range(days, 0, -1):
            total, count = 0.0, 0
            for h in range(self.cur_hour - 24 * d, self.cur_hour - 24 * (d - 1)):
                i = h % RING_SLOTS
                if self._hour[i] == h:
                    total += self._mean[i]
                    count += 1
            if count < 20:  # most of the day
                return None
            out.append(total / count)
        return out

    # -- persistence ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact binary form (a few KB, compressed) for the state store.

        The band is not stored: it is a function of the stored hours.
        """
        return pack_baseline(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Baseline:
        """Rebuild a baseline from ``to_bytes``; ValueError when the data is not one
        (a corrupt row, or one of an older format: learning again is the safe side)."""
        self = cls()
        unpack_baseline(self, data)
        return self

    def reindex(self) -> None:
        """Rebuild what derives from the stored hours (the recent window's sorted ranks
        and the current band) after they were restored: the same inputs, the same band."""
        self._rec_hi, self._rec_lo, self._rec_mean = array("d"), array("d"), array("d")
        if self.cur_hour == EMPTY_HOUR:
            return
        for h in range(self.cur_hour - RECENT_SLOTS, self.cur_hour):
            i = h % RING_SLOTS
            if self._hour[i] == h:
                insort(self._rec_hi, self._hi[i])
                insort(self._rec_lo, self._lo[i])
                insort(self._rec_mean, self._mean[i])
        self.band = self._compute_band(self.cur_hour, keep=True)
