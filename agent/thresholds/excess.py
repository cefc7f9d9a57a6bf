"""How far a metric went beyond its normal range, day by day: the scale of its surprises.

Each hour that ends notes how far it went beyond its band (above, below; in band widths)
and how far its mean went beyond the recent hours' means, and how far the last hours
together went below and above the same hours of the last days (in widths of those days'
range, noted on the day the stretch began). A day keeps the most of each.
The ``EXCESS_RANK``-th largest of the last ``EXCESS_DAYS`` days (the largest while fewer
than ``EXCESS_MIN_DAYS`` are known, and in the first week at least a share of the largest)
is how far the metric strays on an ordinary bad day:
a value must go further than that to be unusual, so a metric with a burst every day needs
a bigger burst, and false alerts stay a matter of days, not of samples.
"""

from __future__ import annotations

import math
from array import array

#: Days kept (twelve weeks: with the third largest counting, about one day in thirty
#: goes beyond once they are known, where four weeks gave one in ten), the rank of the
#: day that counts (3: the two largest could be anomalies), and the days needed before
#: it counts.
EXCESS_DAYS = 84
EXCESS_RANK = 3
EXCESS_MIN_DAYS = 3
#: While fewer than this many days are known, the third largest may be a calm day (of
#: three, it is the calmest): the day that counts goes at least this share as far as the
#: largest.
EXCESS_EARLY_DAYS = 7
EXCESS_EARLY_SHARE = 0.15
_DAY_HOURS = 24
_EMPTY = -(2**62)
_NAN4 = (math.nan, math.nan, math.nan, math.nan)
_NO_RANK: tuple[int, int, tuple[float, float]] = (_EMPTY, 0, (math.nan, math.nan))


def _counting(largest: list[float], days: int) -> float:
    """The day that counts of ``days`` known, from their largest values (largest first):
    the ``EXCESS_RANK``-th largest, the largest while few days are known (they tell little
    of the odd one), and at least a share of the largest in the first week."""
    if days < EXCESS_MIN_DAYS:
        return largest[0]
    rank = largest[EXCESS_RANK - 1]
    return max(rank, EXCESS_EARLY_SHARE * largest[0]) if days < EXCESS_EARLY_DAYS else rank


class DailyExcess:
    """The most each of the last ``EXCESS_DAYS`` days went beyond its bands and means."""

    __slots__ = ("_busy", "_day", "_down", "_mean_down", "_mean_up", "_past", "_quiet",
                 "_stretch_rank", "_up")
    #: Bytes of ``to_bytes``; the older forms read: before the stretches above were kept
    #: (``QUIET_SIZE``), before any stretch was (``OLD_SIZE``).
    SIZE = EXCESS_DAYS * 56
    QUIET_SIZE = EXCESS_DAYS * 48
    OLD_SIZE = EXCESS_DAYS * 40

    def __init__(self) -> None:
        self._day = array("q", [_EMPTY]) * EXCESS_DAYS
        self._up = array("d", [0.0]) * EXCESS_DAYS
        self._down = array("d", [0.0]) * EXCESS_DAYS
        self._mean_up = array("d", [0.0]) * EXCESS_DAYS
        self._mean_down = array("d", [0.0]) * EXCESS_DAYS
        # Below and above; NaN: no stretch of that day could be compared with the days
        # before.
        self._quiet = array("d", [math.nan]) * EXCESS_DAYS
        self._busy = array("d", [math.nan]) * EXCESS_DAYS
        # (day, least days, ranks): the days before a day are final once its stretches are
        # judged (a stretch is noted on the day it began), so the ranks hold all day.
        self._stretch_rank = _NO_RANK
        # What ``ranks`` needs of the days before one day (they do not change during it):
        # (that day, how many, the newest day known, the largest few of each measure).
        self._past: tuple[int, int, int, tuple[list[float], ...]] | None = None

    def _slot(self, day: int) -> int:
        """The slot of ``day``, emptied first if it held an older day."""
        j = day % EXCESS_DAYS
        if self._day[j] != day:
            self._day[j] = day
            self._up[j] = self._down[j] = self._mean_up[j] = self._mean_down[j] = 0.0
            self._quiet[j] = self._busy[j] = math.nan
            # A day came (and the oldest went): what was summed up of the days is stale.
            self._past = None
            self._stretch_rank = _NO_RANK
        return j

    def note(self, hour: int, up: float, down: float, mean_up: float,
             mean_down: float) -> None:
        """Hour ``hour`` (since the epoch) went this far beyond (all >= 0)."""
        day = hour // _DAY_HOURS
        j = self._slot(day)
        if self._past is not None and day != self._past[0]:  # not the day summed up for
            self._past = None
        self._up[j] = max(up, self._up[j])
        self._down[j] = max(down, self._down[j])
        self._mean_up[j] = max(mean_up, self._mean_up[j])
        self._mean_down[j] = max(mean_down, self._mean_down[j])

    def ranks(self, hour: int) -> tuple[float, float, float, float]:
        """The day that counts as of ``hour``: how far beyond the band above and below,
        and beyond the means above and below; NaN before any day is known."""
        day = hour // _DAY_HOURS
        past = self._past
        if past is None or past[0] != day:
            past = self._past = self._summarize(day)
        _, count, newest, tops = past
        if newest > day:  # days after this one are known (the clock went back): all of it
            return self._ranks_of(day - EXCESS_DAYS)
        j = day % EXCESS_DAYS
        today = self._day[j] == day
        n = count + today
        if not n:
            return _NAN4
        out = []
        for top, values in zip(tops, self._measures(), strict=True):
            known = [*top, values[j]] if today else list(top)
            known.sort(reverse=True)
            out.append(_counting(known, n))
        return out[0], out[1], out[2], out[3]

    def _measures(self) -> tuple[array[float], ...]:
        return self._up, self._down, self._mean_up, self._mean_down

    def _summarize(self, day: int) -> tuple[int, int, int, tuple[list[float], ...]]:
        """The days before ``day`` (within the window): how many, the newest day known,
        and the ``EXCESS_RANK`` largest of each measure, largest first."""
        first = day - EXCESS_DAYS
        days = [j for j, d in enumerate(self._day) if first < d < day]
        tops = tuple(sorted((values[j] for j in days), reverse=True)[:EXCESS_RANK]
                     for values in self._measures())
        return day, len(days), max(self._day), tops

    def _ranks_of(self, first: int) -> tuple[float, float, float, float]:
        """``ranks`` from every day after ``first``, sorted."""
        days = [j for j, d in enumerate(self._day) if d > first]
        if not days:
            return _NAN4
        up, down, mean_up, mean_down = (
            _counting(sorted((values[j] for j in days), reverse=True), len(days))
            for values in self._measures())
        return up, down, mean_up, mean_down

    def note_stretch(self, hour: int, below: float, above: float) -> None:
        """The stretch of hours that began in hour ``hour`` went ``below`` and ``above``
        (both >= 0) the same hours of the last days."""
        day = hour // _DAY_HOURS
        j = self._slot(day)
        if not self._quiet[j] >= below:  # NaN: the first of the day
            self._quiet[j] = below
        if not self._busy[j] >= above:
            self._busy[j] = above
        if day < self._stretch_rank[0]:  # the clock went back
            self._stretch_rank = _NO_RANK

    def stretch_ranks(self, hour: int, least_days: int) -> tuple[float, float]:
        """How far below and above the same hours of the last days the stretches of the
        day that counts went (the ``EXCESS_RANK``-th largest), of the days before the one
        of hour ``hour`` (a stretch is not judged by itself); NaN while fewer than
        ``least_days`` days had a stretch to compare."""
        day = hour // _DAY_HOURS
        cached_day, cached_least, cached = self._stretch_rank
        if (cached_day, cached_least) == (day, least_days):
            return cached
        need = max(least_days, EXCESS_RANK)
        ranks: list[float] = []
        for measure in (self._quiet, self._busy):  # each counts the days that noted it
            known = sorted(v for d, v in zip(self._day, measure, strict=True)
                           if day - EXCESS_DAYS <= d < day and not math.isnan(v))
            ranks.append(known[-EXCESS_RANK] if len(known) >= need else math.nan)
        below, above = ranks
        self._stretch_rank = (day, least_days, (below, above))
        return below, above

    def to_bytes(self) -> bytes:
        """``SIZE`` bytes to store."""
        return (self._day.tobytes() + self._up.tobytes() + self._down.tobytes()
                + self._mean_up.tobytes() + self._mean_down.tobytes() + self._quiet.tobytes()
                + self._busy.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> DailyExcess:
        """Rebuild from ``to_bytes`` (or an older form, which knows fewer stretches:
        none above, or none at all); ValueError when the size is none of them."""
        if len(data) not in (cls.SIZE, cls.QUIET_SIZE, cls.OLD_SIZE):
            raise ValueError("stored excess has an unknown size")
        self = cls()
        n = EXCESS_DAYS * 8
        self._day = array("q", data[:n])
        self._up = array("d", data[n:2 * n])
        self._down = array("d", data[2 * n:3 * n])
        self._mean_up = array("d", data[3 * n:4 * n])
        self._mean_down = array("d", data[4 * n:5 * n])
        if len(data) >= cls.QUIET_SIZE:
            self._quiet = array("d", data[5 * n:6 * n])
        if len(data) == cls.SIZE:
            self._busy = array("d", data[6 * n:])
        return self
