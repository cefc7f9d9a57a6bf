"""Alert states and the events their changes produce. Plain values: stored, compared, sent."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from agent.model import AlertKey, Status


class Phase(enum.Enum):
    """Where an alert stands. RESOLVED is OK after having fired (kept for the record)."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class EventKind(enum.Enum):
    """What a notification announces."""

    FIRING = "firing"
    ESCALATED = "escalated"        # WARNING -> CRITICAL (or to UNKNOWN) while firing
    DEESCALATED = "deescalated"    # CRITICAL -> WARNING while firing
    REMINDER = "reminder"          # still firing after repeat_interval
    RESOLVED = "resolved"
    FLAPPING = "flapping"          # its state changes too often: flips go quiet
    STABLE = "stable"              # no longer flapping, settled OK or still a problem
    UNANSWERED = "unanswered"      # still open and unacknowledged: an escalation step
    ACKNOWLEDGED = "acknowledged"  # someone said "I'm on it": reminders stop
    UNACKNOWLEDGED = "unacknowledged"  # ... and took it back: reminders go on


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything the machine remembers of one alert key between findings.

    Times are decision times (``Clock.now()``: epoch seconds that never step).
    ``incident`` is the stable id of the current (or last) firing episode, shared by every
    event of that episode.
    """

    key: AlertKey
    phase: Phase = Phase.OK
    severity: Status = Status.OK
    #: When the current problem was first seen (start of PENDING).
    problem_since: float | None = None
    #: Consecutive problem samples seen (for sample-count ``for``).
    problem_samples: int = 0
    #: When FIRING began.
    fired_at: float | None = None
    #: When the value first looked recovered while firing (for ``recover_for``).
    recovering_since: float | None = None
    recovering_samples: int = 0
    #: When the last notification for this alert was emitted.
    last_notified_at: float | None = None
    #: When the state was last updated by a finding.
    updated_at: float | None = None
    incident: str | None = None
    #: The latest finding's reason, value and threshold (for messages and ``status``).
    why: str = ""
    value: float | None = None
    threshold: str | None = None
    #: The last ``history_len`` evaluations, newest in bit 0 (1: a problem), for flapping.
    history: int = 0
    history_len: int = 0
    #: Whether it flaps now (its flips are not announced).
    flapping: bool = False
    #: The firing episodes this key has had (the current or last one's number; 0 before
    #: the first, and for states stored before episodes were counted).
    episode: int = 0
    #: Events emitted in the current incident (the last one's ``seq``).
    emitted: int = 0


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One notification-worthy change, appended to the outbox with the new state."""

    kind: EventKind
    key: AlertKey
    severity: Status
    at: float
    incident: str
    why: str
    value: float | None = None
    threshold: str | None = None
    #: When the problem began (for "since") and, on RESOLVED, how long it lasted.
    since: float | None = None
    duration: float | None = None
    previous_severity: Status | None = None
    tags: tuple[str, ...] = field(default=())
    #: What to do about it (the check's ``runbook``: a URL or a short text).
    runbook: str | None = None
    #: The checks that depend on this one and fail with it (their alerts held back).
    dependents: tuple[str, ...] = ()
    #: The other alerts of this host that opened with this one, held under its incident
    #: (``check/metric{labels}``; see ``agent.alerting.host_groups``).
    grouped: tuple[str, ...] = ()
    #: What the check's action did since the last notification of the incident.
    action: str | None = None
    #: The signed link acknowledging its incident (added just before sending, never
    #: stored: see ``agent.ack_links``).
    ack_url: str | None = None
    #: Its number among the events of its incident, from 1 (0: an event stored before
    #: events were numbered).
    seq: int = 0
    #: What the check watches (its URL, ``host:port`` or path; no credentials), shown in
    #: messages; filled in when the event is routed, like the runbook.
    where: str | None = None
    #: What held this alert back before it was announced (a FIRING released when its
    #: silence, maintenance window, parent or group let it go: ``maintenance window
    #: backups (weekly full backup)``); added just before sending from the incident log,
    #: never stored, as ``ack_url`` is.
    held: str | None = None

    @property
    def dedup_key(self) -> str:
        """Stable id of this message: the same across retries and restarts, and never the
        same for two events (the incident's own count, not a time, tells them apart)."""
        if self.seq:
            return f"{self.incident}:{self.seq}"
        return f"{self.incident}:{self.kind.value}:{int(self.at)}"
