"""The alert state machine: ``(AlertState, Finding, now, Policy) -> (AlertState, [Event])``.

Pure: no I/O and no clock reads, so every transition is a row in a table test.

    OK/RESOLVED --problem--> PENDING (or FIRING at once when ``for`` is immediate)
    PENDING --problem, ``for`` met--> FIRING            [FIRING]
    PENDING --ok--> OK                                  (it never fired: no event)
    FIRING --other severity--> FIRING                   [ESCALATED / DEESCALATED]
    FIRING --same problem, repeat_interval passed--> FIRING   [REMINDER]
    FIRING --ok, ``recover_for`` met--> RESOLVED        [RESOLVED if send_resolved]

A problem seen while recovering resets the recovery. At most one event per step.

``now`` is the decision time (``Clock.now()``), which a wall-clock step does not move; a
time that still goes back (a restart after a backward step) counts as no time passing.
Events are numbered within their incident (``AlertEvent.seq``), which makes their
delivery keys unique whatever the clock does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from agent.alerting.policy import Persistence, Policy
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey, Finding, Status


def incident_id(key: AlertKey, fired_at: float, episode: int = 0) -> str:
    """The id shared by every event of one firing episode of ``key``: the key's digest,
    the second it fired and the episode's number (so two episodes of a key never share
    an id, even when the clock made them fire in the same second)."""
    digest = hashlib.sha1(key.as_text().encode("utf-8"), usedforsecurity=False).hexdigest()
    number = f".{episode}" if episode else ""
    return f"{digest[:12]}-{int(fired_at)}{number}"


def open_alerts(states: Iterable[AlertState]) -> list[AlertState]:
    """The states that are PENDING or FIRING, in the given order."""
    return [s for s in states if s.phase in (Phase.PENDING, Phase.FIRING)]


def _met(rule: Persistence, since: float, count: int, now: float) -> bool:
    """Has a condition seen first at ``since`` and ``count`` times in a row lasted enough?

    Both parts must hold when both are set.
    """
    if rule.immediate:
        return True
    lasted = rule.seconds <= 0 or now - since >= rule.seconds
    counted = rule.samples <= 1 or count >= rule.samples
    return lasted and counted


def _rebase(state: AlertState, now: float) -> AlertState:
    """Undo a decision time that went back (a restart after the wall clock was stepped
    back): shift every stored time so no time has passed.

    Freezing time until the clock catches up would stall ``for`` and reminders for as long
    as the jump; shifting keeps the elapsed times already counted and adds none.
    """
    if state.updated_at is None or now >= state.updated_at:
        return state
    shift = now - state.updated_at

    def moved(t: float | None) -> float | None:
        return None if t is None else t + shift

    return replace(
        state,
        problem_since=moved(state.problem_since),
        fired_at=moved(state.fired_at),
        recovering_since=moved(state.recovering_since),
        last_notified_at=moved(state.last_notified_at),
        updated_at=now,
    )


def step(state: AlertState, finding: Finding, now: float, policy: Policy,
         tags: tuple[str, ...] = ()) -> tuple[AlertState, list[AlertEvent]]:
    """Apply one finding to one alert's state; return the new state and its events.

    ``now`` is the decision time of the finding (``Clock.now()``). Raises ValueError
    if the finding belongs to another alert key.
    """
    if finding.key != state.key:
        raise ValueError(f"finding for {finding.key.as_text()} "
                         f"applied to alert {state.key.as_text()}")
    state = _rebase(state, now)
    state = replace(state, updated_at=now, why=finding.why, value=finding.value,
                    threshold=finding.threshold)
    problem = finding.status.is_problem

    if state.phase in (Phase.OK, Phase.RESOLVED):
        if not problem:
            return replace(state, severity=Status.OK), []
        # A new problem: a new episode, counted from this finding.
        state = replace(state, phase=Phase.PENDING, severity=finding.status,
                        problem_since=now, problem_samples=1, fired_at=None,
                        recovering_since=None, recovering_samples=0)
        return _maybe_fire(state, finding, now, policy, tags)

    if state.phase is Phase.PENDING:
        if not problem:
            return replace(state, phase=Phase.OK, severity=Status.OK, problem_since=None,
                           problem_samples=0), []
        state = replace(state, severity=finding.status,
                        problem_samples=state.problem_samples + 1)
        return _maybe_fire(state, finding, now, policy, tags)

    if problem:
        return _while_firing(state, finding, now, policy, tags)
    return _recovering(state, finding, now, policy, tags)


def _emit(kind: EventKind, state: AlertState, finding: Finding, now: float,
          tags: tuple[str, ...], *, previous_severity: Status | None = None,
          duration: float | None = None) -> tuple[AlertState, AlertEvent]:
    """The next event of the state's incident, and the state that has counted it."""
    state = replace(state, emitted=state.emitted + 1)
    return state, AlertEvent(
        kind=kind, key=state.key, severity=state.severity, at=now,
        incident=state.incident or "", why=finding.why, value=finding.value,
        threshold=finding.threshold, since=state.problem_since, duration=duration,
        previous_severity=previous_severity, tags=tags, seq=state.emitted)


def _maybe_fire(state: AlertState, finding: Finding, now: float, policy: Policy,
                tags: tuple[str, ...]) -> tuple[AlertState, list[AlertEvent]]:
    since = state.problem_since if state.problem_since is not None else now
    if not _met(policy.fire_after, since, state.problem_samples, now):
        return state, []
    episode = state.episode + 1
    state = replace(state, phase=Phase.FIRING, fired_at=now, episode=episode,
                    incident=incident_id(state.key, now, episode), emitted=0,
                    last_notified_at=now, recovering_since=None, recovering_samples=0)
    state, event = _emit(EventKind.FIRING, state, finding, now, tags)
    return state, [event]


def _while_firing(state: AlertState, finding: Finding, now: float, policy: Policy,
                  tags: tuple[str, ...]) -> tuple[AlertState, list[AlertEvent]]:
    # Still (or again) a problem: any recovery in progress starts over.
    previous = state.severity
    state = replace(state, problem_samples=state.problem_samples + 1,
                    recovering_since=None, recovering_samples=0)
    if finding.status is not previous:
        kind = (EventKind.ESCALATED if finding.status.rank > previous.rank
                else EventKind.DEESCALATED)
        state = replace(state, severity=finding.status, last_notified_at=now)
        state, event = _emit(kind, state, finding, now, tags, previous_severity=previous)
        return state, [event]
    last = state.last_notified_at if state.last_notified_at is not None else state.fired_at
    if policy.repeat_interval > 0 and (last is None or now - last >= policy.repeat_interval):
        state, event = _emit(EventKind.REMINDER, replace(state, last_notified_at=now),
                             finding, now, tags)
        return state, [event]
    return state, []


def _recovering(state: AlertState, finding: Finding, now: float, policy: Policy,
                tags: tuple[str, ...]) -> tuple[AlertState, list[AlertEvent]]:
    since = state.recovering_since if state.recovering_since is not None else now
    state = replace(state, recovering_since=since,
                    recovering_samples=state.recovering_samples + 1)
    if not _met(policy.recover_after, since, state.recovering_samples, now):
        return state, []
    fired_at = state.fired_at if state.fired_at is not None else now
    resolved = replace(state, phase=Phase.RESOLVED, severity=Status.OK, problem_since=None,
                       problem_samples=0, recovering_since=None, recovering_samples=0)
    if not policy.send_resolved:
        return resolved, []
    # The event keeps the severity that fired, so it takes the same routes.
    counted, event = _emit(EventKind.RESOLVED, state, finding, now, tags,
                           duration=max(0.0, now - fired_at))
    return replace(resolved, emitted=counted.emitted, last_notified_at=now), [event]
