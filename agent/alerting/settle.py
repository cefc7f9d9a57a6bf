"""The settle stage: from a verdict's events to what is stored and sent.

Pure: every function takes ``now`` (the decision time), ``wall`` (the wall clock, which
silences are read on; ``now`` when not given) and the situation (silences, suppressed
incidents, routes) as values and returns a ``Commit``; the runtime stores it in one
transaction, tells it which deliveries the store queued (``Commit.stored``: one equal to a
row already queued is not queued twice), then takes it as current (``Judge.apply`` and the
suppressed incidents) and logs its notes.

The stages, in order: silences (``agent.alerting.silences``) hold back what planned work
should keep quiet, then routing turns each event to deliver into one delivery per target
URL of every channel its routes name.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agent.alerting.escalation import followers
from agent.alerting.silences import (
    Decision,
    HoldCause,
    Silence,
    Suppressed,
    decide,
    format_until,
    release,
)
from agent.alerting.state import AlertEvent, AlertState, EventKind
from agent.check import load_kind
from agent.model import AlertKey
from agent.notify.routing import deliveries as route_deliveries
from agent.store.records import Delivery

if TYPE_CHECKING:
    from agent.alerting.judge import Verdict
    from agent.config.models import Channel, Config, Route


@dataclass(frozen=True, slots=True)
class Routing:
    """Where events go: the routes and channels, and each configured check's tags."""

    routes: Sequence[Route] = ()
    channels: Mapping[str, Channel] = field(default_factory=dict)
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Each configured check's runbook, shown in every message of its alerts.
    runbooks: Mapping[str, str] = field(default_factory=dict)
    #: What each configured check watches (``Check.where``), named in its messages.
    wheres: Mapping[str, str] = field(default_factory=dict)

    def deliveries(self, event: AlertEvent) -> list[Delivery]:
        """One delivery per target of every channel ``event`` is routed to, the event
        carrying its check's runbook.

        The tags are the check's as configured now; a check no longer configured keeps
        the tags its event carries.
        """
        tags = self.tags.get(event.key.check, event.tags)
        return route_deliveries(self.annotate(event), tags, self.routes, self.channels)

    def annotate(self, event: AlertEvent) -> AlertEvent:
        """``event`` with its check's runbook and what it watches as configured now."""
        runbook = self.runbooks.get(event.key.check, event.runbook)
        where = self.wheres.get(event.key.check, event.where)
        if runbook == event.runbook and where == event.where:
            return event
        return replace(event, runbook=runbook, where=where)

    @classmethod
    def of(cls, config: Config) -> Routing:
        """The routing of a config."""
        return cls(config.routes, config.channels, {c.name: c.tags for c in config.checks},
                   {c.name: c.runbook for c in config.checks if c.runbook},
                   watched(config))


def watched(config: Config) -> dict[str, str]:
    """What each configured check watches, by its kind's ``where`` (a kind that cannot
    say, or fails to, names nothing: a message without it is better than none)."""
    kinds: dict[str, Any] = {}
    out: dict[str, str] = {}
    for c in config.checks:
        try:
            if c.kind not in kinds:
                kinds[c.kind] = load_kind(c.kind)
            where = kinds[c.kind].where(c.options)
        except Exception:  # a kind's own code (a third party's): never stop routing
            continue
        if isinstance(where, str) and where.strip():
            out[c.name] = " ".join(where.split())[:500]
    return out


class NoteKind(enum.Enum):
    """What happened to one event, for the log."""

    QUEUED = "queued"
    #: Queued, announcing an incident no longer held back (its silence or window ended,
    #: its parent recovered, its group's first resolved).
    RELEASED = "released"
    SILENCED = "silenced"
    #: A RESOLVED not sent because its FIRING was never sent.
    DROPPED = "dropped"
    #: A reminder not sent: someone acknowledged the incident.
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class Note:
    """One event's fate, worded for the log by ``text``."""

    kind: NoteKind
    event: AlertEvent
    #: Deliveries queued for the event (QUEUED, RELEASED).
    deliveries: int = 0
    silence: Silence | None = None
    #: Deliveries the store did not queue because an equal one already was.
    duplicates: int = 0

    @property
    def level(self) -> int:
        """The log level: problems as warnings, everything else as information."""
        if self.kind in (NoteKind.QUEUED, NoteKind.RELEASED) and self.event.kind not in (
                EventKind.RESOLVED, EventKind.ACKNOWLEDGED, EventKind.UNACKNOWLEDGED):
            return logging.WARNING
        return logging.INFO

    def text(self, now: float) -> str:
        """One log line (``now``, the wall clock, words a silence's end)."""
        ev = self.event
        head = f"alert {ev.kind.value.upper()} {ev.key.as_text()}: {ev.why}"
        if self.kind is NoteKind.SILENCED and self.silence is not None and \
                self.silence.cause in (HoldCause.DEPENDENCY, HoldCause.GROUPING):
            return f"{head} ({ev.severity.value}) held back: {self.silence.reason}"
        if self.kind is NoteKind.SILENCED and self.silence is not None:
            s = self.silence
            reason = f" ({s.reason})" if s.reason else ""
            return (f"{head} ({ev.severity.value}) silenced by {s.label} until "
                    f"{format_until(s.ends_at, now)}{reason}")
        if self.kind is NoteKind.DROPPED:
            return f"{head} (not sent: its FIRING was held back throughout)"
        if self.kind is NoteKind.ACKNOWLEDGED:
            return f"{head} (not sent: the incident is acknowledged)"
        # Released by a silence's or window's end, a parent's recovery or a group's end.
        note = "; no longer held back" if self.kind is NoteKind.RELEASED else ""
        if self.duplicates:
            note = f", {self.duplicates} already queued before{note}"
        return (f"{head} ({ev.severity.value}; {self.deliveries} deliveries queued{note})")


@dataclass
class Commit:
    """What to store in one transaction, and what to log once it is stored."""

    states: list[AlertState] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    #: Incidents a silence now holds back (their FIRING was not sent).
    suppress: list[Suppressed] = field(default_factory=list)
    #: Incidents no longer held back.
    forget: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        """Whether anything must be stored."""
        return bool(self.states or self.deliveries or self.suppress or self.forget)

    def stored(self, queued: Sequence[bool]) -> None:
        """Word the notes as stored: ``queued[i]`` says whether the store queued
        ``deliveries[i]`` (False: an equal row was queued before, and it is not queued
        twice). The log then says how many were queued, never more."""
        if len(queued) != len(self.deliveries):
            raise ValueError(f"{len(queued)} answers for {len(self.deliveries)} deliveries")
        notes: list[Note] = []
        start = 0
        for note in self.notes:
            if note.kind in (NoteKind.QUEUED, NoteKind.RELEASED):
                # A note's deliveries follow the previous note's, in order.
                routed = note.deliveries + note.duplicates
                fresh = sum(queued[start:start + routed])
                start += routed
                notes.append(replace(note, deliveries=fresh, duplicates=routed - fresh))
            else:
                notes.append(note)
        self.notes = notes


def settle(verdict: Verdict, silences: Sequence[Silence],
           suppressed: Mapping[str, Suppressed], routing: Routing, now: float, *,
           wall: float | None = None, acknowledged: Collection[str] = (),
           escalated: Mapping[str, Sequence[str]] | None = None) -> Commit:
    """Decide what ``verdict`` stores and sends at ``now`` (silences read at ``wall``).

    Its states are stored whatever happens to its events: a silence holds back
    notifications, never the truth of an alert's state. Reminders of ``acknowledged``
    incidents are not sent (someone is on it); every other event of theirs is.
    """
    quiet = [ev for ev in verdict.events
             if ev.kind is EventKind.REMINDER and ev.incident in acknowledged]
    events = [ev for ev in verdict.events if not any(ev is q for q in quiet)]
    commit = _commit(decide(events, silences, suppressed, now, wall=wall), routing,
                     escalated or {})
    commit.notes.extend(Note(NoteKind.ACKNOWLEDGED, ev) for ev in quiet)
    commit.states = list(verdict.states)
    return commit


def settle_event(event: AlertEvent, routing: Routing,
                 escalated: Mapping[str, Sequence[str]] | None = None) -> Commit:
    """Send one event made outside the alert machine (an acknowledgement) where the
    alert's events go, and to the channels its incident was escalated to."""
    rows = _with_followers(event, routing.deliveries(event), routing, escalated or {})
    return Commit(deliveries=rows, notes=[Note(NoteKind.QUEUED, event, len(rows))])


def settle_escalation(event: AlertEvent, channels: Sequence[str], routing: Routing) -> Commit:
    """Send an escalation step's message to its channels only."""
    rows = [Delivery(event, name, target) for name in channels
            if name in routing.channels for target in range(len(routing.channels[name].urls))]
    return Commit(deliveries=rows, notes=[Note(NoteKind.QUEUED, event, len(rows))])


def _with_followers(event: AlertEvent, rows: list[Delivery], routing: Routing,
                    escalated: Mapping[str, Sequence[str]]) -> list[Delivery]:
    """``rows`` and, for an event escalated channels follow, one delivery per target of
    each such channel the routes did not reach."""
    reached = {d.channel for d in rows}
    extra = [Delivery(ev, name, target) for ev, name in followers([event], escalated)
             if name not in reached and name in routing.channels
             for target in range(len(routing.channels[name].urls))]
    return rows + extra


def settle_released(suppressed: Sequence[Suppressed], states: Mapping[AlertKey, AlertState],
                    silences: Sequence[Silence], routing: Routing, now: float, *,
                    wall: float | None = None,
                    annotate: Callable[[list[AlertEvent]], list[AlertEvent]] | None = None
                    ) -> Commit:
    """Announce the suppressed incidents whose silence ended (at ``wall``) and that still
    fire; ``annotate`` adds what their messages say of other alerts (those depending on
    them or grouped under them)."""
    decision = release(suppressed, states, silences, now, wall=wall)
    if annotate is not None and decision.deliver:
        told = annotate(decision.deliver)
        same = {id(raw): ev for raw, ev in zip(decision.deliver, told, strict=True)}
        decision.released = [same.get(id(ev), ev) for ev in decision.released]
        decision.deliver = told
    return _commit(decision, routing)


def _commit(decision: Decision, routing: Routing,
            escalated: Mapping[str, Sequence[str]] | None = None) -> Commit:
    commit = Commit(suppress=list(decision.suppress), forget=list(decision.forget))
    released = {id(ev) for ev in decision.released}
    for raw in decision.deliver:
        ev = routing.annotate(raw)
        rows = _with_followers(ev, routing.deliveries(ev), routing, escalated or {})
        commit.deliveries.extend(rows)
        kind = NoteKind.RELEASED if id(raw) in released else NoteKind.QUEUED
        commit.notes.append(Note(kind, ev, len(rows)))
    commit.notes.extend(Note(NoteKind.SILENCED, routing.annotate(ev), silence=s)
                        for ev, s in decision.silenced)
    commit.notes.extend(Note(NoteKind.DROPPED, ev) for ev in decision.dropped)
    return commit
