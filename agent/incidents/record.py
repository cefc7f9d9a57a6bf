"""One incident as recorded: what happened, when, and what was sent about it.

An incident opens with the FIRING of an alert (delivered or held back by a silence) and
closes with its RESOLVED. Its timeline is bounded: the first entries and the latest are
kept, and how many were left out between them is counted.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict

from agent.model import Status

#: Timeline entries kept: the first ``HEAD`` and the latest up to ``MAX_ENTRIES`` in all.
MAX_ENTRIES = 200
HEAD = 20


class EntryKind(enum.Enum):
    """What a timeline entry tells."""

    OPENED = "opened"
    SILENCED = "silenced"
    #: An alert held under this incident joined it, or this one joined another's.
    JOINED = "joined"
    SEVERITY = "severity"
    REMINDER = "reminder"
    NOTIFIED = "notified"
    GAVE_UP = "gave_up"
    RELEASED = "released"
    FLAPPING = "flapping"
    STABLE = "stable"
    ESCALATED = "escalated"
    ACTION = "action"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    RESOLVED = "resolved"


class Entry(BaseModel):
    """One moment of an incident's timeline."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    at: float
    kind: EntryKind
    text: str


class Incident(BaseModel):
    """One alert episode, from its first bad sample to its resolve."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    host: str
    check: str
    metric: str
    labels: dict[str, str] = {}
    #: The alert key's text (``host/check/metric{labels}``).
    key: str
    #: When the alert fired, and when its problem was first seen (its first bad sample).
    opened_at: float
    first_bad_at: float
    severity: Status
    #: The worst severity it reached.
    worst: Status
    why: str = ""
    #: The check's runbook when the incident opened.
    runbook: str | None = None
    #: When the first notification about it was delivered (None: none was).
    first_notified_at: float | None = None
    notifications: int = 0
    acked_at: float | None = None
    acked_by: str | None = None
    ack_comment: str | None = None
    resolved_at: float | None = None
    #: Samples that breached while it was open (the raw noise it stood for).
    breaches: int = 0
    #: Whether a silence held its FIRING back, and why (``silence``, ``maintenance``,
    #: ``dependency`` or ``grouping``).
    silenced: bool = False
    held_by: str | None = None
    #: What held it back, in words (``maintenance window backups (weekly backup)``,
    #: ``silence #3 (reason)``, a parent's or group's reason); None for a group's first
    #: alert, which only waited for the others.
    held_label: str | None = None
    #: The incident it is held under (its parent's, or the first alert's of its group).
    under: str | None = None
    #: When a hold on it ended and it was announced (it is held under nobody since).
    released_at: float | None = None
    #: The alerts held under it (``check/metric{labels}``), in the order they joined.
    related: list[str] = []
    #: Spells of flapping within it.
    flapped: int = 0
    #: Escalation steps taken (``route.step``), and the channels they told.
    escalations: list[str] = []
    escalated_to: list[str] = []
    #: Runs of the check's actions for it.
    actions: int = 0
    timeline: list[Entry] = []
    #: Entries left out of the middle of a long timeline.
    left_out: int = 0

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def with_entry(self, entry: Entry, **changes: object) -> Incident:
        """This incident with ``entry`` appended (the middle of a long timeline is
        dropped) and ``changes`` made."""
        timeline = [*self.timeline, entry]
        left_out = self.left_out
        if len(timeline) > MAX_ENTRIES:
            timeline = timeline[:HEAD] + timeline[HEAD + 1:]
            left_out += 1
        return self.model_copy(update={"timeline": timeline, "left_out": left_out, **changes})
