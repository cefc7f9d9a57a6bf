"""Forecasts: when will this metric reach its limit? ("/var will be full in about 7 hours")

On by default for disk and inode used percent and memory used percent (limit 100), and for
any metric whose thresholds declare a ``limit:``; configured per metric::

    thresholds:
      used_percent:
        forecast: {limit: 100, horizon: 7d, window: 2d, crit_horizon: 6h, crit_window: 2h}

(the block is ``forecast_settings``; the robust lines and statistics are
``forecast_stats``; this module keeps the trends, their state and their words).

Two trends are kept, each over its own window: the slow one (``window``, default 2 days)
warns when the limit is nearer than ``horizon`` (7 days), so a leak of a few percent a day
is seen a week ahead; the fast one (``crit_window``, 2 hours) is critical when the limit is
nearer than ``crit_horizon`` (6 hours), so a disk that fills in hours pages in time.

Algorithm, per trend: samples are averaged into 24 buckets per window (2 days: 2-hour
buckets; 2 hours: 5-minute buckets) and the last day and a window of buckets is kept
(37 and 313 numbers with their bucket indexes: 5.7 KB a series). At each full bucket:

* the trend is the Theil-Sen slope of the last window of bucket means (the median of the
  pairwise slopes: one odd bucket cannot tilt it), and the level is the robust line's
  value now;
* steadiness: the trend counts only when both halves of the window head the same way (a
  one-off step, a gap after which the level is another, is not a fill) and the rise over
  the window is larger than the scatter around the line (noise is not a trend);
* saw-tooth guard: if the metric fell back in the last day (and a window) by more than
  half of what the trend would move it in a day (or a window, if shorter: log rotation,
  a cache purge), the rise is a cycle, not a fill; the trend is then the mean change
  of each bucket since the same bucket a day before (about zero for a daily cycle), and
  counts only when it stands out of the noise (and, with a window of two days or more,
  when the day before changed the same way: a wandering metric does not rise two days
  running);
* a fill on top of a cycle is no cycle: with a window shorter than a day, when the change
  since the same buckets a day before is a steady rise, the window's rise beats the
  steepest of the same window a day before (or up to two hours later) by far more than
  the noise and by enough to reach the limit within 1.5 horizons, and the metric stands
  above that day's highs around this time, the trend is the window's own line (a runaway
  log on a disk whose logs rotate at midnight; a nightly staging file repeats last
  night's rise and stays a cycle);
* a cycle that stopped is a fill: once a whole day (and two hours' grace for a late
  rotation) was watched without the fall and the metric has risen past the highs before
  it (logrotate broke), the trend is the line through that day, not through the fall;
* ``hours_to_full = (limit - level) / slope`` when the trend heads for the limit in the
  configured ``direction`` (``rising`` by default; ``falling`` for free space sinking to a
  floor); 0 when the level is there already; None when the trend heads away, is not
  steady, or while no more than half a window of time is known, or fewer than 4 buckets
  (a check sparser than the buckets, every 15 minutes into 5-minute ones, fills one in
  three: each known one stands for the usual distance between them).

On the first day no cycle can be seen yet, so a steady rise is taken at its word (the slow
trend needs a day of data before it speaks, by which time a daily rotation has been seen),
but only as a warning: a fresh host's first busy morning (memory from 40 % to 75 % in four
hours) does not page. The state persists (``to_bytes``), so that happens once in a metric's
life, not per restart.

Each verdict is a problem when ``hours_to_full`` is at most its horizon (``severity``,
default warning, for ``horizon``; critical for ``crit_horizon``), and stays one until the
forecast is beyond 1.5 x that horizon again.
"""

from __future__ import annotations

import bisect
import math
import struct
from array import array
from itertools import pairwise

from agent.model import AlertKey, Finding, Status
from agent.thresholds import forecast_stats as stats
from agent.thresholds.forecast_settings import (
    DAY,
    FULL,
    HOUR,
    ForecastSettings,
    Heading,
    default_forecast,
    parse_limit,
)
from agent.thresholds.forecast_stats import HALF_SHARE, NOISE_FACTOR, theil_sen
from agent.units import format_duration, format_value

__all__ = ["FULL", "ForecastSettings", "Forecaster", "Heading", "Trend", "default_forecast",
           "explain", "forecast_finding", "hours_to_full", "judge_forecast", "parse_limit",
           "theil_sen"]

BUCKETS_PER_WINDOW = 24
#: A firing forecast resolves once it is beyond this many horizons again (hysteresis).
RESOLVE_FACTOR = 1.5
#: A rise in a cycle is a fill when it beats the same window's the day before by this
#: many standard deviations of a window's rise (a day has hundreds of windows, and a
#: wandering metric's rises are not normal: fewer would page on chance), that deviation
#: estimated from the median absolute one (``forecast_stats.spread``).
CHANGE_FACTOR = 8.0
#: A fall within the last day larger than this share of the trend's rise over a day (or
#: its window, if shorter) marks a cycle: the daily drop of a saw-tooth is its whole rise.
CYCLE_SHARE = 0.5
#: A cycle's fall may come this much later than a day after the one before (a rotation
#: whose time jitters) and it is still the cycle; a fall not seen for longer is missed.
CYCLE_GRACE = 2 * HOUR
#: A trend needs at least this many known buckets (samples, where they are sparser than
#: its buckets), besides more than half a window of time known.
MIN_BUCKETS = 4
#: A forecast this young (since its first sample) warns but never pages.
FIRST_DAY = DAY
_FORMAT = 2
_HEAD = struct.Struct("<BBd")
_TREND = struct.Struct("<ddqdddBI")


class Trend:
    """One trend over one window, and its verdict against one horizon.

    After each full bucket: ``hours_to_full`` (None when the limit is not being approached),
    ``slope`` (per hour), ``level`` and ``cyclic`` (the saw-tooth guard took the day's net
    change as the trend). ``firing`` is the verdict with its hysteresis.
    """

    __slots__ = ("_idx", "_mean", "_slots", "bucket", "cur_idx", "cur_n", "cur_sum",
                 "cyclic", "direction", "firing", "fitted", "horizon", "hours_to_full",
                 "level", "limit", "severity", "slope", "window")

    def __init__(self, limit: float, direction: Heading, window: float, horizon: float,
                 severity: Status) -> None:
        self.limit, self.direction, self.window = limit, direction, window
        self.horizon, self.severity = horizon, severity
        self.bucket = window / BUCKETS_PER_WINDOW
        self._slots = math.ceil(DAY / self.bucket) + BUCKETS_PER_WINDOW + 1
        self._idx = array("q", [-1]) * self._slots
        self._mean = array("d", [0.0]) * self._slots
        self.cur_idx = -1
        self.cur_sum = 0.0
        self.cur_n = 0
        self.hours_to_full: float | None = None
        self.slope = math.nan
        self.level = math.nan
        self.cyclic = False
        self.fitted = window  # the time the trend was fitted over (less after a stopped cycle)
        self.firing = False

    def add(self, t: float, value: float) -> None:
        """Learn one finite sample at epoch time ``t``."""
        idx = int(t // self.bucket)
        if idx != self.cur_idx:
            self._close(idx)
        self.cur_sum += value
        self.cur_n += 1

    def flush(self) -> None:
        """Count the bucket in progress as full (end of data): forecast from all of it."""
        if self.cur_n:
            self._close(self.cur_idx + 1)

    def judge(self) -> None:
        """Update ``firing`` from the latest forecast (with hysteresis)."""
        hours = self.hours_to_full
        horizon = self.horizon / HOUR
        if hours is None:
            self.firing = False
        elif self.firing:
            self.firing = hours <= horizon * RESOLVE_FACTOR
        else:
            self.firing = hours <= horizon

    def _close(self, idx: int) -> None:
        if self.cur_n:
            i = self.cur_idx % self._slots
            self._idx[i], self._mean[i] = self.cur_idx, self.cur_sum / self.cur_n
        if idx < self.cur_idx:  # the clock went back: the old trend means nothing now
            self._idx = array("q", [-1]) * self._slots
        self.cur_idx, self.cur_sum, self.cur_n = idx, 0.0, 0
        self._update(idx)

    def _known(self, start: int, stop: int) -> tuple[list[int], list[float]]:
        """The indexes and means of the known buckets in ``start..stop``."""
        n, idxs, means = self._slots, self._idx, self._mean
        ks = [k for k in range(max(start, stop - n + 1), stop) if idxs[k % n] == k]
        return ks, [means[k % n] for k in ks]

    def _update(self, idx: int) -> None:
        """Recompute the forecast from the full buckets before ``idx``."""
        ks, ys = self._known(idx - BUCKETS_PER_WINDOW, idx)
        self.hours_to_full = None
        if len(ks) < MIN_BUCKETS or 2 * stats.covered(ks) <= BUCKETS_PER_WINDOW:
            self.slope = self.level = math.nan
            return
        hours = self.bucket / HOUR
        xs = [k * hours for k in ks]
        slope, intercept = theil_sen(xs, ys)
        level = intercept + slope * (idx * self.bucket / HOUR)
        per_day = round(DAY / self.bucket)
        falling = self.direction is Heading.FALLING
        rise = abs(slope) * min(self.window, DAY) / HOUR
        self.cyclic, since = self._cycling(idx, per_day, CYCLE_SHARE * rise, falling)
        if self.cyclic and self._unlike_yesterday(idx, per_day, xs=xs, ys=ys, slope=slope,
                                                  level=level):
            self.cyclic, since = False, ks[0]  # a fill on top of the cycle: its own trend
        self.fitted = self.window
        if self.cyclic:
            slope, level, steady = self._day_over_day(idx, per_day)
        else:
            if since > ks[0]:  # a cycle that stopped: the fill since, without its last fall
                cut = bisect.bisect_left(ks, since)
                xs, ys = xs[cut:], ys[cut:]
                slope, intercept = theil_sen(xs, ys)
                level = intercept + slope * (idx * self.bucket / HOUR)
                self.fitted = (idx - ks[cut]) * self.bucket
            steady = stats.steady(xs, ys, slope, intercept, self.window / HOUR)
        self.slope, self.level = slope, level
        gap = self.limit - level
        if falling:
            gap, slope = -gap, -slope
        if gap <= 0:
            self.hours_to_full = 0.0  # there already
        elif slope > 0 and steady:
            self.hours_to_full = gap / slope

    def _cycling(self, idx: int, per_day: int, fall: float, falling: bool) -> tuple[bool, int]:
        """Whether the metric fell back by more than ``fall`` in the last day and a window,
        and the first bucket the trend is to be taken from.

        Only the last day (and a grace for a late fall) counts once the cycle has clearly
        stopped: that day was watched (a gap is no proof) and the metric has gone on past
        the highs before it (a log rotation that broke). The trend is then the rise since,
        not a line through the last fall. A cycle longer than a day, whose highs it has
        not reached yet, stays a cycle.
        """
        late = min(math.ceil(CYCLE_GRACE / self.bucket) + 1, BUCKETS_PER_WINDOW)
        start = idx - per_day - BUCKETS_PER_WINDOW
        ks, recent = self._known(start, idx)
        if falling:
            recent = [-y for y in recent]  # its saw-tooth jumps up: free space comes back
        if stats.largest_fall(recent) <= fall:
            return False, start
        day = bisect.bisect_left(ks, idx - per_day - late)
        if (day and stats.largest_fall(recent[day:]) <= fall and stats.covered(ks[day:]) >= per_day
                and stats.median(sorted(recent[-3:])) > max(recent[:day])):
            return False, ks[day]
        return True, start

    def _unlike_yesterday(self, idx: int, per_day: int, *, xs: list[float], ys: list[float],
                          slope: float, level: float) -> bool:
        """Whether the window's rise, in a cycle, is no repeat of the day before: a fill on
        top of the cycle, to be judged by the window's own trend.

        A cycle repeats: a saw-tooth rises as slowly as yesterday, a nightly staging file
        as fast as at this hour last night. A runaway log on a disk whose logs rotate at
        midnight does not. It is a fill when the change since the same time yesterday is
        itself a steady rise (as ``forecast_stats.steady`` judges a trend), and the window's
        rise beats
        the steepest rise of the same window a day before (or up to two hours later, for a
        job whose time varies; at least flat) by more than the noise, and by enough to
        reach the limit within 1.5 horizons on its own, and the latest buckets stand above
        the highs of the day before, two hours either side of this time, by more than the
        noise too (a staging file that comes an hour later than last night rises where
        yesterday's did not, but no higher than yesterday's did). The noise is ``CHANGE_FACTOR``
        times the larger of the spread of the rises of the other windows kept (a metric
        that wanders) and the tilt that the spread from bucket to bucket gives a line
        this long, and at least ``NOISE_FACTOR`` times the scatter around the line. Only
        for a window shorter than a day (one of a day or more holds the cycle itself, and
        the same window a day before is mostly the same buckets), and only when the day
        before was watched.
        """
        if self.window >= DAY:
            return False
        sign = -1.0 if self.direction is Heading.FALLING else 1.0
        gap, reach = sign * (self.limit - level), self.horizon / HOUR * RESOLVE_FACTOR
        if gap <= 0 or sign * slope * reach < gap:
            return False  # heading away, or not near enough to matter
        hours, window_h = self.bucket / HOUR, self.window / HOUR
        pks, diffs = self._pairs(idx - BUCKETS_PER_WINDOW, idx, per_day)
        if len(pks) < MIN_BUCKETS or 2 * stats.covered(pks) <= BUCKETS_PER_WINDOW:
            return False  # the day before was not watched: no proof of a change
        dxs = [k * hours for k in pks]
        change, offset = theil_sen(dxs, diffs)
        if sign * change <= 0 or not stats.steady(dxs, diffs, change, offset, window_h):
            return False  # (the cycle's own rise would make the window look steady too soon)
        late = min(math.ceil(CYCLE_GRACE / self.bucket), BUCKETS_PER_WINDOW)
        before = max([0.0, *(sign * r for shift in range(late + 1)
                             if (r := self._rise(idx - per_day + shift)) is not None)])
        stride = BUCKETS_PER_WINDOW // 4
        rises = [r for end in range(idx - BUCKETS_PER_WINDOW,
                                    idx - self._slots + BUCKETS_PER_WINDOW, -stride)
                 if (r := self._rise(end)) is not None]
        if len(rises) < MIN_BUCKETS:
            return False
        _, kept = self._known(idx - self._slots + 1, idx)
        mean_x = sum(xs) / len(xs)
        tilt = (stats.spread([b - a for a, b in pairwise(kept)]) / math.sqrt(2) * window_h
                / math.sqrt(sum((x - mean_x) ** 2 for x in xs)))
        intercept = level - slope * (idx * self.bucket / HOUR)
        noise = max(CHANGE_FACTOR * max(stats.spread(rises), tilt),
                    NOISE_FACTOR * stats.scatter(xs, ys, slope, intercept))
        beyond = sign * slope * window_h - before
        _, then = self._known(idx - per_day - late, idx - per_day + late + 1)
        high = max(sign * y for y in then)  # (the day before was watched: not empty)
        return (beyond > noise and beyond / window_h * reach >= gap
                and sign * stats.median(sorted(ys[-3:])) - high > noise)

    def _rise(self, end: int) -> float | None:
        """The trend's rise over the window of buckets before ``end`` (None if too little
        of it is known)."""
        ks, ys = self._known(end - BUCKETS_PER_WINDOW, end)
        if len(ks) < MIN_BUCKETS or 2 * stats.covered(ks) <= BUCKETS_PER_WINDOW:
            return None
        hours = self.bucket / HOUR
        return theil_sen([k * hours for k in ks], ys)[0] * self.window / HOUR

    def _day_over_day(self, idx: int, per_day: int) -> tuple[float, float, bool]:
        """A saw-tooth's trend: the mean change of each bucket since the same bucket a day
        before, over as many buckets as are kept, up to a whole day (a day's change no
        daily cycle moves; pairs, so a gap cannot misalign the cycle).

        The level is the median of the latest three buckets. Not steady unless at least
        half of the span has pairs and the change stands out of their scatter; where two
        days before are kept (a window of two days or more), the day before must have
        changed the same way as well (a metric that wanders does not rise two days running).
        """
        net = max(1, min(per_day, self._slots - per_day - 1))
        _, now_y = self._known(idx - net, idx)
        level = stats.median(sorted(now_y[-3:])) if now_y else math.nan
        days = 2 if self._slots > 2 * per_day + net else 1
        changes: list[float] = []
        steady = True
        for back in range(days):
            end = idx - back * per_day
            ks, diffs = self._pairs(end - net, end, per_day)
            if len(ks) < MIN_BUCKETS or 2 * stats.covered(ks) < net:
                return 0.0, level, False
            change = sum(diffs) / len(diffs)
            steady = steady and abs(change) > NOISE_FACTOR * stats.mean_error(diffs)
            changes.append(change)
        if len(changes) > 1 and min(changes) / max(changes, key=abs) < HALF_SHARE:
            steady = False
        return changes[0] / 24.0 if days == 1 else sum(changes) / 48.0, level, steady

    def _pairs(self, start: int, stop: int, lag: int) -> tuple[list[int], list[float]]:
        """Each known bucket in ``start..stop`` minus the known one ``lag`` buckets before
        (with the indexes of those that have one)."""
        ks, out = [], []
        for k in range(start, stop):
            i, j = k % self._slots, (k - lag) % self._slots
            if self._idx[i] == k and self._idx[j] == k - lag:
                ks.append(k)
                out.append(self._mean[i] - self._mean[j])
        return ks, out

    def pack(self) -> bytes:
        hours = math.nan if self.hours_to_full is None else self.hours_to_full
        return (_TREND.pack(self.bucket, self.cur_sum, self.cur_idx, self.slope, self.level,
                            hours, self.cyclic | (self.firing << 1), self.cur_n)
                + self._idx.tobytes() + self._mean.tobytes())

    @property
    def packed_size(self) -> int:
        return _TREND.size + self._slots * 16

    def unpack(self, data: bytes) -> None:
        """Restore ``pack`` output of a trend with the same window; ValueError otherwise."""
        if len(data) != self.packed_size:
            raise ValueError("stored forecast state has an unknown format or other settings")
        (bucket, cur_sum, cur_idx, slope, level, hours, flags,
         cur_n) = _TREND.unpack_from(data)
        if bucket != self.bucket:
            raise ValueError("stored forecast state was made with another window")
        off = _TREND.size
        self._idx = array("q", data[off:off + self._slots * 8])
        self._mean = array("d", data[off + self._slots * 8:])
        self.cur_sum, self.cur_idx, self.cur_n = cur_sum, cur_idx, cur_n
        self.slope, self.level = slope, level
        self.hours_to_full = None if math.isnan(hours) else hours
        self.cyclic, self.firing = bool(flags & 1), bool(flags & 2)
        if cur_idx >= 0:  # what the trend was fitted over is not stored: fit it again
            self._update(cur_idx)


class Forecaster:
    """The trend state of one metric. ``add(t, value)`` per sample; read the result fields.

    ``trends`` are the slow (warning) trend and, unless turned off, the fast (critical) one.
    ``hours_to_full``, ``slope``, ``level`` and ``cyclic`` are those of the leading trend:
    the firing one (critical first), else the one that sees the limit nearest, else the
    slow one. ``cur_idx`` and ``bucket`` are the finest trend's bucket in progress.
    ``since`` is when the history began (the first sample, or the clock going back).
    """

    __slots__ = ("_fine", "last", "settings", "since", "trends")

    def __init__(self, settings: ForecastSettings) -> None:
        self.settings = settings
        s = settings
        trends = [Trend(s.limit, s.direction, s.window, s.horizon, s.severity)]
        if s.crit_horizon is not None:
            trends.append(Trend(s.limit, s.direction, s.crit_window, s.crit_horizon,
                                Status.CRITICAL))
        self.trends = tuple(trends)
        self._fine = min(self.trends, key=lambda tr: tr.bucket)
        self.since = math.nan
        self.last = math.nan

    def add(self, t: float, value: float) -> None:
        """Learn one sample; non-finite values are ignored."""
        if not math.isfinite(value) or not math.isfinite(t):
            return
        if math.isnan(self.since) or t < self._fine.cur_idx * self._fine.bucket:
            self.since = t  # the first sample, or the clock went back: trends start again
        self.last = t
        for tr in self.trends:
            tr.add(t, value)

    def flush(self) -> None:
        """Count the buckets in progress as full (end of data): forecast from all of them."""
        for tr in self.trends:
            tr.flush()

    @property
    def lead(self) -> Trend:
        """The trend the verdict and its words come from."""
        firing = [tr for tr in self.trends if tr.firing]
        if firing:
            return max(firing, key=lambda tr: tr.severity.rank)
        known = [tr for tr in self.trends if tr.hours_to_full is not None]
        if known:
            return min(known, key=lambda tr: tr.hours_to_full or 0.0)
        return self.trends[0]

    @property
    def firing(self) -> bool:
        """Some trend's forecast is a problem now."""
        return any(tr.firing for tr in self.trends)

    @property
    def young(self) -> bool:
        """Less than a day of history: a daily ramp cannot be told from a fill yet."""
        return not self.last - self.since >= FIRST_DAY

    @property
    def status(self) -> Status:
        """The worst verdict of the trends (OK when none fires); only a warning while
        ``young``, so a fresh host's first busy morning does not page."""
        firing = [tr.severity for tr in self.trends if tr.firing]
        if not firing:
            return Status.OK
        return Status.WARNING if self.young else max(firing, key=lambda s: s.rank)

    @property
    def hours_to_full(self) -> float | None:
        return self.lead.hours_to_full

    @property
    def slope(self) -> float:
        return self.lead.slope

    @property
    def level(self) -> float:
        return self.lead.level

    @property
    def cyclic(self) -> bool:
        return self.lead.cyclic

    @property
    def cur_idx(self) -> int:
        return self._fine.cur_idx

    @property
    def bucket(self) -> float:
        return self._fine.bucket

    def to_bytes(self) -> bytes:
        """The trend state as compact bytes (settings excluded)."""
        return (_HEAD.pack(_FORMAT, len(self.trends), self.since)
                + b"".join(tr.pack() for tr in self.trends))

    @classmethod
    def from_bytes(cls, data: bytes, settings: ForecastSettings) -> Forecaster:
        """Restore ``to_bytes`` output for the same settings; ValueError otherwise."""
        self = cls(settings)
        size = _HEAD.size + sum(tr.packed_size for tr in self.trends)
        if len(data) != size or data[0] != _FORMAT or data[1] != len(self.trends):
            raise ValueError("stored forecast state has an unknown format or other settings")
        _, _, self.since = _HEAD.unpack_from(data)
        off = _HEAD.size
        for tr in self.trends:
            tr.unpack(data[off:off + tr.packed_size])
            off += tr.packed_size
        return self


def hours_to_full(samples: list[tuple[float, float]], settings: ForecastSettings) -> float | None:
    """Hours until ``settings.limit`` from ``(epoch seconds, value)`` samples, or None."""
    f = Forecaster(settings)
    for t, v in samples:
        f.add(t, v)
    f.flush()
    return f.hours_to_full


def judge_forecast(state: Forecaster, t: float, value: float, metric: str = "value",
                   key: AlertKey | None = None) -> tuple[Forecaster, Finding | None]:
    """Learn one sample and judge the forecast; a Finding when ``key`` is given.

    Problem (the trend's severity) when the limit will be reached within its horizon;
    a firing forecast stays a problem until it is beyond 1.5 x that horizon again.
    """
    state.add(t, value)
    for tr in state.trends:
        tr.judge()
    if key is None:
        return state, None
    return state, forecast_finding(state, key, value, metric)


def forecast_finding(state: Forecaster, key: AlertKey, value: float, metric: str) -> Finding:
    """The Finding of a forecaster that has already seen this sample (via judge_forecast)."""
    return Finding(key, state.status, explain(state, metric), value,
                   f"limit {format_value(metric, state.settings.limit)}")


def explain(state: Forecaster, metric: str) -> str:
    """``used_percent will reach 100% in about 7h (rising 4.2% per hour over the last 2h)``;
    ``... in about 6d 23h (rising 3.07% a day over the last 2d)`` for a slow trend."""
    tr = state.lead
    limit = format_value(metric, tr.limit)
    hours = tr.hours_to_full
    if hours is None:
        if math.isnan(tr.slope):
            return f"{metric}: not enough history for a forecast yet"
        return f"{metric} is not heading for {limit}"
    # A slow trend reads best per day ("3% a day"), a fast one per hour.
    daily = tr.cyclic or tr.window >= DAY
    rate = format_value(metric, abs(tr.slope) * (24 if daily else 1))
    way = "rising" if tr.slope > 0 else "falling"
    per = "a day" if daily else "per hour"
    over = (", day over day" if tr.cyclic
            else f" over the last {format_duration(tr.fitted)}")
    when = "now" if hours <= 0 else f"in about {format_duration(hours * 3600)}"
    return f"{metric} will reach {limit} {when} ({way} {rate} {per}{over})"
