"""The agent's incident desk: the incident log kept current, acknowledgements, escalation
steps and remediation actions, wired to the rest of the agent.

The decisions are pure (``agent.incidents.book``, ``agent.alerting.escalation``,
``agent.incidents.actions``); this class holds their state and does what they decide:
it hands records to the store writer, commits the messages they send through the
agent's ``send`` (which queues and stores a commit) and runs actions as tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from agent.action_runner import run_action
from agent.alerting.escalation import due_steps, key_of, unanswered
from agent.alerting.settle import (
    Commit,
    Note,
    NoteKind,
    Routing,
    settle_escalation,
    settle_event,
)
from agent.alerting.state import AlertEvent, AlertState, EventKind
from agent.clock import Clock
from agent.config.models import Config
from agent.incidents.actions import Budget, Outcome, after_fix, environment
from agent.incidents.book import IncidentBook
from agent.incidents.counters import IncidentCounters
from agent.incidents.record import Incident
from agent.incidents.recurrence import raised
from agent.model import AlertKey
from agent.notify.outbox import Recorded
from agent.store import writes
from agent.store.writes import WriteSink

log = logging.getLogger("watchkeeper.agent")


class IncidentDesk:
    """See the module's docstring. ``config`` and ``routing`` are read at each use (a
    reload replaces them); ``send`` queues and stores a commit, ``run_now`` runs a check
    out of turn, ``count`` counts an event of an incident in its alert's state (the
    judge's ``count_event``: the state that numbered it, or None)."""

    def __init__(self, book: IncidentBook, writer: WriteSink, clock: Clock, *,
                 config: Callable[[], Config], routing: Callable[[], Routing],
                 send: Callable[[Commit], None], run_now: Callable[[str], object],
                 count: Callable[[AlertKey, str], AlertState | None] | None = None) -> None:
        self.book = book
        self.writer = writer
        self.clock = clock
        self._config = config
        self._routing = routing
        self._send = send
        self._run_now = run_now
        self._count = count
        #: Runs per alert and hour, what runs now, what the next notification of an
        #: incident tells of its action, and the outcome a resolve may credit.
        self.budget = Budget()
        self._tasks: set[asyncio.Task[None]] = set()
        self._notes: dict[str, str] = {}
        self._fixes: dict[str, Outcome] = {}
        self.counters = IncidentCounters()

    def decided(self, notes: Sequence[Note]) -> None:
        """Take what a commit decided into the incident log and the counters."""
        self.record(self.book.decided(notes))
        self.counters.decided(notes)

    def record(self, changed: Sequence[Incident]) -> None:
        """Hand changed records to the store writer."""
        for incident in changed:
            self.writer.submit(writes.incident(incident))

    def save_breaches(self) -> None:
        """Store the incidents whose bad samples were counted since the last time (the
        agent calls this every few seconds): ``incident show`` and ``report`` stay right
        after a crash, without a write per sample."""
        self.record(self.book.unsaved_breaches())

    def delivered(self, done: Recorded, at: float) -> None:
        """The dispatcher's outcomes, into the incident log."""
        self.record(self.book.delivered(done.sent, at) + self.book.given_up(done.dead, at))

    # -- people --------------------------------------------------------------------------

    def acknowledge(self, incident: str, by: str, comment: str, undo: bool = False
                    ) -> Incident:
        """``by`` is on ``incident`` (``undo``: no longer): reminders stop (go on), and the
        channels its alerts went to are told. Raises LookupError when there is no such
        open incident."""
        now = self.clock.now()
        record = (self.book.unacknowledge(incident, now, by) if undo
                  else self.book.acknowledge(incident, now, by, comment))
        self.record([record])
        if not undo:
            self.counters.acknowledged[record.check] += 1
        kind = EventKind.UNACKNOWLEDGED if undo else EventKind.ACKNOWLEDGED
        why = f"by {by}" + (f": {comment}" if comment and not undo else "")
        event = AlertEvent(kind, key_of(record), record.severity, now, record.id, why,
                           since=record.first_bad_at)
        event, states = self._numbered(event)
        commit = settle_event(event, self._routing(), self.book.escalated_channels())
        commit.states = states
        self._send(commit)
        return record

    def _numbered(self, event: AlertEvent) -> tuple[AlertEvent, list[AlertState]]:
        """``event`` numbered among the events of its incident, as the machine numbers
        its own (its key ``<incident>:<n>``, never a time), and the state that counted it
        (stored with it, so the next event takes the next number)."""
        state = self._count(event.key, event.incident) if self._count is not None else None
        if state is None:
            return event, []
        return replace(event, seq=state.emitted), [state]

    def escalate(self) -> None:
        """Take the escalation steps due: tell more channels of incidents still open and
        unacknowledged."""
        now = self.clock.now()
        routing = self._routing()
        for incident in self.book.open_incidents():
            tags = routing.tags.get(incident.check, ())
            for step in due_steps(incident, self._config().routes, tags, now):
                event, states = self._numbered(unanswered(incident, step, now, tags))
                commit = settle_escalation(event, step.channels, routing)
                commit.states = states
                self._send(commit)
                self.counters.escalations[incident.check] += 1
                record = self.book.escalated(incident.id, step.step, step.channels,
                                             step.after, now)
                self.record([record] if record is not None else [])

    # -- actions -------------------------------------------------------------------------

    def annotate(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """The events, a FIRING raised when it recurs too often, a STABLE since its
        spell's start, each telling what its check's action did since its incident's last
        notification (a resolve: whether it fixed it)."""
        config = self._config()
        out = []
        for raw in events:
            event = self._spell(raw)
            check = config.check(event.key.check) if event.kind is EventKind.FIRING else None
            rule = check.recurrence if check is not None else None
            ev = event if rule is None else raised(event, self.book.recent(), rule.count,
                                                   rule.within, rule.severity)
            out.append(self._with_action(ev) if self._notes or self._fixes else ev)
        return out

    def decorate(self, event: AlertEvent) -> AlertEvent:
        """``event`` as it is sent: a FIRING that a hold let go says what held it (from
        the incident log, which is stored: a restart before it is sent keeps it)."""
        if event.kind is not EventKind.FIRING or event.held is not None:
            return event
        record = self.book.get(event.incident)
        if record is None or record.released_at is None or not record.held_label:
            return event
        return replace(event, held=record.held_label)

    def _spell(self, event: AlertEvent) -> AlertEvent:
        """A STABLE ends a flapping spell, which is one incident: it tells when the
        incident began (its first bad sample), not when the last flip did (the machine's
        problem has often ended by then), so its duration is the spell's."""
        if event.kind is not EventKind.STABLE:
            return event
        record = self.book.get(event.incident)
        if record is None or record.first_bad_at == event.since:
            return event
        return replace(event, since=record.first_bad_at)

    def _with_action(self, event: AlertEvent) -> AlertEvent:
        fix = self._fixes.pop(event.incident, None) if event.kind is EventKind.RESOLVED \
            else None
        note = self._notes.pop(event.incident, None)
        if fix is not None:
            note = after_fix(fix, event.at)
        return event if note is None else replace(event, action=note)

    def start_actions(self, commit: Commit) -> None:
        """Run the checks' ``on_firing`` / ``on_resolved`` for the events announced."""
        config = self._config()
        for note in commit.notes:
            ev = note.event
            if note.kind not in (NoteKind.QUEUED, NoteKind.RELEASED):
                continue
            check = config.check(ev.key.check)
            spec = None if check is None else (
                check.on_firing if ev.kind is EventKind.FIRING else
                check.on_resolved if ev.kind is EventKind.RESOLVED else None)
            if spec is None:
                continue
            if not self.budget.take(ev.key, self.clock.now(), spec.max_per_hour):
                log.warning("action of %s not run: it ran %d times in the last hour",
                            ev.key.as_text(), spec.max_per_hour)
                continue
            task = asyncio.create_task(self._act(ev, spec.command, spec.timeout))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _act(self, event: AlertEvent, command: tuple[str, ...], timeout: float) -> None:
        self.counters.actions[event.key.check] += 1
        outcome = await run_action(command, timeout, environment(event), self.clock)
        text = outcome.text()
        log.log(logging.INFO if outcome.ok else logging.WARNING, "action for %s %s: %s",
                event.kind.value.upper(), event.key.as_text(), text)
        record = self.book.acted(event.incident, text, self.clock.now())
        self.record([record] if record is not None else [])
        if event.kind is EventKind.FIRING:
            self._notes[event.incident] = text
            self._fixes[event.incident] = outcome
            self._run_now(event.key.check)  # did it fix it?

    async def close(self) -> None:
        """Stop the actions still running (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
