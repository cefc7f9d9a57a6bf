"""Describing what a series learned: warm-up, normal range now and by hour, trend."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.describe import Learning, describe, describe_learning, hour_of_week
from agent.thresholds.forecast import ForecastSettings, Heading
from agent.thresholds.series import SeriesJudge

MONDAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()  # a Monday, 00:00 UTC
STEP = 300.0


def _judge(adaptive: bool = True, forecast: bool = False) -> SeriesJudge:
    return SeriesJudge("used_percent",
                       adaptive=AdaptiveSettings(warmup="1d") if adaptive else None,  # type: ignore[arg-type]
                       forecast=ForecastSettings(limit=100) if forecast else None,
                       utc_offset=0.0)


def _feed(judge: SeriesJudge, hours: float, value: object) -> float:
    t = MONDAY
    while t < MONDAY + hours * 3600:
        judge.observe(t, value(t) if callable(value) else float(value))  # type: ignore[arg-type]
        t += STEP
    return t - STEP


def _daily_with_backup(t: float) -> float:
    """50-60 over the day, and 95 while the nightly backup runs at 02:00."""
    hod = (t - MONDAY) % 86400 / 3600
    return 95.0 if 2 <= hod < 3 else 55 + 5 * math.sin(2 * math.pi * hod / 24)


@pytest.mark.parametrize(("when", "expected"), [
    (dt.datetime(1970, 1, 1, 0, tzinfo=dt.UTC), (3, 0)),
    (dt.datetime(2024, 1, 1, 0, tzinfo=dt.UTC), (0, 0)),
    (dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC), (1, 14)),
    (dt.datetime(2024, 1, 7, 23, 59, tzinfo=dt.UTC), (6, 23)),
    (dt.datetime(1969, 12, 31, 23, tzinfo=dt.UTC), (2, 23)),
])
def test_hour_of_week_of_epoch_hours(when: dt.datetime, expected: tuple[int, int]) -> None:
    assert hour_of_week(int(when.timestamp() // 3600)) == expected


def test_a_series_that_saw_nothing_is_learning_from_zero() -> None:
    d = describe(_judge(forecast=True))
    assert d.last_sample_at is None
    assert d.learning is not None
    assert (d.learning.elapsed, d.learning.needed) == (0.0, 24 * 3600.0)
    assert not d.learning.ready
    assert d.normal_now is None and d.by_hour == ()
    assert d.trend is not None and d.trend.slope_per_hour is None
    assert d.trend.hours_to_full is None and d.trend.limit == 100


def test_half_a_day_is_still_learning_and_knows_only_the_hours_it_saw() -> None:
    judge = _judge()
    last = _feed(judge, 14, _daily_with_backup)
    d = describe(judge)
    assert d.last_sample_at == last
    assert d.learning is not None and not d.learning.ready
    assert 13.9 * 3600 < d.learning.elapsed < 14 * 3600  # 00:00 to 13:55
    assert d.learning.needed == 24 * 3600 and d.learning.percent == 57
    # The coming week's hours seen complete on Monday (00:00 to 12:59) have a daily
    # profile; the current hour's would be Sunday's, never seen.
    seen = set(range(13))
    known = {(r.weekday, r.hour) for r in d.by_hour}
    assert known == {(day, h) for day in range(7) for h in seen}


def test_a_warmed_up_series_knows_every_hour_and_its_busy_hour() -> None:
    judge = _judge()
    _feed(judge, 8 * 24 + 14.5, _daily_with_backup)  # to Tuesday of week 2, 14:25
    before = judge.to_bytes()
    d = describe(judge)
    assert judge.to_bytes() == before  # only read
    assert d.learning is not None and d.learning.ready
    now = d.normal_now
    assert now is not None and now.at == "Tue 14:00"
    assert 50 <= now.lo < now.hi <= 60.5  # the backup hour is left out of the normal range
    assert now.alert_below is not None and now.alert_below < now.lo
    assert now.alert_above is not None and now.alert_above > now.hi
    assert len(d.by_hour) == 168
    assert [(r.weekday, r.hour) for r in d.by_hour[:2]] == [(0, 0), (0, 1)]
    by = {(r.day, r.hour): r for r in d.by_hour}
    assert by["Wed", 2].hi == 95 and by["Wed", 14].hi < 61
    assert (by["Tue", 14].lo, by["Tue", 14].hi) == (now.lo, now.hi)
    json.dumps(d.as_dict(), allow_nan=False)


def test_a_steady_rise_has_its_slope_and_hours_to_full() -> None:
    judge = _judge(adaptive=False, forecast=True)
    _feed(judge, 10, lambda t: 40 + 0.5 * (t - MONDAY) / 3600)
    d = describe(judge)
    assert d.learning is None and d.normal_now is None and d.by_hour == ()
    trend = d.trend
    assert trend is not None and trend.heading is Heading.RISING
    assert trend.slope_per_hour == pytest.approx(0.5)
    assert trend.hours_to_full == pytest.approx((100 - trend.level) / 0.5)  # type: ignore[operator]
    assert 100 < trend.hours_to_full < 112  # type: ignore[operator]
    assert not trend.firing and trend.horizon_hours == 7 * 24
    json.dumps(d.as_dict(), allow_nan=False)


def _ready_after(warmup: str, start: float, step: float = 60.0) -> tuple[float, list[Learning]]:
    """Feed a sample every ``step`` from ``start`` until the learned range judges; the
    seconds that took, and what describe said before each sample."""
    judge = SeriesJudge("response_ms", adaptive=AdaptiveSettings(warmup=warmup),  # type: ignore[arg-type]
                        utc_offset=0.0)
    said: list[Learning] = []
    t = start
    while True:
        judge.observe(t, 100.0)
        assert judge.adaptive is not None
        learning = describe_learning(judge.adaptive)  # what describe() tells, only faster
        if learning.ready:
            return t - start, said
        said.append(learning)
        t += step


# Whatever the warm-up, the range needs 3 completed clock hours, and is looked at when
# an hour begins: 1m from 00:17 judges from 03:00, 1d from 00:17 from 01:00 next day.
@pytest.mark.parametrize(("warmup", "start_min", "ready_min"), [
    ("1m", 0, 180), ("1m", 17, 163), ("30m", 59, 121), ("1h", 17, 163), ("90m", 0, 180),
    ("3h", 0, 180), ("3h", 17, 223), ("4h", 30, 270), ("1d", 0, 1440), ("1d", 17, 1483),
    ("2d", 59, 2881), ("7d", 17, 7 * 1440 + 43),
])
def test_warm_up_progress_counts_to_when_the_range_really_judges(
        warmup: str, start_min: int, ready_min: int) -> None:
    took, said = _ready_after(warmup, MONDAY + start_min * 60)
    assert took == ready_min * 60
    assert said[0].elapsed == 0 and said[0].percent == 0
    assert all(s.needed == took for s in said[1:])  # the same promise all along
    assert said[len(said) // 2].percent in (49, 50)
    assert said[-1].percent == 99 and said[-1].elapsed == took - 60
    assert [s.percent for s in said] == sorted(s.percent for s in said)
