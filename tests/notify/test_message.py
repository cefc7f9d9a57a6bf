"""Notification text: short SMS-sized titles, bodies with everything a receiver needs."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.message import TITLE_MAX, Message, render, truncate
from agent.units import parse_duration

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
DISK = AlertKey("web1", "disk", "used_percent")
WHY = "used_percent 93.2% > 90%"


def ev(kind: EventKind, severity: Status = Status.CRITICAL, *, key: AlertKey = DISK,
       why: str = WHY, previous: Status | None = None, duration: float | None = None,
       value: float | None = 93.2, threshold: str | None = "> 90%",
       since: float | None = T0) -> AlertEvent:
    return AlertEvent(kind, key, severity, T0 + 2520, "web1/disk/used_percent@1700000000",
                      why, value=value, threshold=threshold, since=since, duration=duration,
                      previous_severity=previous)


@pytest.mark.parametrize(("event", "title"), [
    (ev(EventKind.FIRING), "CRITICAL web1 disk: used_percent 93.2% > 90%"),
    (ev(EventKind.FIRING, Status.WARNING, why="used_percent 85 > 80"),
     "WARNING web1 disk: used_percent 85 > 80"),
    (ev(EventKind.ESCALATED, previous=Status.WARNING),
     "CRITICAL web1 disk: used_percent 93.2% > 90% (was WARNING)"),
    (ev(EventKind.DEESCALATED, Status.WARNING, why="used_percent 85 > 80",
        previous=Status.CRITICAL),
     "WARNING web1 disk: used_percent 85 > 80 (was CRITICAL)"),
    (ev(EventKind.REMINDER), "STILL CRITICAL web1 disk: used_percent 93.2% > 90%"),
    (ev(EventKind.RESOLVED, duration=2520.0), "RESOLVED web1 disk: used_percent (lasted 42m)"),
    (ev(EventKind.RESOLVED, Status.OK, previous=Status.CRITICAL),
     "RESOLVED web1 disk: used_percent (lasted 42m)"),
    (ev(EventKind.FIRING, key=AlertKey("web1", "shop", "status"), why="connection refused",
        value=None, threshold=None),
     "CRITICAL web1 shop: connection refused"),
    (ev(EventKind.RESOLVED, key=AlertKey("web1", "shop", "status"), duration=90.0, since=None),
     "RESOLVED web1 shop (lasted 1m 30s)"),
    (ev(EventKind.FIRING, Status.UNKNOWN, key=AlertKey("db1", "pg", "status"),
        why="check timed out\nafter 10s", value=None, threshold=None),
     "UNKNOWN db1 pg: check timed out after 10s"),
])
def test_title_per_event_kind(event: AlertEvent, title: str) -> None:
    assert render(event).title == title


@pytest.mark.parametrize(("event", "lines"), [
    (ev(EventKind.FIRING), [
        "Severity: CRITICAL", "Host: web1", "Check: disk", "Metric: used_percent",
        "Value: 93.2% (threshold > 90%)", "Reason: used_percent 93.2% > 90%",
        "Since: 2023-11-14T22:13:20Z (42m ago)",
        "key: web1/disk/used_percent@1700000000:firing:1700002520",
        "incident: web1/disk/used_percent@1700000000"]),
    (ev(EventKind.ESCALATED, previous=Status.WARNING), [
        "Severity: CRITICAL (was WARNING)"]),
    (ev(EventKind.DEESCALATED, Status.WARNING, previous=Status.CRITICAL), [
        "Severity: WARNING (was CRITICAL)"]),
    (ev(EventKind.REMINDER), ["Severity: CRITICAL (still firing)",
                              "Since: 2023-11-14T22:13:20Z (42m ago)"]),
    (ev(EventKind.RESOLVED, Status.OK, previous=Status.CRITICAL, duration=2520.0), [
        "Severity: RESOLVED (was CRITICAL)", "Started: 2023-11-14T22:13:20Z",
        "Resolved: 2023-11-14T22:55:20Z", "Lasted: 42m",
        "key: web1/disk/used_percent@1700000000:resolved:1700002520"]),
    (ev(EventKind.FIRING, key=AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))),
     ["Metric: used_percent{mount=/var}"]),
    (ev(EventKind.FIRING, value=None, threshold="> 26h"), ["Threshold: > 26h"]),
])
def test_body_lines_per_event_kind(event: AlertEvent, lines: list[str]) -> None:
    body = render(event).body.splitlines()
    for line in lines:
        assert line in body


def test_resolved_body_has_no_since_line() -> None:
    body = render(ev(EventKind.RESOLVED, duration=60.0)).body
    assert "Since:" not in body


@pytest.mark.parametrize("event", [
    ev(EventKind.FIRING, key=AlertKey("a-very-long-host-name.example.internal",
                                      "customer-portal-availability", "response_ms"),
       why="response_ms 12345.6 > 2000 (p95 over the last 5 minutes, seasonal baseline)"),
    ev(EventKind.RESOLVED, key=AlertKey("h" * 60, "c" * 40, "m" * 30), duration=4000.0),
    ev(EventKind.ESCALATED, previous=Status.WARNING, why="x" * 200),
])
def test_title_fits_an_sms_and_is_cut_cleanly(event: AlertEvent) -> None:
    title = render(event).title
    assert len(title) <= TITLE_MAX
    assert title.isascii()


def test_long_title_keeps_the_lasted_suffix() -> None:
    long_key = AlertKey("web1", "disk", "inodes_used_percent",
                        (("device", "nvme0n1p3"),
                         ("mount", "/var/lib/postgresql/15/main/pg_wal/archive")))
    title = render(ev(EventKind.RESOLVED, key=long_key, duration=2520.0)).title
    assert title.startswith("RESOLVED web1 disk nvme0n1p3 /var/lib/postgresql/15/main/pg_wal")
    assert title.endswith("... (lasted 42m)")
    assert len(title) <= 80


@pytest.mark.parametrize(("text", "limit", "cut"), [
    ("short", 10, "short"),
    ("used_percent 93.2 is above the limit", 20, "used_percent 93.2..."),
    ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefg..."),
])
def test_truncate_at_word_boundary(text: str, limit: int, cut: str) -> None:
    assert truncate(text, limit) == cut


@pytest.mark.parametrize(("kind", "severity", "label", "notify_type"), [
    (EventKind.FIRING, Status.CRITICAL, "critical", "failure"),
    (EventKind.FIRING, Status.WARNING, "warning", "warning"),
    (EventKind.FIRING, Status.UNKNOWN, "unknown", "warning"),
    (EventKind.REMINDER, Status.CRITICAL, "critical", "failure"),
    (EventKind.RESOLVED, Status.CRITICAL, "resolved", "success"),
])
def test_label_and_apprise_type(kind: EventKind, severity: Status, label: str,
                                notify_type: str) -> None:
    m = Message("t", "b", severity, kind)
    assert (m.label, m.notify_type) == (label, notify_type)


def test_one_line_joins_title_and_body() -> None:
    assert Message("T", "a\n\n b \nc", Status.CRITICAL).one_line() == "T | a | b | c"


def test_test_message_says_nothing_is_wrong() -> None:
    from agent.notify.message import test_message

    m = test_message("web1", T0)
    assert m.title == "TEST web1: watchkeeper notifications work"
    assert "Sent: 2023-11-14T22:13:20Z" in m.body
    assert (m.label, m.notify_type) == ("info", "info")


@pytest.mark.parametrize(("since", "at", "duration", "lasted"), [
    # The message: first bad sample 09:20:42.7, FIRING 10 s later, resolved 09:21:12.
    (T0 + 0.7, T0 + 30.2, 20.0, "30s"),
    (T0 + 0.9, T0 + 1.1, 0.2, "1s"),
    (T0, T0 + 2520, 2400.0, "42m"),
    (T0 + 0.5, T0 + 90.4, 60.0, "1m 30s"),
])
def test_lasted_is_resolved_minus_started_as_the_message_shows_them(
        since: float, at: float, duration: float, lasted: str) -> None:
    event = AlertEvent(EventKind.RESOLVED, DISK, Status.OK, at, "inc", WHY, value=70.0,
                       since=since, duration=duration, previous_severity=Status.CRITICAL)
    message = render(event)
    lines = {k: v for k, _, v in (ln.partition(": ") for ln in message.body.splitlines())}
    started = dt.datetime.fromisoformat(lines["Started"].replace("Z", "+00:00"))
    resolved = dt.datetime.fromisoformat(lines["Resolved"].replace("Z", "+00:00"))
    assert lines["Lasted"] == lasted
    assert parse_duration(lasted) == (resolved - started).total_seconds()
    assert message.title.endswith(f"(lasted {lasted})")


def test_a_resolve_without_a_start_shows_the_start_its_duration_implies() -> None:
    body = render(ev(EventKind.RESOLVED, duration=90.0, since=None)).body.splitlines()
    assert "Started: 2023-11-14T22:53:50Z" in body and "Lasted: 1m 30s" in body


@pytest.mark.parametrize(("key", "value", "line"), [
    (AlertKey("web1", "disk", "free_bytes"), 5368709120.0, "Value: 5 GiB"),
    (AlertKey("web1", "disk", "inodes_used_percent"), 3.24e-05, "Value: <0.01%"),
    (AlertKey("web1", "shop", "response_ms"), 1532.25, "Value: 1.53s"),
    (AlertKey("web1", "svc", "restarts"), 12345.67, "Value: 12346"),
])
def test_the_value_line_writes_the_value_in_its_metric_unit(key: AlertKey, value: float,
                                                            line: str) -> None:
    body = render(ev(EventKind.FIRING, key=key, value=value, threshold=None)).body
    assert line in body.splitlines()
