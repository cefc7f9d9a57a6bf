"""Escalation: an incident still open and unacknowledged tells more channels (pure)."""

from __future__ import annotations

import pytest

from agent.alerting.escalation import due_steps, followers, unanswered
from agent.alerting.settle import Routing, settle_escalation, settle_event
from agent.alerting.state import AlertEvent, EventKind
from agent.config.models import Channel, EscalationStep, Route
from agent.incidents.book import IncidentBook
from agent.incidents.record import Incident
from agent.model import AlertKey, Status

T0 = 1_700_000_000.0
ROUTES = (Route(channels=("chat",), escalate=(
    EscalationStep(after=900, channels=("sms",)),
    EscalationStep(after=3600, channels=("pager",)))),
    Route(channels=("chat",), severity=(Status.WARNING,)))
CHANNELS = {n: Channel(name=n, urls=(f"json://127.0.0.1:1/{n}",))
            for n in ("chat", "sms", "pager")}


def incident(**kw: object) -> Incident:
    base: dict[str, object] = dict(
        id="inc-1", host="web1", check="shop", metric="status", key="web1/shop/status",
        opened_at=T0, first_bad_at=T0 - 60, severity=Status.CRITICAL,
        worst=Status.CRITICAL, why="connection refused", first_notified_at=T0 + 1)
    return Incident.model_validate({**base, **kw})


@pytest.mark.parametrize(("at", "changes", "steps"), [
    (T0 + 899, {}, []),
    (T0 + 900, {}, ["0.0"]),
    (T0 + 3600, {}, ["0.0", "0.1"]),
    (T0 + 3600, {"escalations": ["0.0"]}, ["0.1"]),
    (T0 + 3600, {"acked_at": T0 + 100, "acked_by": "alice"}, []),
    (T0 + 3600, {"resolved_at": T0 + 200}, []),
    (T0 + 3600, {"first_notified_at": None}, []),  # never announced (held back)
    # held back two hours (a maintenance window), then let go: counted from the release
    (T0 + 7201, {"released_at": T0 + 7200, "first_notified_at": T0 + 7201}, []),
    (T0 + 8100, {"released_at": T0 + 7200, "first_notified_at": T0 + 7201}, ["0.0"]),
    (T0 + 10800, {"released_at": T0 + 7200, "first_notified_at": T0 + 7201},
     ["0.0", "0.1"]),
], ids=["too-soon", "first-step", "both-steps", "first-taken", "acknowledged", "resolved",
        "never-announced", "released-just-now", "released-first-step", "released-both"])
def test_steps_are_due_after_their_time_while_nobody_reacts(
        at: float, changes: dict[str, object], steps: list[str]) -> None:
    found = due_steps(incident(**changes), ROUTES, (), at)
    assert [s.step for s in found] == steps


def test_a_route_the_incident_does_not_match_does_not_escalate_it() -> None:
    warning_only = (Route(channels=("chat",), severity=(Status.WARNING,),
                          escalate=(EscalationStep(after=60, channels=("sms",)),)),)
    assert due_steps(incident(), warning_only, (), T0 + 3600) == []


def test_an_escalation_goes_to_its_step_channels_only_and_is_recorded() -> None:
    (step,) = due_steps(incident(), ROUTES, (), T0 + 900)
    event = unanswered(incident(), step, T0 + 900)
    assert event.kind is EventKind.UNANSWERED and "open for 16m" in event.why
    commit = settle_escalation(event, step.channels, Routing(ROUTES, CHANNELS))
    assert [d.channel for d in commit.deliveries] == ["sms"]
    book = IncidentBook([incident()])
    record = book.escalated("inc-1", step.step, step.channels, step.after, T0 + 900)
    assert record is not None and record.escalations == ["0.0"]
    assert record.escalated_to == ["sms"]
    assert book.escalated_channels() == {"inc-1": ("sms",)}


def test_escalated_channels_hear_the_acknowledgement_and_the_resolve() -> None:
    key = AlertKey("web1", "shop", "status")
    ack = AlertEvent(EventKind.ACKNOWLEDGED, key, Status.CRITICAL, T0, "inc-1", "by alice")
    reminder = AlertEvent(EventKind.REMINDER, key, Status.CRITICAL, T0, "inc-1", "down")
    assert followers([ack, reminder], {"inc-1": ("sms",)}) == [(ack, "sms")]
    commit = settle_event(ack, Routing(ROUTES, CHANNELS), {"inc-1": ("sms",)})
    assert sorted(d.channel for d in commit.deliveries) == ["chat", "sms"]
