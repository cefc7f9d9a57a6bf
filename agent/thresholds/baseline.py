"""The learned normal range of one metric: hourly summaries, robust ranks, seasonal bands.

History is kept as one summary per clock hour (lowest and highest value seen in it) in a
ring of three weeks, so memory is fixed (12 KB of arrays, about 17 KB in all, per metric)
however fast samples arrive and however long the agent runs. Each new hour the *band* (the normal
range for that hour) is recomputed from completed hours only:

* **recent**: over the last 7 days, the range reached in more than ``rank_fraction`` of
  the hours (by default 5 %: 9 of a week's 168 hours, 2 of the first day's 24). One
  spike, or a few, cannot widen it; a lasting level shift widens it once it has lasted
  that many hours.
* **daily**: the range reached at this hour of the day (give or take an hour) on most of
  the last 7 days (all of one known day, both of two, two of three, ...). A nightly backup
  at 02:00 makes 02:00 busy, not 14:00.
* **weekly**: the same at this hour of the week on most of the last 3 weeks, once 2 weeks
  are known (the Sunday job).

The band is the union of those ranges. All of it is O(1) per sample; the hourly recompute
costs a few microseconds.
"""

from __future__ import annotations

import math
import struct
import zlib
from array import array
from bisect import bisect_left, insort
from dataclasses import dataclass

SLOT_SECONDS = 3600
DAY_SLOTS = 24
WEEK_SLOTS = 7 * DAY_SLOTS
#: Hourly summaries kept: three weeks (the weekly band looks that far back).
RING_SLOTS = 3 * WEEK_SLOTS
#: The window of the rank-based recent range.
RECENT_SLOTS = WEEK_SLOTS
DAILY_DAYS = 7
WEEKLY_WEEKS = 3
#: Days (weeks) of the same hour that must be known before the daily (weekly) band counts.
DAILY_MIN = 1
WEEKLY_MIN = 2
#: Completed hours needed before there is any band at all.
MIN_SLOTS = 3
_EMPTY = -(2**62)
_FORMAT = 1
_HEADER = struct.Struct("<Bdqqdd")


@dataclass(frozen=True, slots=True)
class Band:
    """The normal range for one hour, and where it came from."""

    lo: float
    hi: float
    #: A daily or weekly profile was known for this hour (it may or may not have widened it).
    seasonal: bool
    #: Completed hours in the recent window.
    hours: int


class Baseline:
    """Hourly low/high summaries of one metric and the band derived from them.

    ``add(hour, value)`` learns a value of clock hour ``hour`` (an integer count of hours,
    local time); ``band`` is the normal range for the current hour, or None while fewer than
    ``MIN_SLOTS`` hours are known.
    """

    __slots__ = (
        "_hi",
        "_hour",
        "_lo",
        "_rec_hi",
        "_rec_lo",
        "band",
        "cur_hi",
        "cur_hour",
        "cur_lo",
        "cur_n",
        "rank_fraction",
    )

    def __init__(self, rank_fraction: float = 0.05) -> None:
        if not 0.0 <= rank_fraction < 0.5:
            raise ValueError("rank_fraction must be in [0, 0.5)")
        self.rank_fraction = rank_fraction
        self._clear()

    def _clear(self) -> None:
        self._hour = array("q", [_EMPTY]) * RING_SLOTS
        self._lo = array("d", [0.0]) * RING_SLOTS
        self._hi = array("d", [0.0]) * RING_SLOTS
        self._rec_hi = array("d")  # sorted highs of the recent window
        self._rec_lo = array("d")  # sorted lows of the recent window
        self.cur_hour = _EMPTY
        self.cur_lo = math.inf
        self.cur_hi = -math.inf
        self.cur_n = 0
        self.band: Band | None = None

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
        return rolled

    def roll(self, hour: int) -> None:
        """Close the current hour and start ``hour``: store, expire, recompute the band.

        A clock that went back moves the whole history back with it (the hours already
        learned keep their order); a gap longer than the recent window starts afresh.
        """
        prev = self.cur_hour
        if prev == _EMPTY:
            self.cur_hour = hour
            return
        if hour < prev:
            self._shift(hour - prev)
            self.band = self._compute_band(hour)
            return
        if hour - prev > RECENT_SLOTS:
            self.reset()
            self.cur_hour = hour
            return
        if self.cur_n:
            self._store(prev, self.cur_lo, self.cur_hi)
        self.cur_lo, self.cur_hi, self.cur_n = math.inf, -math.inf, 0
        self.cur_hour = hour
        self._expire(prev - RECENT_SLOTS, hour - RECENT_SLOTS)
        self.band = self._compute_band(hour)

    def reset(self) -> None:
        """Forget everything learned."""
        self._clear()

    def _store(self, hour: int, lo: float, hi: float) -> None:
        i = hour % RING_SLOTS
        if self._hour[i] == hour:  # the same hour again (after a clock shift): merge
            self._unrecent(i)
            lo, hi = min(lo, self._lo[i]), max(hi, self._hi[i])
        self._hour[i], self._lo[i], self._hi[i] = hour, lo, hi
        insort(self._rec_hi, hi)
        insort(self._rec_lo, lo)

    def _unrecent(self, i: int) -> None:
        rec = self._rec_hi
        j = bisect_left(rec, self._hi[i])
        if j < len(rec) and rec[j] == self._hi[i]:
            rec.pop(j)
        rec = self._rec_lo
        j = bisect_left(rec, self._lo[i])
        if j < len(rec) and rec[j] == self._lo[i]:
            rec.pop(j)

    def _expire(self, start: int, stop: int) -> None:
        """Drop the hours in [start, stop) from the recent window."""
        for h in range(max(start, stop - RING_SLOTS), stop):
            i = h % RING_SLOTS
            if self._hour[i] == h:
                self._unrecent(i)

    def _shift(self, delta: int) -> None:
        hours = [(h + delta, self._lo[i], self._hi[i])
                 for i, h in enumerate(self._hour) if h != _EMPTY]
        cur = (self.cur_lo, self.cur_hi, self.cur_n)
        self._hour = array("q", [_EMPTY]) * RING_SLOTS
        self._rec_hi, self._rec_lo = array("d"), array("d")
        self.cur_hour += delta
        for h, lo, hi in hours:
            if h >= self.cur_hour - RING_SLOTS:
                self._store(h, lo, hi)
        self._expire(self.cur_hour - RING_SLOTS, self.cur_hour - RECENT_SLOTS)
        self.cur_lo, self.cur_hi, self.cur_n = cur

    # -- the band ------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True once any value was learned."""
        return self.cur_hour != _EMPTY

    def band_at(self, hour: int) -> Band | None:
        """The band hour ``hour`` gets from what is known now; read-only.

        ``band_at(cur_hour)`` is ``band``; for an hour ahead it is the band that hour would
        get if nothing more were learned before it (the recent window as of now).
        """
        if self.cur_hour == _EMPTY:
            return None
        return self._compute_band(hour)

    def _compute_band(self, hour: int) -> Band | None:
        n = len(self._rec_hi)
        if n < MIN_SLOTS:
            return None
        r = min(int(self.rank_fraction * n) + 1, n)
        lo, hi = self._rec_lo[r - 1], self._rec_hi[n - r]
        seasonal = False
        for period, count, least in ((DAY_SLOTS, DAILY_DAYS, DAILY_MIN),
                                     (WEEK_SLOTS, WEEKLY_WEEKS, WEEKLY_MIN)):
            found = self._seasonal(hour, period, count, least)
            if found is not None:
                seasonal = True
                lo, hi = min(lo, found[0]), max(hi, found[1])
        return Band(lo, hi, seasonal, n)

    def _seasonal(self, hour: int, period: int, count: int,
                  least: int) -> tuple[float, float] | None:
        """The range reached near this hour of the period in most of the last periods."""
        los: list[float] = []
        his: list[float] = []
        hours, lo_a, hi_a = self._hour, self._lo, self._hi
        for k in range(1, count + 1):
            lo, hi = math.inf, -math.inf
            for h in (hour - k * period - 1, hour - k * period, hour - k * period + 1):
                i = h % RING_SLOTS
                if hours[i] == h:
                    lo, hi = min(lo, lo_a[i]), max(hi, hi_a[i])
            if hi >= lo:
                los.append(lo)
                his.append(hi)
        m = len(his)
        if m < least:
            return None
        # A level reached on a strict majority of the periods (both of two, two of three...).
        his.sort()
        los.sort(reverse=True)
        return los[(m - 1) // 2], his[(m - 1) // 2]

    # -- persistence ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact binary form (a few KB, compressed) for the state store.

        The band is not stored: it is a function of the stored hours.
        """
        head = _HEADER.pack(_FORMAT, self.rank_fraction, self.cur_hour, self.cur_n,
                            self.cur_lo, self.cur_hi)
        return zlib.compress(head + self._hour.tobytes() + self._lo.tobytes()
                             + self._hi.tobytes(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> Baseline:
        """Rebuild a baseline from ``to_bytes``; ValueError when the data is not one."""
        try:
            body = zlib.decompress(data)
        except zlib.error as exc:
            raise ValueError(f"stored baseline is corrupt ({exc})") from None
        size = _HEADER.size + RING_SLOTS * 24
        if len(body) != size or body[0] != _FORMAT:
            raise ValueError("stored baseline has an unknown format or size")
        _, frac, cur_hour, cur_n, cur_lo, cur_hi = _HEADER.unpack_from(body)
        self = cls(frac)
        off = _HEADER.size
        self._hour = array("q", body[off:off + RING_SLOTS * 8])
        self._lo = array("d", body[off + RING_SLOTS * 8:off + RING_SLOTS * 16])
        self._hi = array("d", body[off + RING_SLOTS * 16:])
        self.cur_hour, self.cur_n, self.cur_lo, self.cur_hi = cur_hour, cur_n, cur_lo, cur_hi
        if cur_hour != _EMPTY:
            for h in range(cur_hour - RECENT_SLOTS, cur_hour):
                i = h % RING_SLOTS
                if self._hour[i] == h:
                    insort(self._rec_hi, self._hi[i])
                    insort(self._rec_lo, self._lo[i])
            self.band = self._compute_band(cur_hour)  # the same inputs give the same band
        return self
