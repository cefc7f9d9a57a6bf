"""The error budget: a share of the calendar month, less the downtime so far."""

from __future__ import annotations

import datetime

import pytest

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
