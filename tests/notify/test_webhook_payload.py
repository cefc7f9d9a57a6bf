"""The ``watchkeeper.alert/v1`` document: built from the events' fields, and valid by its
own JSON Schema for every kind of event and for a group."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.payload import (
    SCHEMA,
    AlertStatus,
    document,
    encode,
    schema,
    status_of,
    test_document,
)
from tests.servers.webhook_receiver import schema_problems

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
KEY = AlertKey("web1", "disks", "used_percent", (("mount", "/var"),))
KINDS = {"disks": "disk", "site": "http"}


def ev(kind: EventKind = EventKind.FIRING, severity: Status = Status.CRITICAL, *,
       key: AlertKey = KEY, seq: int = 1, incident: str = "inc-1", **kw: Any) -> AlertEvent:
    fields: dict[str, Any] = {"value": 93.2, "threshold": "> 90", "since": T0 - 120,
                              "why": "used_percent 93.2 > 90"}
    fields.update(kw)
    return AlertEvent(kind, key, severity, T0, incident, seq=seq, **fields)


def doc(*events: AlertEvent) -> dict[str, Any]:
    found = document(list(events), KINDS.get)
    assert schema_problems(found) == []
    return found


def test_a_firing_alert_carries_every_fact_a_receiver_needs() -> None:
    d = doc(ev(runbook="https://wiki.example.com/disk", tags=("infra",),
               dependents=("backup",)))
    assert d["schema"] == SCHEMA == "watchkeeper.alert/v1"
    assert {k: d[k] for k in ("event", "key", "incident", "severity", "status", "host",
                              "check", "kind", "metric", "labels", "value", "threshold",
                              "why", "started_at", "resolved_at", "runbook", "tags",
                              "dependents")} == {
        "event": "firing", "key": "inc-1:1", "incident": "inc-1", "severity": "critical",
        "status": "firing", "host": "web1", "check": "disks", "kind": "disk",
        "metric": "used_percent", "labels": {"mount": "/var"}, "value": 93.2,
        "threshold": "> 90", "why": "used_percent 93.2 > 90",
        "started_at": "2024-05-01T11:58:00Z", "resolved_at": None,
        "runbook": "https://wiki.example.com/disk", "tags": ["infra"],
        "dependents": ["backup"]}
    assert d["at"] == "2024-05-01T12:00:00Z"
    assert "CRITICAL web1 disks" in d["summary"] and len(d["summary"]) <= 80
    assert len(d["alerts"]) == 1 and d["alerts"][0]["key"] == "inc-1:1"


def test_a_resolve_says_when_and_how_long_with_the_severity_it_had() -> None:
    d = doc(ev(EventKind.RESOLVED, Status.OK, previous_severity=Status.WARNING, seq=3,
               since=T0 - 600))
    assert (d["event"], d["status"], d["severity"], d["key"]) == (
        "resolved", "resolved", "warning", "inc-1:3")
    assert d["resolved_at"] == "2024-05-01T12:00:00Z"
    assert d["started_at"] == "2024-05-01T11:50:00Z"
    assert d["duration_seconds"] == 600


@pytest.mark.parametrize(("kind", "severity", "status"), [
    (EventKind.FIRING, Status.WARNING, AlertStatus.FIRING),
    (EventKind.ESCALATED, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.DEESCALATED, Status.WARNING, AlertStatus.FIRING),
    (EventKind.REMINDER, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.FLAPPING, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.STABLE, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.STABLE, Status.OK, AlertStatus.RESOLVED),
    (EventKind.UNANSWERED, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.ACKNOWLEDGED, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.UNACKNOWLEDGED, Status.CRITICAL, AlertStatus.FIRING),
    (EventKind.RESOLVED, Status.OK, AlertStatus.RESOLVED),
])
def test_every_kind_of_event_is_a_valid_document_with_its_status(
        kind: EventKind, severity: Status, status: AlertStatus) -> None:
    event = ev(kind, severity, previous_severity=Status.WARNING)
    assert status_of(event) is status
    d = doc(event)
    assert (d["event"], d["status"]) == (kind.value, status.value)
    assert (d["resolved_at"] is None) is (status is AlertStatus.FIRING)


def test_the_schema_names_exactly_the_event_kinds_there_are() -> None:
    props = schema()["$defs"]["alert"]["properties"]
    assert props["event"]["enum"] == [*(k.value for k in EventKind), "test"]
    assert sorted(props["severity"]["enum"]) == sorted(s.value for s in Status)


def test_an_escalation_names_the_severity_it_came_from() -> None:
    d = doc(ev(EventKind.ESCALATED, previous_severity=Status.WARNING))
    assert (d["severity"], d["previous_severity"]) == ("critical", "warning")


def test_a_check_no_longer_configured_has_no_kind_and_a_missing_value_is_null() -> None:
    d = doc(ev(key=AlertKey("web1", "gone", "status"), value=None, threshold=None))
    assert (d["kind"], d["value"], d["threshold"], d["labels"]) == (None, None, None, {})


def test_a_value_json_cannot_carry_is_null_not_an_invalid_body() -> None:
    d = doc(ev(value=float("inf")))
    assert d["value"] is None
    json.loads(encode(d))  # strict JSON: no Infinity


def test_a_group_lists_every_alert_led_by_the_worst_still_firing() -> None:
    site = AlertKey("web1", "site", "status")
    events = [ev(EventKind.RESOLVED, Status.OK, previous_severity=Status.CRITICAL,
                 incident="inc-0", seq=2),
              ev(EventKind.FIRING, Status.WARNING, incident="inc-2"),
              ev(EventKind.FIRING, Status.CRITICAL, key=site, incident="inc-3"),
              ev(EventKind.FIRING, Status.CRITICAL, incident="inc-4")]
    d = doc(*events)
    assert [a["key"] for a in d["alerts"]] == ["inc-0:2", "inc-2:1", "inc-3:1", "inc-4:1"]
    assert (d["key"], d["check"], d["kind"], d["severity"]) == (
        "inc-3:1", "site", "http", "critical")
    assert d["summary"].startswith("4 alerts on web1")
    assert [a["status"] for a in d["alerts"]] == ["resolved", "firing", "firing", "firing"]


def test_a_group_of_resolves_is_led_by_the_first() -> None:
    events = [ev(EventKind.RESOLVED, Status.OK, previous_severity=Status.WARNING,
                 incident=f"inc-{i}") for i in range(3)]
    d = doc(*events)
    assert (d["key"], d["status"]) == ("inc-0:1", "resolved")


def test_the_body_is_compact_utf8_json() -> None:
    body = encode(doc(ev(why="Platte voll: 93 % — bitte prüfen")))
    assert "prüfen".encode() in body and b", " not in body
    assert json.loads(body)["why"] == "Platte voll: 93 % — bitte prüfen"


def test_the_test_notification_is_a_valid_document_about_nothing() -> None:
    d = test_document("web1", T0)
    assert schema_problems(d) == []
    assert (d["event"], d["status"], d["severity"], d["host"]) == (
        "test", "resolved", "ok", "web1")
    assert d["summary"].startswith("TEST web1")


def test_the_alerts_grouped_under_one_and_its_ack_link_are_in_the_document() -> None:
    d = doc(ev(grouped=("api", "db/used_percent{mount=/}"),
               ack_url="https://mon.example.com/ack/inc-1.abc"))
    assert d["grouped"] == ["api", "db/used_percent{mount=/}"]
    assert d["ack_url"] == "https://mon.example.com/ack/inc-1.abc"
    plain = doc(ev())
    assert (plain["grouped"], plain["ack_url"]) == ([], None)


def test_a_released_alert_says_what_held_it_back() -> None:
    """README (maintenance): the message says which window held it."""
    from agent.notify.message import render

    held = ev(held="maintenance window backups (weekly full backup)")
    d = doc(held)
    assert d["held_by"] == "maintenance window backups (weekly full backup)"
    assert d["alerts"][0]["held_by"] == d["held_by"]
    assert doc(ev())["held_by"] is None
    assert "Held back by: maintenance window backups (weekly full backup), until it let go" \
        in render(held).body
