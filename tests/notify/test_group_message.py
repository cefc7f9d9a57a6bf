"""One message for an alert storm: an SMS-sized tally in the title, each alert in the body."""

from __future__ import annotations

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.message import TITLE_MAX, render, render_group

T0 = 1_700_000_000.0


def ev(check: str, kind: EventKind = EventKind.FIRING, severity: Status = Status.CRITICAL,
       host: str = "web1", previous: Status | None = None) -> AlertEvent:
    key = AlertKey(host, check, "status")
    return AlertEvent(kind, key, severity, T0, f"{host}/{check}/status@{int(T0)}",
                      f"{check} is down", since=T0 - 60, previous_severity=previous)


def resolved(check: str, was: Status = Status.CRITICAL, host: str = "web1") -> AlertEvent:
    return ev(check, EventKind.RESOLVED, Status.OK, host, previous=was)


STORM = [ev("a"), ev("b"), ev("c"), ev("d", severity=Status.WARNING), resolved("e")]


@pytest.mark.parametrize(("events", "title", "severity", "notify_type"), [
    (STORM, "5 alerts on web1: 3 CRITICAL, 1 WARNING, 1 RESOLVED", Status.CRITICAL,
     "failure"),
    ([ev("a", severity=Status.WARNING), ev("b", severity=Status.UNKNOWN)],
     "2 alerts on web1: 1 UNKNOWN, 1 WARNING", Status.UNKNOWN, "warning"),
    # The worst among those still firing: a resolved CRITICAL does not count.
    ([ev("a", severity=Status.WARNING), resolved("b", was=Status.CRITICAL)],
     "2 alerts on web1: 1 WARNING, 1 RESOLVED", Status.WARNING, "warning"),
    ([ev("a", EventKind.REMINDER), ev("b", EventKind.ESCALATED, previous=Status.WARNING)],
     "2 alerts on web1: 2 CRITICAL", Status.CRITICAL, "failure"),
    ([resolved("a", was=Status.WARNING), resolved("b")],
     "2 alerts on web1: 2 RESOLVED", Status.CRITICAL, "success"),
    ([ev("a", host="web1"), ev("b", host="web2"), ev("c", host="web1")],
     "3 alerts on 2 hosts: 3 CRITICAL", Status.CRITICAL, "failure"),
])
def test_group_title_tallies_severities_and_takes_the_worst_firing_one(
        events: list[AlertEvent], title: str, severity: Status, notify_type: str) -> None:
    message = render_group(events)
    assert (message.title, message.severity, message.notify_type) == (
        title, severity, notify_type)


def test_group_body_lists_each_title_then_each_key() -> None:
    lines = render_group(STORM).body.splitlines()
    assert lines == [*(render(e).title for e in STORM), "",
                     *(f"key: {e.dedup_key}" for e in STORM)]
    assert lines[0] == "CRITICAL web1 a: a is down"
    assert lines[4] == "RESOLVED web1 e (lasted 1m)"


def test_one_event_is_the_ordinary_message() -> None:
    assert render_group([ev("a")]) == render(ev("a"))


@pytest.mark.parametrize("host", ["web1", "h" * 200, "a-rather-long-host.example.com"])
def test_group_title_fits_an_sms(host: str) -> None:
    events = [ev(str(i), severity=s, host=host) for i, s in
              enumerate([Status.CRITICAL, Status.WARNING, Status.UNKNOWN] * 400)]
    events += [resolved(f"r{i}", host=host) for i in range(400)]
    title = render_group(events).title
    assert len(title) <= TITLE_MAX
    assert title.startswith("1600 alerts on ")
    assert title.endswith(": 400 CRITICAL, 400 UNKNOWN, 400 WARNING, 400 RESOLVED")


def test_an_empty_group_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        render_group([])
