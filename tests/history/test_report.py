"""The error budget: a share of the calendar month, less the downtime so far."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli.uptime_cmd import span_of
from agent.history.report import Span, error_budget, month_bounds

UTC = datetime.UTC
TOKYO = datetime.timezone(datetime.timedelta(hours=9))
#: 2026-02-28 20:00 UTC: still February in UTC, already March 1st in Tokyo.
AT = datetime.datetime(2026, 2, 28, 20, tzinfo=UTC).timestamp()

#: (slo, used seconds, zone, (month, allowed seconds, left percent))
CASES = [
    ("99.9 of February (28 days) is 40m 19.2s", 99.9, 0.0, UTC, ("2026-02", 2419.2, 100.0)),
    ("half of it spent", 99.9, 1209.6, UTC, ("2026-02", 2419.2, 50.0)),
    ("overspent is negative", 99.9, 4838.4, UTC, ("2026-02", 2419.2, -100.0)),
    ("99 of March (31 days) in Tokyo", 99.0, 0.0, TOKYO, ("2026-03", 26784.0, 100.0)),
]


@pytest.mark.parametrize(("slo", "used", "zone", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_budget_is_a_share_of_the_local_calendar_month(
        slo: float, used: float, zone: datetime.tzinfo,
        expected: tuple[str, float, float]) -> None:
    month, allowed, left = expected
    budget = error_budget(slo, Span(AT - 86400, AT, zone), used)
    assert budget.month == month
    assert budget.allowed_seconds == pytest.approx(allowed)
    assert budget.left_seconds == pytest.approx(allowed - used)
    assert budget.left_percent == pytest.approx(left)


def test_december_ends_at_the_new_year() -> None:
    start, end, name = month_bounds(datetime.datetime(2026, 12, 31, 23, tzinfo=UTC)
                                    .timestamp(), UTC)
    assert name == "2026-12"
    assert end - start == 31 * 86400
    assert end == datetime.datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


#: (zone, a moment, (month, its first moment and the next month's, in UTC))
LOCAL_MONTHS = [
    # New York: November starts in summer time (-4) and ends in winter time (-5).
    ("America/New_York", _utc(2026, 11, 15, 12), ("2026-11", _utc(2026, 11, 1, 4),
                                                  _utc(2026, 12, 1, 5))),
    ("America/New_York", _utc(2026, 3, 15, 12), ("2026-03", _utc(2026, 3, 1, 5),
                                                 _utc(2026, 4, 1, 4))),
    ("America/New_York", _utc(2026, 12, 1, 3), ("2026-11", _utc(2026, 11, 1, 4),
                                                _utc(2026, 12, 1, 5))),
    ("Asia/Kolkata", _utc(2026, 11, 30, 19), ("2026-12", _utc(2026, 11, 30, 18, 30),
                                              _utc(2026, 12, 31, 18, 30))),
    ("UTC", _utc(2026, 11, 30, 19), ("2026-11", _utc(2026, 11, 1), _utc(2026, 12, 1))),
]


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    try:
        yield monkeypatch
    finally:
        monkeypatch.undo()  # TZ as it was (set or not), then the zone read from it again
        time.tzset()


@pytest.mark.parametrize(("zone", "at", "expected"), LOCAL_MONTHS,
                         ids=[f"{c[0]} {c[2][0]} at {c[1]:.0f}" for c in LOCAL_MONTHS])
def test_the_local_month_follows_the_systems_summer_and_winter_time(
        local_zone: pytest.MonkeyPatch, tmp_path: Path, zone: str, at: float,
        expected: tuple[str, float, float]) -> None:
    local_zone.setenv("TZ", zone)
    time.tzset()
    name, start, end = expected
    span = span_of(86400, at, tmp_path)  # the span ``watchkeeper uptime`` reads
    assert month_bounds(at, span.tz) == (start, end, name)
    allowed = error_budget(99.9, span, 0.0).allowed_seconds
    assert allowed == pytest.approx(0.001 * (end - start))
