"""The open incidents, kept up to date from what the agent decides and delivers.

Pure: each method takes the moment and what happened, changes the open incidents and
returns the incidents it changed (to store). A resolved incident is kept here a while
longer (the last ``CLOSED_KEPT``), so the delivery of its RESOLVED is still recorded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from agent.alerting.host_groups import grouped_text
from agent.alerting.settle import Note, NoteKind
from agent.alerting.silences import HoldCause, Silence
from agent.alerting.state import AlertEvent, EventKind
from agent.incidents.record import Entry, EntryKind, Incident
from agent.model import AlertKey, Status
from agent.store.records import OutboxRow
from agent.units import format_duration

#: Resolved incidents remembered for the deliveries still to come.
CLOSED_KEPT = 1000


class IncidentBook:
    """Open incidents by id, and the latest resolved ones."""

    def __init__(self, incidents: Iterable[Incident] = ()) -> None:
        """From the incidents stored: the open ones, and the latest resolved ones (to
        count recurrences and record late deliveries)."""
        self._open: dict[str, Incident] = {}
        #: Incidents an alert joined while one note was taken.
        self._heads: list[Incident] = []
        #: Notes of grouped alerts whose first was not known yet (within one commit).
        self._orphans: list[Note] = []
        #: Open incidents whose bad samples were counted since they were last stored.
        self._unsaved: set[str] = set()
        self._closed: OrderedDict[str, Incident] = OrderedDict()
        for incident in sorted(incidents, key=lambda i: i.opened_at):
            self._keep(incident)

    def recent(self) -> list[Incident]:
        """The open incidents and the latest resolved ones."""
        return [*self._closed.values(), *self._open.values()]

    def _known(self, incident: str) -> Incident | None:
        return self._open.get(incident) or self._closed.get(incident)

    def _keep(self, incident: Incident) -> None:
        if incident.open:
            self._open[incident.id] = incident
            return
        self._open.pop(incident.id, None)
        self._closed[incident.id] = incident
        self._closed.move_to_end(incident.id)
        while len(self._closed) > CLOSED_KEPT:
            self._closed.popitem(last=False)

    def recovered(self) -> dict[str, float]:
        """Each check's latest resolve among the incidents known here."""
        out: dict[str, float] = {}
        for i in self._closed.values():
            if i.resolved_at is not None and i.resolved_at > out.get(i.check, float("-inf")):
                out[i.check] = i.resolved_at
        return out

    def group_members(self) -> dict[str, str | None]:
        """The open incidents of alerts held in a group: each one's id, the incident it
        joined (its group's first), or None once it was released and announced on its
        own (``agent.alerting.host_groups``: it is never regrouped)."""
        return {i.id: (None if i.released_at is not None else i.under)
                for i in self._open.values()
                if i.held_by == HoldCause.GROUPING.value and i.under is not None}

    def get(self, incident: str) -> Incident | None:
        """An open incident by id."""
        return self._open.get(incident)

    def open_incidents(self) -> list[Incident]:
        """Every open incident, oldest first."""
        return sorted(self._open.values(), key=lambda i: (i.opened_at, i.id))

    # -- what was decided --------------------------------------------------------------

    def decided(self, notes: Sequence[Note]) -> list[Incident]:
        """Take the events of one commit (its notes say what became of each)."""
        changed: dict[str, Incident] = {}
        self._orphans = []
        for note in notes:
            self._heads = []
            found = self._event(note)
            if found is not None:
                changed.update((i.id, i) for i in (found, *self._heads))
                for adopted in self._adopt(note.event, found):
                    changed[adopted.id] = adopted
        # A grouped alert held in the same commit as its first, before it: join it now.
        for note in self._orphans:
            child = self._open.get(note.event.incident)
            head = None if note.silence is None else self._head_of(note.silence,
                                                                   note.event.key.host)
            if child is None or child.under is not None or head is None:
                continue
            head, child = joined(head, child, note.event.at)
            self._keep(head)
            self._keep(child)
            changed.update({head.id: head, child.id: child})
        return list(changed.values())

    def _adopt(self, ev: AlertEvent, head: Incident) -> list[Incident]:
        """The held incidents that the event's message names (dependents failing with it,
        alerts grouped under it) join ``head``: the records that changed."""
        if not head.open or not (ev.dependents or ev.grouped):
            return []
        wanted_checks = set(ev.dependents)
        wanted_alerts = set(ev.grouped)
        out: list[Incident] = []
        for held in sorted(self._open.values(), key=lambda i: i.opened_at):
            if held.id == head.id or held.under is not None or not held.silenced or \
                    held.host != head.host:
                continue
            if held.check in wanted_checks or alert_text(held) in wanted_alerts:
                head, child = joined(head, held, ev.at)
                self._keep(child)
                out.append(child)
        if out:
            self._keep(head)
            out.append(head)
        return out

    def _event(self, note: Note) -> Incident | None:
        ev = note.event
        current = self._open.get(ev.incident)
        if ev.kind is EventKind.FIRING:
            return self._fired(note, current)
        if ev.kind is EventKind.FLAPPING:
            base = current if current is not None else opened(ev)
            updated = base.with_entry(Entry(at=ev.at, kind=EntryKind.FLAPPING, text=ev.why),
                                      flapped=base.flapped + 1,
                                      worst=Status.worst([base.worst, ev.severity]))
            self._keep(updated)
            return updated
        if current is None or ev.kind in (EventKind.ACKNOWLEDGED, EventKind.UNACKNOWLEDGED,
                                          EventKind.UNANSWERED):
            return None  # an acknowledgement or escalation is recorded when it is made
        if ev.kind in (EventKind.ESCALATED, EventKind.DEESCALATED):
            before = ev.previous_severity.value.upper() if ev.previous_severity else "?"
            updated = current.with_entry(
                Entry(at=ev.at, kind=EntryKind.SEVERITY,
                      text=f"{before} -> {ev.severity.value.upper()}: {ev.why}"),
                severity=ev.severity, why=ev.why,
                worst=Status.worst([current.worst, ev.severity]))
        elif ev.kind is EventKind.STABLE:
            done = {"resolved_at": ev.at} if not ev.severity.is_problem else {}
            updated = current.with_entry(
                Entry(at=ev.at, kind=EntryKind.STABLE, text=f"stable again: {ev.why}"),
                severity=ev.severity, **done)
        elif ev.kind is EventKind.REMINDER:
            quiet = " (not sent: acknowledged)" if note.kind is NoteKind.ACKNOWLEDGED else \
                " (not sent: held back)" if note.kind is NoteKind.SILENCED else ""
            updated = current.with_entry(Entry(at=ev.at, kind=EntryKind.REMINDER,
                                               text=f"still {ev.severity.value.upper()}{quiet}"))
        elif ev.kind is EventKind.RESOLVED:
            lasted = f" after {format_duration(ev.duration)}" if ev.duration else ""
            sent = "" if note.kind is not NoteKind.DROPPED else \
                " (nothing was sent: a silence held it back throughout)"
            updated = current.with_entry(
                Entry(at=ev.at, kind=EntryKind.RESOLVED, text=f"resolved{lasted}{sent}"),
                resolved_at=ev.at, severity=Status.OK)
        else:
            return None
        self._keep(updated)
        return updated

    def _fired(self, note: Note, current: Incident | None) -> Incident:
        ev = note.event
        if current is not None:
            # Announced again: a silence that held its FIRING back has ended.
            released = note.kind is NoteKind.RELEASED
            held = f" by {current.held_label}" if current.held_label else ""
            text = f"no longer held back{held}: announced" if released else "announced again"
            updated = current.with_entry(
                Entry(at=ev.at, kind=EntryKind.RELEASED, text=text),
                released_at=ev.at if released and current.released_at is None
                else current.released_at)
        else:
            updated = opened(ev)
            if note.kind is NoteKind.SILENCED and note.silence is not None:
                s = note.silence
                first = s.group is not None and s.key == s.group  # it waits for the others
                label = hold_label(s)
                plain = s.cause in (HoldCause.SILENCE, HoldCause.MAINTENANCE)
                updated = updated.with_entry(
                    Entry(at=ev.at, kind=EntryKind.SILENCED,
                          text=f"held back by {label}" if plain else f"held back: {label}"),
                    silenced=True, held_by=s.cause.value, held_label=None if first else label)
                head = None if first else self._head_of(s, ev.key.host)
                if head is not None:
                    head, updated = joined(head, updated, ev.at)
                    self._keep(head)
                    self._heads.append(head)
                elif not first and s.group is not None:
                    self._orphans.append(note)
        self._open[updated.id] = updated
        return updated

    def _head_of(self, hold: Silence, host: str) -> Incident | None:
        """The open incident a held alert joins: its group's first alert's, or its failing
        parent's (not one whose next check is still awaited)."""
        for incident in sorted(self._open.values(), key=lambda i: i.opened_at):
            if incident.host != host:
                continue
            if hold.group is not None and incident.key == hold.group.as_text():
                return incident
            if hold.group is None and hold.parent and hold.ends_at == float("inf") and \
                    incident.check == hold.parent:
                return incident
        return None

    # -- who handles it ----------------------------------------------------------------

    @property
    def acknowledged(self) -> frozenset[str]:
        """The open incidents someone acknowledged."""
        return frozenset(i.id for i in self._open.values() if i.acked_at is not None)

    def find(self, incident: str) -> Incident:
        """The open incident with id ``incident``, or the one whose id starts so.

        Raises LookupError, in words for a person, when there is none or several."""
        found = self._open.get(incident)
        if found is not None:
            return found
        matches = [i for i in self._open.values() if i.id.startswith(incident)]
        if len(matches) == 1:
            return matches[0]
        closed = self._closed.get(incident) or next(
            (i for i in self._closed.values() if i.id.startswith(incident)), None)
        if not matches and closed is not None:
            raise LookupError(f"incident {closed.id} is resolved already")
        if not matches:
            raise LookupError(f"no open incident {incident!r} (see 'watchkeeper incidents')")
        raise LookupError(f"{incident!r} names {len(matches)} open incidents: "
                          + ", ".join(sorted(i.id for i in matches)))

    def acknowledge(self, incident: str, at: float, by: str, comment: str) -> Incident:
        """``by`` handles ``incident`` from ``at`` on (LookupError: see ``find``)."""
        current = self.find(incident)
        note = f": {comment}" if comment else ""
        again = " again" if current.acked_at is not None else ""
        updated = current.with_entry(
            Entry(at=at, kind=EntryKind.ACKNOWLEDGED, text=f"acknowledged{again} by {by}{note}"),
            acked_at=current.acked_at if current.acked_at is not None else at,
            acked_by=by, ack_comment=comment or None)
        self._keep(updated)
        return updated

    def unacknowledge(self, incident: str, at: float, by: str) -> Incident:
        """Nobody handles ``incident`` any more (LookupError: see ``find``)."""
        current = self.find(incident)
        if current.acked_at is None:
            raise LookupError(f"incident {current.id} is not acknowledged")
        updated = current.with_entry(
            Entry(at=at, kind=EntryKind.UNACKNOWLEDGED, text=f"acknowledgement taken back by "
                                                             f"{by}"),
            acked_at=None, acked_by=None, ack_comment=None)
        self._keep(updated)
        return updated

    def escalated(self, incident: str, step: str, channels: Sequence[str],
                  after: float, at: float) -> Incident | None:
        """An escalation step was taken: ``channels`` told it is still open."""
        current = self._open.get(incident)
        if current is None:
            return None
        told = [c for c in channels if c not in current.escalated_to]
        updated = current.with_entry(
            Entry(at=at, kind=EntryKind.ESCALATED,
                  text=f"escalated to {', '.join(channels)}: nobody acknowledged it within "
                       f"{format_duration(after)}"),
            escalations=[*current.escalations, step],
            escalated_to=[*current.escalated_to, *told])
        self._keep(updated)
        return updated

    def acted(self, incident: str, text: str, at: float) -> Incident | None:
        """The check's action ran for ``incident`` (``text``: how it went)."""
        current = self._known(incident)
        if current is None:
            return None
        updated = current.with_entry(Entry(at=at, kind=EntryKind.ACTION, text=text),
                                     actions=current.actions + 1)
        self._keep(updated)
        return updated

    def escalated_channels(self) -> dict[str, tuple[str, ...]]:
        """For each incident known here, the channels escalation told."""
        return {i.id: tuple(i.escalated_to)
                for i in (*self._open.values(), *self._closed.values()) if i.escalated_to}

    # -- what was delivered ------------------------------------------------------------

    def delivered(self, rows: Sequence[OutboxRow], at: float) -> list[Incident]:
        """Rows a service accepted at ``at``."""
        changed: dict[str, Incident] = {}
        for row in rows:
            current = self._known(row.event.incident)
            if current is None:
                continue
            updated = current.with_entry(
                Entry(at=at, kind=EntryKind.NOTIFIED,
                      text=f"{row.event.kind.value.upper()} delivered to {row.channel} "
                           f"#{row.target} (attempt {row.attempts})"),
                notifications=current.notifications + 1,
                first_notified_at=current.first_notified_at
                if current.first_notified_at is not None else at)
            changed[updated.id] = updated
            self._keep(updated)
        return list(changed.values())

    def given_up(self, rows: Sequence[OutboxRow], at: float) -> list[Incident]:
        """Rows that will not be delivered."""
        changed: dict[str, Incident] = {}
        for row in rows:
            current = self._known(row.event.incident)
            if current is None:
                continue
            updated = current.with_entry(Entry(
                at=at, kind=EntryKind.GAVE_UP,
                text=f"{row.event.kind.value.upper()} to {row.channel} #{row.target} given "
                     f"up: {row.last_error or 'no reason'}"))
            changed[updated.id] = updated
            self._keep(updated)
        return list(changed.values())

    # -- the raw breaches --------------------------------------------------------------

    def breached(self, incidents: Iterable[str]) -> None:
        """One bad sample more for each of ``incidents`` (counted, not stored at once:
        the next change of the incident carries the count, or ``unsaved_breaches``)."""
        for incident in incidents:
            current = self._open.get(incident)
            if current is not None:
                self._open[incident] = current.model_copy(
                    update={"breaches": current.breaches + 1})
                self._unsaved.add(incident)

    def unsaved_breaches(self) -> list[Incident]:
        """The open incidents whose count of bad samples changed since this was last
        asked: to store now and then, so a crash loses at most a few counts."""
        out = [i for i in (self._open.get(x) for x in sorted(self._unsaved)) if i is not None]
        self._unsaved.clear()
        return out


def hold_label(hold: Silence) -> str:
    """What a hold is, in words for a message or a timeline: ``silence #3 (reason)``,
    ``maintenance window backups (reason)``, or a parent's or group's reason."""
    if hold.cause in (HoldCause.SILENCE, HoldCause.MAINTENANCE):
        reason = f" ({hold.reason})" if hold.reason else ""
        return f"{'' if hold.window else 'silence '}{hold.label}{reason}"
    return hold.reason


def alert_text(incident: Incident) -> str:
    """How messages name the incident's alert among others of its host."""
    return grouped_text(AlertKey(incident.host, incident.check, incident.metric,
                                 tuple(sorted(incident.labels.items()))))


def joined(head: Incident, child: Incident, at: float) -> tuple[Incident, Incident]:
    """``child`` held under ``head``: both records say so."""
    name = alert_text(child)
    head = head.with_entry(Entry(at=at, kind=EntryKind.JOINED,
                                 text=f"{name} held under it: {child.why}"),
                           related=[*head.related, name])
    child = child.with_entry(Entry(at=at, kind=EntryKind.JOINED,
                                   text=f"held under incident {head.id} ({alert_text(head)})"),
                             under=head.id)
    return head, child


def opened(ev: AlertEvent) -> Incident:
    """A new incident for the FIRING ``ev``."""
    key: AlertKey = ev.key
    return Incident(
        id=ev.incident, host=key.host, check=key.check, metric=key.metric,
        labels=dict(key.labels), key=key.as_text(), opened_at=ev.at,
        first_bad_at=ev.since if ev.since is not None else ev.at, severity=ev.severity,
        worst=ev.severity, why=ev.why, runbook=ev.runbook,
        timeline=[Entry(at=ev.since if ev.since is not None else ev.at,
                        kind=EntryKind.OPENED,
                        text=f"{ev.severity.value.upper()}: {ev.why}")])
