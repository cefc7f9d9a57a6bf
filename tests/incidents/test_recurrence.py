"""Repeated problems get serious: the N-th opening within a span is raised."""

from __future__ import annotations

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.incidents.record import Incident
from agent.incidents.recurrence import ordinal, raised
from agent.model import AlertKey, Status

KEY = AlertKey("web1", "disk", "used_percent")
DAY = 86400.0


def opened(at: float, key: str = KEY.as_text()) -> Incident:
    return Incident(id=f"i-{at}", host="web1", check="disk", metric="used_percent",
                    key=key, opened_at=at, first_bad_at=at, severity=Status.WARNING,
                    worst=Status.WARNING)


def firing(at: float) -> AlertEvent:
    return AlertEvent(EventKind.FIRING, KEY, Status.WARNING, at, "now", "disk 91% > 90%")


@pytest.mark.parametrize(("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                         (11, "11th"), (12, "12th"), (13, "13th"),
                                         (21, "21st"), (102, "102nd")])
def test_ordinals(n: int, text: str) -> None:
    assert ordinal(n) == text


@pytest.mark.parametrize(("earlier", "severity", "why"), [
    ([], Status.WARNING, "disk 91% > 90%"),
    ([opened(DAY * 0.5)], Status.WARNING, "disk 91% > 90%"),
    ([opened(DAY * 0.5), opened(DAY * 0.9)], Status.CRITICAL,
     "disk 91% > 90% (3rd time in 1d)"),
    ([opened(-DAY), opened(DAY * 0.9)], Status.WARNING, "disk 91% > 90%"),  # one too old
    ([opened(DAY * 0.5, key="web1/cpu/x"), opened(DAY * 0.9)], Status.WARNING,
     "disk 91% > 90%"),  # another alert's
], ids=["first", "second", "third-raised", "one-outside-the-span", "another-alert"])
def test_the_third_opening_in_a_day_is_critical(earlier: list[Incident], severity: Status,
                                                why: str) -> None:
    ev = raised(firing(DAY), earlier, count=3, within=DAY, severity=Status.CRITICAL)
    assert (ev.severity, ev.why) == (severity, why)


def test_only_a_firing_is_raised() -> None:
    resolved = AlertEvent(EventKind.RESOLVED, KEY, Status.OK, DAY, "now", "")
    assert raised(resolved, [opened(1), opened(2)], 2, DAY, Status.CRITICAL) is resolved
