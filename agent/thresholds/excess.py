"""How far a metric went beyond its normal range, day by day: the scale of its surprises.

Each hour that ends notes how far it went beyond its band (above, below; in band widths)
and how far its mean went beyond the recent hours' means. A day keeps the most of each.
The ``EXCESS_RANK``-th largest of the last ``EXCESS_DAYS`` days (the largest while fewer
than ``EXCESS_MIN_DAYS`` are known) is how far the metric strays on an ordinary bad day:
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
_DAY_HOURS = 24
_EMPTY = -(2**62)
_NAN4 = (math.nan, math.nan, math.nan, math.nan)


class DailyExcess:
    """The most each of the last ``EXCESS_DAYS`` days went beyond its bands and means."""

    __slots__ = ("_day", "_down", "_mean_down", "_mean_up", "_up")
    #: Bytes of ``to_bytes``.
    SIZE = EXCESS_DAYS * 40

    def __init__(self) -> None:
        self._day = array("q", [_EMPTY]) * EXCESS_DAYS
        self._up = array("d", [0.0]) * EXCESS_DAYS
        self._down = array("d", [0.0]) * EXCESS_DAYS
        self._mean_up = array("d", [0.0]) * EXCESS_DAYS
        self._mean_down = array("d", [0.0]) * EXCESS_DAYS

    def note(self, hour: int, up: float, down: float, mean_up: float,
             mean_down: float) -> None:
        """Hour ``hour`` (since the epoch) went this far beyond (all >= 0)."""
        day = hour // _DAY_HOURS
        j = day % EXCESS_DAYS
        if self._day[j] != day:
            self._day[j] = day
            self._up[j] = self._down[j] = self._mean_up[j] = self._mean_down[j] = 0.0
        self._up[j] = max(up, self._up[j])
        self._down[j] = max(down, self._down[j])
        self._mean_up[j] = max(mean_up, self._mean_up[j])
        self._mean_down[j] = max(mean_down, self._mean_down[j])

    def ranks(self, hour: int) -> tuple[float, float, float, float]:
        """The day that counts as of ``hour``: how far beyond the band above and below,
        and beyond the means above and below; NaN before any day is known."""
        first = hour // _DAY_HOURS - EXCESS_DAYS
        days = [j for j, d in enumerate(self._day) if d > first]
        if not days:
            return _NAN4
        # The first days: the largest so far (few days tell little of the odd one).
        k = -min(EXCESS_RANK, len(days)) if len(days) >= EXCESS_MIN_DAYS else -1
        return (sorted(self._up[j] for j in days)[k], sorted(self._down[j] for j in days)[k],
                sorted(self._mean_up[j] for j in days)[k],
                sorted(self._mean_down[j] for j in days)[k])

    def to_bytes(self) -> bytes:
        """``SIZE`` bytes to store."""
        return (self._day.tobytes() + self._up.tobytes() + self._down.tobytes()
                + self._mean_up.tobytes() + self._mean_down.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> DailyExcess:
        """Rebuild from ``to_bytes``; ValueError when the size is not that."""
        if len(data) != cls.SIZE:
            raise ValueError("stored excess has an unknown size")
        self = cls()
        n = EXCESS_DAYS * 8
        self._day = array("q", data[:n])
        self._up = array("d", data[n:2 * n])
        self._down = array("d", data[2 * n:3 * n])
        self._mean_up = array("d", data[3 * n:4 * n])
        self._mean_down = array("d", data[4 * n:])
        return self
