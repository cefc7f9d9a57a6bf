"""Moments are written in UTC, the same way everywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.timefmt import same_utc_day, utc_clock, utc_date, utc_minute


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("moment", "date", "minute", "clock"), [
    ("2025-03-01 14:00:59", "2025-03-01", "2025-03-01 14:00 UTC", "14:00 UTC"),
    ("2025-12-31 23:59:00", "2025-12-31", "2025-12-31 23:59 UTC", "23:59 UTC"),
    ("2060-05-01 00:00:00", "2060-05-01", "2060-05-01 00:00 UTC", "00:00 UTC"),
])
def test_moments_are_written_in_utc(moment: str, date: str, minute: str, clock: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local day would differ
    t = at(moment)
    assert (utc_date(t), utc_minute(t), utc_clock(t)) == (date, minute, clock)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("2025-03-01 00:00:00", "2025-03-01 23:59:59", True),
    ("2025-03-01 23:59:59", "2025-03-02 00:00:00", False),
])
def test_same_utc_day(a: str, b: str, same: bool) -> None:
    assert same_utc_day(at(a), at(b)) is same
