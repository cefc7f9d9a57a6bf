"""Rollups made in memory: each series' open 5-minute and 1-hour buckets, closed into rows.

Pure: time comes in as arguments. A series holds two small buckets (the 5-minute one its
samples go into, and the hour that closed 5-minute buckets are folded into), so the
memory a series costs does not grow with its samples. A bucket closes when a sample of a
later bucket comes, or when ``close_before`` is asked at a time past its end; the hour
closes with its last 5-minute bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The rollups' widths, in seconds.
FIVE_MINUTES = 300
HOUR = 3600


@dataclass(slots=True)
class Bucket:
    """Samples of one series summed up over ``[start, start + width)``."""

    start: int
    n: int
    low: float
    high: float
    total: float

    @classmethod
    def of(cls, start: int, value: float) -> Bucket:
        return cls(start, 1, value, value, value)

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        if value < self.low:
            self.low = value
        elif value > self.high:
            self.high = value

    def fold(self, other: Bucket) -> None:
        """Take in a (shorter) bucket's samples."""
        self.n += other.n
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)

    @property
    def mean(self) -> float:
        return self.total / self.n


@dataclass(frozen=True, slots=True)
class Rollup:
    """A closed bucket of one series: a row of ``history_5m`` or ``history_1h``."""

    series: int
    width: int
    start: int
    n: int
    low: float
    high: float
    mean: float


def bucket_start(at: float, width: int) -> int:
    """The start of the bucket of ``width`` seconds that holds ``at``."""
    return int(at // width) * width


class SeriesRollups:
    """One series' open buckets."""

    __slots__ = ("five", "hour", "series")

    def __init__(self, series: int) -> None:
        self.series = series
        self.five: Bucket | None = None
        self.hour: Bucket | None = None

    def add(self, at: float, value: float, out: list[Rollup]) -> None:
        """Count a sample taken at ``at``; the buckets it closes go to ``out``. A sample
        older than the open bucket (the clock went back) counts in the open one."""
        start = bucket_start(at, FIVE_MINUTES)
        five = self.five
        if five is not None and start > five.start:
            self._close_five(out)
            five = None
        if self.hour is not None and bucket_start(at, HOUR) > self.hour.start:
            self._close_hour(out)
        if five is None:
            self.five = Bucket.of(start, value)
        else:
            five.add(value)

    def close_before(self, now: float, out: list[Rollup]) -> None:
        """Close the buckets that ended at or before ``now`` (a series that stopped
        reporting, or a flush)."""
        if self.five is not None and self.five.start + FIVE_MINUTES <= now:
            self._close_five(out)
        if self.hour is not None and self.hour.start + HOUR <= now:
            self._close_hour(out)

    def close_all(self, out: list[Rollup]) -> None:
        """Close the open buckets, however partial (at shutdown: a restart within the
        same bucket adds to its row)."""
        if self.five is not None:
            self._close_five(out)
        if self.hour is not None:
            self._close_hour(out)

    @property
    def empty(self) -> bool:
        return self.five is None and self.hour is None

    def _close_five(self, out: list[Rollup]) -> None:
        five = self.five
        if five is None:
            return
        self.five = None
        out.append(_row(self.series, FIVE_MINUTES, five))
        start = bucket_start(five.start, HOUR)
        if self.hour is not None and start > self.hour.start:
            self._close_hour(out)
        if self.hour is None:
            self.hour = Bucket(start, five.n, five.low, five.high, five.total)
        else:
            self.hour.fold(five)

    def _close_hour(self, out: list[Rollup]) -> None:
        hour = self.hour
        if hour is None:
            return
        self.hour = None
        out.append(_row(self.series, HOUR, hour))


def _row(series: int, width: int, bucket: Bucket) -> Rollup:
    return Rollup(series, width, bucket.start, bucket.n, bucket.low, bucket.high, bucket.mean)
