"""Escalation: nobody answered, so someone else is told.

A route may list steps (``escalate: [{after: 15m, channels: [sms]}, {after: 1h, channels:
[pager]}]``). When an incident the route matches is still open, was announced, and nobody
acknowledged it ``after`` it was announced (``announced_at``: a held alert, when it was
let go), the step's channels get one UNANSWERED message. Each
step is taken once per incident (the incident's record keeps which were). The channels an
incident was escalated to also hear how it ends: its acknowledgement and its resolve.

Pure: the incidents, routes and the clock's reading come in as values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent, EventKind
from agent.incidents.record import Incident
from agent.model import AlertKey, make_labels
from agent.notify.routing import route_matches
from agent.units import format_duration

if TYPE_CHECKING:
    from agent.config.models import Route


#: Events an incident's escalated channels hear too.
FOLLOWED = frozenset({EventKind.RESOLVED, EventKind.STABLE, EventKind.ACKNOWLEDGED,
                      EventKind.UNACKNOWLEDGED})


@dataclass(frozen=True, slots=True)
class DueStep:
    """An escalation step to take now: which (``route.step``), and to whom."""

    step: str
    channels: tuple[str, ...]
    after: float


def key_of(incident: Incident) -> AlertKey:
    """The alert key an incident is about."""
    return AlertKey(incident.host, incident.check, incident.metric,
                    make_labels(incident.labels))


def due_steps(incident: Incident, routes: Sequence[Route], tags: Sequence[str],
              now: float) -> list[DueStep]:
    """The steps of ``routes`` due for ``incident`` at ``now`` and not taken yet."""
    if not incident.open or incident.acked_at is not None or \
            incident.first_notified_at is None:
        return []
    probe = AlertEvent(EventKind.FIRING, key_of(incident), incident.severity,
                       incident.opened_at, incident.id, incident.why, tags=tuple(tags))
    due: list[DueStep] = []
    for r, route in enumerate(routes):
        if not route.escalate or not route_matches(route, probe, tags):
            continue
        for s, step in enumerate(route.escalate):
            name = f"{r}.{s}"
            if name not in incident.escalations and now >= announced_at(incident) + step.after:
                due.append(DueStep(name, step.channels, step.after))
    return due


def announced_at(incident: Incident) -> float:
    """When ``incident`` was first announced, which escalation counts from: when it fired,
    or, held back (a silence, a maintenance window, a parent, a group), when the hold let
    it go: nobody could answer before, so its steps do not all come at once then."""
    return incident.released_at if incident.released_at is not None else incident.opened_at


def unanswered(incident: Incident, step: DueStep, now: float,
               tags: Sequence[str] = ()) -> AlertEvent:
    """The message a step sends: the alert, still open, and for how long."""
    open_for = format_duration(max(now - incident.first_bad_at, 0.0))
    return AlertEvent(EventKind.UNANSWERED, key_of(incident), incident.severity, now,
                      incident.id, f"open for {open_for}, not acknowledged: {incident.why}",
                      since=incident.first_bad_at, tags=tuple(tags),
                      runbook=incident.runbook)


def followers(events: Sequence[AlertEvent],
              escalated: Mapping[str, Sequence[str]]) -> list[tuple[AlertEvent, str]]:
    """The (event, channel) pairs escalated channels hear besides the routes' own."""
    return [(ev, channel) for ev in events if ev.kind in FOLLOWED
            for channel in escalated.get(ev.incident, ())]
