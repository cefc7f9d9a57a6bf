"""Cron expressions: parsing, fields, next and previous fire times, time zones and DST."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agent.cron import CronError, CronExpr

BERLIN = ZoneInfo("Europe/Berlin")


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("expr", "fields"), [
    ("* * * * *", (range(60), range(24), range(1, 32), range(1, 13), range(7))),
    ("0 3 * * *", ([0], [3], range(1, 32), range(1, 13), range(7))),
    ("*/15 * * * *", ([0, 15, 30, 45], range(24), range(1, 32), range(1, 13), range(7))),
    ("0,30 8-17/3 1,15 * *", ([0, 30], [8, 11, 14, 17], [1, 15], range(1, 13), range(7))),
    ("5/20 * * * *", ([5, 25, 45], range(24), range(1, 32), range(1, 13), range(7))),
    ("0 0 * jan,JUL mon-fri", ([0], [0], range(1, 32), [1, 7], [1, 2, 3, 4, 5])),
    ("0 0 * * 7", ([0], [0], range(1, 32), range(1, 13), [0])),
    ("0 0 * * sat-7", ([0], [0], range(1, 32), range(1, 13), [0, 6])),
    ("0 0 * feb-apr/2 *", ([0], [0], range(1, 32), [2, 4], range(7))),
    ("@daily", ([0], [0], range(1, 32), range(1, 13), range(7))),
    ("@hourly", ([0], range(24), range(1, 32), range(1, 13), range(7))),
    ("@weekly", ([0], [0], range(1, 32), range(1, 13), [0])),
])
def test_fields_expand_to_the_listed_values(
        expr: str, fields: tuple[Iterable[int], ...]) -> None:
    minutes, hours, days, months, weekdays = fields
    c = CronExpr.parse(expr)
    assert c.minutes == tuple(minutes)
    assert c.hours == tuple(hours)
    assert c.days == frozenset(days)
    assert c.months == frozenset(months)
    assert c.weekdays == frozenset(weekdays)


@pytest.mark.parametrize(("expr", "message"), [
    ("0 3 * *", "expected 5 fields"),
    ("0 3 * * * *", "expected 5 fields"),
    ("", "expected 5 fields"),
    ("60 * * * *", "minute field: 60 is out of range 0-59"),
    ("* 24 * * *", "hour field: 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month field: 0 is out of range 1-31"),
    ("* * * 13 *", "month field: 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week field: 8 is out of range 0-7"),
    ("*/0 * * * *", "step must be a whole number of at least 1"),
    ("*/x * * * *", "step must be a whole number"),
    ("5-1 * * * *", "range '5-1' runs backwards"),
    ("1,,2 * * * *", "empty item"),
    ("* * * foo *", "month field: expected a number or a name like jan"),
    ("* * * * funday", "day-of-week field: expected a number or a name like sun"),
    ("mon * * * *", "minute field: expected a number, got 'mon'"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 apr,jun *", "never fires"),
    ("@fortnightly", "unknown shorthand"),
])
def test_bad_expressions_are_refused_with_the_reason(expr: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace("*", r"\*")):
        CronExpr.parse(expr)


def test_february_29_alone_is_accepted_and_fires_in_leap_years() -> None:
    c = CronExpr.parse("0 0 29 2 *")
    assert c.next_after(dt("2097-03-01T00:00")) == dt("2104-02-29T00:00")
    assert c.last_at_or_before(dt("2024-03-01T00:00")) == dt("2024-02-29T00:00")


@pytest.mark.parametrize(("expr", "after", "expected"), [
    ("0 3 * * *", "2024-05-10T02:59", "2024-05-10T03:00"),
    ("0 3 * * *", "2024-05-10T03:00", "2024-05-11T03:00"),  # strictly after
    ("0 3 * * *", "2024-05-10T03:00:30", "2024-05-11T03:00"),
    ("0 3 * * *", "2024-12-31T04:00", "2025-01-01T03:00"),
    ("*/15 * * * *", "2024-05-10T10:07", "2024-05-10T10:15"),
    ("*/15 * * * *", "2024-05-10T10:45", "2024-05-10T11:00"),
    ("*/15 * * * *", "2024-05-10T23:59:59", "2024-05-11T00:00"),
    ("30 */6 * * *", "2024-05-10T06:31", "2024-05-10T12:30"),
    ("0 9 * * mon-fri", "2024-05-10T09:00", "2024-05-13T09:00"),  # Friday -> Monday
    ("0 0 1 * *", "2024-01-31T12:00", "2024-02-01T00:00"),
    ("0 0 31 * *", "2024-04-01T00:00", "2024-05-31T00:00"),  # April has no 31st
    ("0 12 * feb *", "2024-03-01T00:00", "2025-02-01T12:00"),
    # Both day fields restricted: either one matches (the 1st, or any Monday).
    ("0 0 1 * mon", "2024-05-02T00:00", "2024-05-06T00:00"),
    ("0 0 1 * mon", "2024-05-28T00:00", "2024-06-01T00:00"),
    # A day field written with * keeps AND: odd days that are Mondays.
    ("0 0 */2 * mon", "2024-05-01T00:00", "2024-05-13T00:00"),
])
def test_next_fire_time_on_the_wall_clock(expr: str, after: str, expected: str) -> None:
    assert CronExpr.parse(expr).next_after(dt(after)) == dt(expected)


@pytest.mark.parametrize(("expr", "at", "expected"), [
    ("0 3 * * *", "2024-05-10T03:00", "2024-05-10T03:00"),  # at or before
    ("0 3 * * *", "2024-05-10T02:59", "2024-05-09T03:00"),
    ("0 3 * * *", "2024-01-01T01:00", "2023-12-31T03:00"),
    ("*/15 * * * *", "2024-05-10T10:14:59", "2024-05-10T10:00"),
    ("*/15 * * * *", "2024-05-10T00:05", "2024-05-10T00:00"),
    ("*/15 * * * *", "2024-05-10T00:00:00", "2024-05-10T00:00"),
    ("0 9 * * mon-fri", "2024-05-13T08:00", "2024-05-10T09:00"),
    ("0 0 31 * *", "2024-05-01T00:00", "2024-03-31T00:00"),
    ("0 0 1 * mon", "2024-05-05T00:00", "2024-05-01T00:00"),
])
def test_previous_fire_time_on_the_wall_clock(expr: str, at: str, expected: str) -> None:
    assert CronExpr.parse(expr).last_at_or_before(dt(at)) == dt(expected)


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("expr", "after_utc", "expected_utc"), [
    # 03:00 in Berlin is 01:00 UTC in summer and 02:00 UTC in winter.
    ("0 3 * * *", "2024-07-01T00:00", "2024-07-01T01:00"),
    ("0 3 * * *", "2024-01-01T00:00", "2024-01-01T02:00"),
    # 2024-03-31 02:00-03:00 does not exist in Berlin: a 02:30 job skips that day.
    ("30 2 * * *", "2024-03-30T12:00", "2024-04-01T00:30"),
    # 2024-10-27 02:00-03:00 happens twice: a 02:30 job fires at the first one only.
    ("30 2 * * *", "2024-10-26T12:00", "2024-10-27T00:30"),
    ("30 2 * * *", "2024-10-27T00:30", "2024-10-28T01:30"),
    ("*/15 * * * *", "2024-10-27T01:50", "2024-10-27T02:00"),
])
def test_next_time_reads_the_wall_clock_of_the_time_zone(expr: str, after_utc: str,
                                                        expected_utc: str) -> None:
    assert CronExpr.parse(expr).next_time(utc(after_utc), BERLIN) == utc(expected_utc)


@pytest.mark.parametrize(("expr", "at_utc", "expected_utc"), [
    ("0 3 * * *", "2024-07-01T00:59", "2024-06-30T01:00"),
    ("30 2 * * *", "2024-03-31T12:00", "2024-03-30T01:30"),  # skipped day
    ("30 2 * * *", "2024-10-27T01:45", "2024-10-27T00:30"),  # first occurrence
])
def test_previous_time_reads_the_wall_clock_of_the_time_zone(expr: str, at_utc: str,
                                                            expected_utc: str) -> None:
    assert CronExpr.parse(expr).previous_time(utc(at_utc), BERLIN) == utc(expected_utc)


def test_next_and_previous_agree_in_utc() -> None:
    c = CronExpr.parse("*/15 * * * *")
    t = utc("2024-05-10T10:07")
    assert c.next_time(t, UTC) == utc("2024-05-10T10:15")
    assert c.previous_time(t, UTC) == utc("2024-05-10T10:00")
    assert c.previous_time(c.next_time(t, UTC), UTC) == c.next_time(t, UTC)


def test_without_a_zone_the_local_wall_clock_is_used() -> None:
    c = CronExpr.parse("0 3 * * *")
    t = datetime(2024, 5, 10, 12, 0).timestamp()  # naive = local time
    assert datetime.fromtimestamp(c.next_time(t)) == datetime(2024, 5, 11, 3, 0)


def test_matches_tells_fire_minutes() -> None:
    c = CronExpr.parse("0 3 * * *")
    assert c.matches(dt("2024-05-10T03:00:59"))
    assert not c.matches(dt("2024-05-10T03:01"))
