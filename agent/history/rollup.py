"""Rollups made in memory: each series' open 5-minute bucket, closed into rows.

Pure: time comes in as arguments. A series holds one small bucket (the 5-minute one its
samples go into), so the memory a series costs does not grow with its samples. A bucket
closes when a sample of a later bucket comes, or when ``close_before`` is asked at a time
past its end. A closed bucket is written twice: as its 5-minute row, and added to its
hour's row (the store sums what is added to a row), so no hour waits in memory and a
crash loses at most the open 5 minutes of the rollups.
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

    @property
    def mean(self) -> float:
        return self.total / self.n


@dataclass(frozen=True, slots=True)
class Rollup:
    """A closed bucket of one series: a row of ``history_5m``, or what it adds to its
    hour's row of ``history_1h``."""

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
    """One series' open bucket."""

    __slots__ = ("five", "series")

    def __init__(self, series: int) -> None:
        self.series = series
        self.five: Bucket | None = None

    def add(self, at: float, value: float, out: list[Rollup]) -> None:
        """Count a sample taken at ``at``; the bucket it closes goes to ``out``. A sample
        older than the open bucket (the clock went back) counts in the open one."""
        start = bucket_start(at, FIVE_MINUTES)
        five = self.five
        if five is None:
            self.five = Bucket.of(start, value)
        elif start > five.start:
            self._close(out)
            self.five = Bucket.of(start, value)
        else:
            five.add(value)

    def close_before(self, now: float, out: list[Rollup]) -> None:
        """Close the bucket if it ended at or before ``now`` (a series that stopped
        reporting, or a flush)."""
        if self.five is not None and self.five.start + FIVE_MINUTES <= now:
            self._close(out)

    def close_all(self, out: list[Rollup]) -> None:
        """Close the open bucket, however partial (at shutdown: a restart within the same
        bucket adds to its row)."""
        if self.five is not None:
            self._close(out)

    @property
    def empty(self) -> bool:
        return self.five is None

    def _close(self, out: list[Rollup]) -> None:
        five = self.five
        if five is None:
            return
        self.five = None
        out.append(_row(self.series, FIVE_MINUTES, five.start, five))
        out.append(_row(self.series, HOUR, bucket_start(five.start, HOUR), five))


def _row(series: int, width: int, start: int, bucket: Bucket) -> Rollup:
    return Rollup(series, width, start, bucket.n, bucket.low, bucket.high, bucket.mean)
