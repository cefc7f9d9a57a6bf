"""Flapping: an alert whose state keeps changing is announced once, not at every flip.

Pure, wrapped around the state machine (``agent.alerting.machine.step``). Each evaluation
is remembered as one bit (a problem or not) over the last ``flap_window`` of them. When
the state changed at least ``flap_changes`` times in that window the alert is FLAPPING:
one message says so, and until it settles its flips, reminders and severity changes are
quiet. It settles when a whole window passes without a change: one STABLE message says
in which state (a problem still, or OK, which closes the incident). The whole flapping
spell is one incident, whatever the machine opened and closed inside it.

The defaults follow Nagios's practice: 21 results kept (so 20 possible changes) and a
flap starting above 20 % of them, here 5 changes; Nagios's "below 5 %" to end becomes
"no change in the window", as an unweighted count cannot be below one change and above
none.
"""

from __future__ import annotations

from dataclasses import replace

from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import Finding, Status


def changes(history: int, length: int) -> int:
    """How many times the state changed within the last ``length`` evaluations."""
    if length < 2:
        return 0
    mask = (1 << (length - 1)) - 1
    return ((history ^ (history >> 1)) & mask).bit_count()


def flap_step(state: AlertState, finding: Finding, now: float, policy: Policy,
              tags: tuple[str, ...] = ()) -> tuple[AlertState, list[AlertEvent]]:
    """``machine.step`` with flapping: the new state, and the events to announce."""
    new, events = step(state, finding, now, policy, tags)
    window = max(policy.flap_window, 2)
    bit = 1 if finding.status.is_problem else 0
    history = ((state.history << 1) | bit) & ((1 << window) - 1)
    length = min(state.history_len + 1, window)
    new = replace(new, history=history, history_len=length)
    if policy.flap_changes <= 0:
        return replace(new, flapping=False), events
    count = changes(history, length)
    if state.flapping:
        # The spell is one incident: a FIRING inside it keeps the spell's incident.
        new = replace(new, incident=state.incident, emitted=max(new.emitted, state.emitted))
        if length >= window and count == 0:
            return _stable(new, finding, now, tags, window)
        return replace(new, flapping=True), []
    if count >= policy.flap_changes:
        return _flapping(new, finding, now, tags, count=count, length=length)
    return new, events


def _event(kind: EventKind, state: AlertState, finding: Finding, now: float, *,
           tags: tuple[str, ...], why: str, severity: Status) -> tuple[AlertState, AlertEvent]:
    state = replace(state, emitted=state.emitted + 1)
    return state, AlertEvent(kind=kind, key=state.key, severity=severity, at=now,
                             incident=state.incident or "", why=why, value=finding.value,
                             threshold=finding.threshold, since=state.problem_since,
                             tags=tags, seq=state.emitted)


def _flapping(state: AlertState, finding: Finding, now: float, tags: tuple[str, ...], *,
              count: int, length: int) -> tuple[AlertState, list[AlertEvent]]:
    now_is = finding.status.value.upper()
    detail = f": {finding.why}" if finding.why else ""
    why = (f"{count} changes in the last {length} checks, now {now_is}{detail}; "
           "quiet until it settles")
    severity = finding.status if finding.status.is_problem else Status.WARNING
    state, event = _event(EventKind.FLAPPING, replace(state, flapping=True), finding, now,
                          tags=tags, why=why, severity=severity)
    return state, [event]


def _stable(state: AlertState, finding: Finding, now: float, tags: tuple[str, ...],
            window: int) -> tuple[AlertState, list[AlertEvent]]:
    settled = finding.status
    why = (f"{settled.value.upper()} for the last {window} checks"
           + (f": {finding.why}" if settled.is_problem and finding.why else ""))
    state = replace(state, flapping=False, last_notified_at=now)
    state, event = _event(EventKind.STABLE, state, finding, now, tags=tags, why=why,
                          severity=settled)
    if not settled.is_problem and state.phase is Phase.FIRING:
        # Settled OK while the machine still waits out its recovery: it is over.
        state = replace(state, phase=Phase.RESOLVED, severity=Status.OK)
    return state, [event]
