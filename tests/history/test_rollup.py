"""Rollups summed up in memory: which buckets close when, and what they hold."""

from __future__ import annotations

import pytest

from agent.history.rollup import FIVE_MINUTES, HOUR, Rollup, SeriesRollups

T0 = 1_800_000_000 // HOUR * HOUR

#: (samples as (offset seconds, value), flush at offset or None, rollups written)
CASES = [
    ("one bucket stays open until its end",
     [(0, 1.0), (60, 3.0)], 299,
     []),
    ("a flush past its end closes it, adding it to its hour",
     [(0, 1.0), (60, 3.0)], 300,
     [Rollup(7, FIVE_MINUTES, T0, 2, 1.0, 3.0, 2.0), Rollup(7, HOUR, T0, 2, 1.0, 3.0, 2.0)]),
    ("a sample of the next bucket closes the one before",
     [(0, 4.0), (299, 2.0), (300, 9.0)], None,
     [Rollup(7, FIVE_MINUTES, T0, 2, 2.0, 4.0, 3.0), Rollup(7, HOUR, T0, 2, 2.0, 4.0, 3.0)]),
    ("a sample that goes back in time counts in the open bucket",
     [(400, 1.0), (10, 5.0)], 600,
     [Rollup(7, FIVE_MINUTES, T0 + 300, 2, 1.0, 5.0, 3.0),
      Rollup(7, HOUR, T0, 2, 1.0, 5.0, 3.0)]),
    ("each 5-minute bucket adds to the row of its hour",
     [(0, 1.0), (1800, 0.0), (3599, 0.0), (3600, 1.0)], None,
     [Rollup(7, FIVE_MINUTES, T0, 1, 1.0, 1.0, 1.0), Rollup(7, HOUR, T0, 1, 1.0, 1.0, 1.0),
      Rollup(7, FIVE_MINUTES, T0 + 1800, 1, 0.0, 0.0, 0.0),
      Rollup(7, HOUR, T0, 1, 0.0, 0.0, 0.0),
      Rollup(7, FIVE_MINUTES, T0 + 3300, 1, 0.0, 0.0, 0.0),
      Rollup(7, HOUR, T0, 1, 0.0, 0.0, 0.0)]),
    ("a gap of hours closes the bucket once",
     [(0, 2.0), (3 * HOUR, 4.0)], None,
     [Rollup(7, FIVE_MINUTES, T0, 1, 2.0, 2.0, 2.0), Rollup(7, HOUR, T0, 1, 2.0, 2.0, 2.0)]),
]


@pytest.mark.parametrize(("samples", "flush_at", "written"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_buckets_close_when_their_time_is_over(samples: list[tuple[int, float]],
                                               flush_at: int | None,
                                               written: list[Rollup]) -> None:
    series = SeriesRollups(7)
    out: list[Rollup] = []
    for offset, value in samples:
        series.add(T0 + offset, value, out)
    if flush_at is not None:
        series.close_before(T0 + flush_at, out)
    assert out == written


def test_closing_everything_writes_the_partial_bucket() -> None:
    series = SeriesRollups(1)
    out: list[Rollup] = []
    series.add(T0 + 10, 5.0, out)
    series.add(T0 + 20, 7.0, out)
    series.close_all(out)
    assert out == [Rollup(1, FIVE_MINUTES, T0, 2, 5.0, 7.0, 6.0),
                   Rollup(1, HOUR, T0, 2, 5.0, 7.0, 6.0)]
    assert series.empty


def test_a_series_holds_one_small_bucket_whatever_it_saw() -> None:
    series = SeriesRollups(1)
    out: list[Rollup] = []
    for i in range(10_000):
        series.add(T0 + i * 10, float(i % 3), out)
    assert series.five is not None
    # Every bucket that ended was written once (and added to its hour); the last is open.
    assert len(out) == 2 * (10_000 * 10 // FIVE_MINUTES)
