"""Silences: "don't page me about db-* for 2 h". Which events a silence holds back.

Pure: every function takes ``now``, the decision time events carry, and ``wall``, the wall
clock a silence's window is read on: a person gave it as wall-clock times ("until 14:00
UTC"), so it ends when the clock says so (``wall`` defaults to ``now``). The rules, per
event of a key a silence matches:

- FIRING, ESCALATED, DEESCALATED, REMINDER: not delivered. A held-back FIRING is
  remembered (its incident is *suppressed*), since nothing was announced for it.
- RESOLVED: delivered, unless its incident is suppressed: then nothing was ever sent for
  that incident, so the resolve is dropped too and the incident forgotten. An incident
  announced before the silence began thus always gets its resolve (no pager incident is
  left open).

When the silence ends (expired or removed) and a suppressed incident is still firing,
``release`` announces it with a FIRING of the same incident; an event of a suppressed
incident that is no longer silenced announces it likewise.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey
from agent.timefmt import same_utc_day, utc_clock, utc_minute

#: The longest and shortest silence one may ask for.
MAX_SILENCE = 30 * 86400.0
MIN_SILENCE = 60.0
#: Silences that ended longer ago than this are deleted.
SILENCE_KEPT = 7 * 86400.0


class HoldCause(enum.Enum):
    """Why an alert is held back."""

    SILENCE = "silence"
    MAINTENANCE = "maintenance"
    DEPENDENCY = "dependency"
    GROUPING = "grouping"


@dataclass(frozen=True, slots=True)
class Silence:
    """Hold back the alerts of this host's checks matching ``check_glob`` (and ``metric``)
    from ``starts_at`` until ``ends_at`` (epoch seconds).

    ``host`` is the agent's own host name: a state database belongs to one agent, so the
    store does not keep it, and whoever reads silences says whose they are.
    """

    id: int
    check_glob: str
    metric: str | None
    starts_at: float
    ends_at: float
    reason: str
    created_at: float
    host: str
    #: The maintenance window it stands for (None: one a person added).
    window: str | None = None
    #: The check it depends on, whose failure (or coming check) it stands for.
    parent: str | None = None
    #: The one alert it holds (None: every alert of the check and metric matched).
    key: AlertKey | None = None
    #: The alert whose group it holds ``key`` in: alerts of one host that open together
    #: go out as one message (for the first alert itself: waiting for the others).
    group: AlertKey | None = None

    @property
    def label(self) -> str:
        """``#3``, ``maintenance window backups``, ``its dependency on gateway`` or
        ``grouping with web1/api`` (how the log and records name it)."""
        if self.group is not None:
            return f"grouping with {self.group.as_text()}"
        if self.parent:
            return f"its dependency on {self.parent}"
        return f"maintenance window {self.window}" if self.window else f"#{self.id}"

    @property
    def cause(self) -> HoldCause:
        """What the hold stands for."""
        if self.group is not None:
            return HoldCause.GROUPING
        if self.parent:
            return HoldCause.DEPENDENCY
        return HoldCause.MAINTENANCE if self.window else HoldCause.SILENCE

    def active(self, now: float) -> bool:
        """Whether the silence holds at ``now`` (its end is not included)."""
        return self.starts_at <= now < self.ends_at

    def matches(self, key: AlertKey, now: float) -> bool:
        """Whether the silence holds back the alerts of ``key`` at ``now``."""
        if self.key is not None:
            return self.active(now) and key == self.key
        return (self.active(now) and key.host == self.host
                and fnmatchcase(key.check, self.check_glob)
                and (self.metric is None or key.metric == self.metric))

    @property
    def match_text(self) -> str:
        """``CHECK`` or ``CHECK/METRIC``, as it was given."""
        return self.check_glob + (f"/{self.metric}" if self.metric is not None else "")


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A FIRING held back by a silence: its incident was never announced."""

    event: AlertEvent
    #: When it was held back.
    at: float

    @property
    def incident(self) -> str:
        return self.event.incident

    @property
    def key(self) -> AlertKey:
        return self.event.key


@dataclass
class Decision:
    """What to do with a batch of events (or with the suppressed incidents)."""

    #: Events to route and deliver (released FIRINGs included).
    deliver: list[AlertEvent] = field(default_factory=list)
    #: Events held back, each with the silence that held it.
    silenced: list[tuple[AlertEvent, Silence]] = field(default_factory=list)
    #: RESOLVEDs dropped because their incident's FIRING was never sent.
    dropped: list[AlertEvent] = field(default_factory=list)
    #: Incidents to remember as suppressed.
    suppress: list[Suppressed] = field(default_factory=list)
    #: Incidents to forget.
    forget: list[str] = field(default_factory=list)
    #: FIRINGs announcing suppressed incidents whose silence ended (also in ``deliver``).
    released: list[AlertEvent] = field(default_factory=list)

    @property
    def changes_suppressed(self) -> bool:
        return bool(self.suppress or self.forget)


def silencing(key: AlertKey, silences: Iterable[Silence], now: float) -> Silence | None:
    """The silence holding back ``key`` at ``now`` (the one ending last), or None."""
    holding = [s for s in silences if s.matches(key, now)]
    return max(holding, key=lambda s: (s.ends_at, s.id), default=None)


def decide(events: Sequence[AlertEvent], silences: Sequence[Silence],
           suppressed: Mapping[str, Suppressed], now: float, *,
           wall: float | None = None) -> Decision:
    """Apply the silences holding at ``wall`` to ``events``, given the incidents suppressed
    so far; ``now`` (decision time) is when an incident is held back."""
    at = now if wall is None else wall
    out = Decision()
    held = dict(suppressed)  # as it stands after the events seen so far in this batch
    for ev in events:
        if ev.kind is EventKind.RESOLVED:
            if ev.incident in held:
                out.dropped.append(ev)
                out.forget.append(ev.incident)
                del held[ev.incident]
            else:
                out.deliver.append(ev)
            continue
        silence = silencing(ev.key, silences, at)
        if silence is not None:
            out.silenced.append((ev, silence))
            if ev.kind is EventKind.FIRING and ev.incident not in held:
                held[ev.incident] = Suppressed(ev, now)
                out.suppress.append(held[ev.incident])
        elif ev.incident in held:
            # The silence ended before ``release`` noticed: announce the incident now.
            firing = replace(ev, kind=EventKind.FIRING, previous_severity=None, duration=None)
            out.deliver.append(firing)
            out.released.append(firing)
            out.forget.append(ev.incident)
            del held[ev.incident]
        else:
            out.deliver.append(ev)
    return out


def release(suppressed: Iterable[Suppressed], states: Mapping[AlertKey, AlertState],
            silences: Sequence[Silence], now: float, *, wall: float | None = None) -> Decision:
    """Announce the suppressed incidents no silence holds any more (at ``wall``).

    One still firing (the same incident in ``states``) gets a FIRING at ``now`` with the
    state's reason, value and severity, numbered as the FIRING held back was (that one
    was never queued); one no longer firing is just forgotten.
    """
    at = now if wall is None else wall
    out = Decision()
    for s in suppressed:
        state = states.get(s.key)
        if state is None or state.phase is not Phase.FIRING or state.incident != s.incident:
            out.forget.append(s.incident)
            continue
        if silencing(s.key, silences, at) is not None:
            continue
        firing = AlertEvent(EventKind.FIRING, s.key, state.severity, now, s.incident,
                            state.why, value=state.value, threshold=state.threshold,
                            since=state.problem_since, tags=s.event.tags, seq=s.event.seq)
        out.deliver.append(firing)
        out.released.append(firing)
        out.forget.append(s.incident)
    return out


def format_until(ends_at: float, now: float) -> str:
    """``14:00 UTC`` on the same UTC day as ``now``, else ``2024-05-02 14:00 UTC``."""
    if same_utc_day(ends_at, now):
        return utc_clock(ends_at)
    return utc_minute(ends_at)
