"""What Alertmanager is told of each event, and which alerts are open for a target."""

from __future__ import annotations

from typing import Any

import pytest

from agent.alerting.settle import Routing
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.config.models import Channel, Route
from agent.model import AlertKey, Status
from agent.notify.am_alerts import (
    AlertContext,
    alerts_for,
    label_name,
    labels_of,
    open_event,
    open_for,
)

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
KEY = AlertKey("web1", "disks", "used_percent", (("mount", "/var"),))
CTX = AlertContext({"disks": "disk"}.get, lambda key: f"watchkeeper://{key.host}/{key.check}")


def ev(kind: EventKind = EventKind.FIRING, severity: Status = Status.CRITICAL,
       **kw: Any) -> AlertEvent:
    fields: dict[str, Any] = {"value": 93.2, "threshold": "> 90", "since": T0 - 120,
                              "why": "used_percent 93.2 > 90", "seq": 1}
    fields.update(kw)
    return AlertEvent(kind, KEY, severity, T0, "inc-1", **fields)


@pytest.mark.parametrize(("name", "label"), [
    ("mount", "mount"), ("mount-point", "mount_point"), ("1st", "_1st"), ("", "_"),
    ("host", "label_host"), ("severity", "label_severity"), ("tags", "label_tags"),
    ("ünï", "_n_"),
])
def test_label_names_are_valid_and_never_override_the_alerts_own(name: str,
                                                                  label: str) -> None:
    assert label_name(name) == label


def test_the_label_set_is_the_alerts_identity_with_tags_as_labels() -> None:
    tags = ("web", "team=ops", "infra", "host=evil", "web")
    assert labels_of(KEY, Status.WARNING, tags) == {
        "alertname": "disks", "host": "web1", "check": "disks", "metric": "used_percent",
        "severity": "warning", "mount": "/var", "team": "ops", "label_host": "evil",
        "tags": "infra,web"}


def test_a_firing_alert_is_open_until_well_after_the_next_post() -> None:
    (alert,) = alerts_for(ev(runbook="https://wiki.example.com/disk"), CTX, T0 + 5, 240)
    assert alert == {
        "labels": labels_of(KEY, Status.CRITICAL, ()),
        "annotations": {"summary": alert["annotations"]["summary"],
                        "description": "used_percent 93.2 > 90", "incident": "inc-1",
                        "kind": "disk", "value": "93.2%", "threshold": "> 90",
                        "runbook_url": "https://wiki.example.com/disk"},
        "startsAt": "2024-05-01T11:58:00Z", "endsAt": "2024-05-01T12:04:05Z",
        "generatorURL": "watchkeeper://web1/disks"}
    assert alert["annotations"]["summary"].startswith("CRITICAL web1 disks")


def test_a_runbook_that_is_no_url_is_an_annotation_of_its_own() -> None:
    (alert,) = alerts_for(ev(runbook="restart nginx"), CTX, T0, 240)
    assert alert["annotations"]["runbook"] == "restart nginx"
    assert "runbook_url" not in alert["annotations"]


def test_a_resolve_ends_the_alert_with_the_severity_it_had_when_it_resolved() -> None:
    resolved = ev(EventKind.RESOLVED, Status.OK, previous_severity=Status.WARNING)
    (alert,) = alerts_for(resolved, CTX, T0 + 30, 240)
    assert alert["labels"]["severity"] == "warning"
    assert (alert["startsAt"], alert["endsAt"]) == ("2024-05-01T11:58:00Z",
                                                    "2024-05-01T12:00:00Z")
    assert alert["annotations"]["summary"].startswith("RESOLVED web1 disks")


def test_a_flapping_alert_that_settled_ok_is_resolved() -> None:
    (alert,) = alerts_for(ev(EventKind.STABLE, Status.OK, previous_severity=Status.CRITICAL),
                          CTX, T0, 240)
    assert (alert["labels"]["severity"], alert["endsAt"]) == ("critical",
                                                              "2024-05-01T12:00:00Z")


@pytest.mark.parametrize(("kind", "now", "was"), [
    (EventKind.ESCALATED, Status.CRITICAL, Status.WARNING),
    (EventKind.DEESCALATED, Status.WARNING, Status.CRITICAL),
])
def test_a_severity_change_ends_the_label_set_it_replaces(kind: EventKind, now: Status,
                                                          was: Status) -> None:
    new, old = alerts_for(ev(kind, now, previous_severity=was), CTX, T0, 240)
    assert (new["labels"]["severity"], new["endsAt"]) == (now.value, "2024-05-01T12:04:00Z")
    assert (old["labels"]["severity"], old["endsAt"]) == (was.value, "2024-05-01T12:00:00Z")
    assert {**old["labels"], "severity": now.value} == new["labels"]


@pytest.mark.parametrize("kind", [EventKind.ACKNOWLEDGED, EventKind.REMINDER,
                                  EventKind.UNANSWERED, EventKind.FLAPPING])
def test_a_notice_about_an_open_alert_restates_it_as_firing(kind: EventKind) -> None:
    (alert,) = alerts_for(ev(kind), CTX, T0, 240)
    assert alert["endsAt"] == "2024-05-01T12:04:00Z"
    assert alert["annotations"]["summary"].startswith("CRITICAL web1 disks")


def state(key: AlertKey = KEY, phase: Phase = Phase.FIRING, incident: str = "inc-1",
          severity: Status = Status.CRITICAL) -> AlertState:
    return AlertState(key, phase, severity, problem_since=T0 - 60, fired_at=T0 - 30,
                      incident=incident, why="down", value=1.0)


def test_only_firing_alerts_are_restated() -> None:
    restated = open_event(state(), T0, ("web",), "run it")
    assert restated is not None
    assert (restated.kind, restated.severity, restated.since, restated.tags,
            restated.runbook) == (EventKind.FIRING, Status.CRITICAL, T0 - 60, ("web",),
                                  "run it")
    for phase in (Phase.OK, Phase.PENDING, Phase.RESOLVED):
        assert open_event(state(phase=phase), T0) is None


AM1, AM2, MAIL = "alertmanager://am1", "alertmanager://am2", "mailto://ops@example.com"
SITE = AlertKey("web1", "site", "status")


def routing(routes: tuple[Route, ...] = ()) -> Routing:
    return Routing(routes=routes,
                   channels={"am": Channel(name="am", urls=(AM1,)),
                             "oncall": Channel(name="oncall", urls=(AM2, MAIL))},
                   tags={"site": ("web",), "disks": ()},
                   runbooks={"site": "https://wiki.example.com/site"})


def keys(events: list[AlertEvent]) -> list[str]:
    return sorted(e.key.check for e in events)


def test_open_alerts_go_where_their_routes_send_them() -> None:
    states = [state(), state(SITE, incident="inc-2"),
              state(AlertKey("web1", "cpu", "status"), Phase.PENDING, "inc-3")]
    web_only = (Route(channels=("am",), tags=("web",)),
                Route(channels=("oncall",), severity=(Status.CRITICAL,)))
    assert keys(open_for(AM1, states, T0, routing=routing())) == ["disks", "site"]
    assert keys(open_for(AM1, states, T0, routing=routing(web_only))) == ["site"]
    assert keys(open_for(AM2, states, T0, routing=routing(web_only))) == ["disks", "site"]
    assert open_for("alertmanager://elsewhere", states, T0, routing=routing()) == []
    (site,) = open_for(AM1, states, T0, routing=routing(web_only))
    assert site.runbook == "https://wiki.example.com/site"


def test_alerts_held_back_or_escalated_follow_what_was_announced() -> None:
    states = [state(), state(SITE, incident="inc-2")]
    only_am = (Route(channels=("am",), checks=("site",)),)
    assert keys(open_for(AM1, states, T0, routing=routing(), held={"inc-2"})) == ["disks"]
    assert keys(open_for(AM2, states, T0, routing=routing(only_am))) == []
    assert keys(open_for(AM2, states, T0, routing=routing(only_am),
                         escalated={"inc-1": ("oncall",)})) == ["disks"]
