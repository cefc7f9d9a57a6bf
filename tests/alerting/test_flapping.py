"""Flapping: an alert that keeps changing is announced once, then once when it settles."""

from __future__ import annotations

import pytest

from agent.alerting.flapping import changes, flap_step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertState, EventKind, Phase
from agent.model import AlertKey, Finding, Status

KEY = AlertKey("web1", "shop", "status")
POLICY = Policy(flap_window=21, flap_changes=5)


def run(pattern: str, policy: Policy = POLICY) -> tuple[AlertState, list[tuple[int, str]]]:
    """Feed ``pattern`` (``x`` a problem, ``.`` OK), one a minute; (step, event kind)s."""
    state = AlertState(KEY)
    seen: list[tuple[int, str]] = []
    for n, c in enumerate(pattern):
        status = Status.CRITICAL if c == "x" else Status.OK
        state, events = flap_step(state, Finding(KEY, status, "down" if c == "x" else ""),
                                  60.0 * n, policy)
        seen.extend((n, e.kind.value) for e in events)
    return state, seen


@pytest.mark.parametrize(("history", "length", "count"), [
    (0b0, 1, 0), (0b1, 1, 0), (0b10, 2, 1), (0b1010, 4, 3), (0b1111, 4, 0),
    (0b101, 2, 1),  # only the last ``length`` count
])
def test_changes_are_counted_within_the_window(history: int, length: int,
                                               count: int) -> None:
    assert changes(history, length) == count


def test_a_steady_problem_is_not_flapping() -> None:
    _, seen = run("x" * 30 + "." * 5)
    assert seen == [(0, "firing"), (30, "resolved")]


def test_an_intermittent_problem_below_the_limit_is_announced_each_time() -> None:
    _, seen = run("xx......xx......")  # 3 changes in the window
    assert [k for _, k in seen] == ["firing", "resolved", "firing", "resolved"]


def test_flapping_is_said_once_and_its_flips_go_quiet() -> None:
    state, seen = run("x.x.x.x.x.x.x.x")
    # The 5th change (the 6th check) makes it flapping: four were announced.
    assert seen == [(0, "firing"), (1, "resolved"), (2, "firing"), (3, "resolved"),
                    (4, "firing"), (5, "flapping")]
    assert state.flapping


@pytest.mark.parametrize(("tail", "settled", "severity"), [
    ("x" * 21, "stable", Status.CRITICAL),
    ("." * 21, "stable", Status.OK),
])
def test_after_a_whole_window_without_change_it_is_stable_in_whichever_state(
        tail: str, settled: str, severity: Status) -> None:
    policy = POLICY
    state = AlertState(KEY)
    kinds: list[tuple[str, Status, str]] = []
    for n, c in enumerate("x.x.x." + tail):
        status = Status.CRITICAL if c == "x" else Status.OK
        state, events = flap_step(state, Finding(KEY, status, ""), 60.0 * n, policy)
        kinds.extend((e.kind.value, e.severity, e.incident) for e in events)
    assert [k for k, _, _ in kinds][-2:] == ["flapping", settled]
    assert kinds[-1][1] is severity
    assert kinds[-1][2] == kinds[-2][2]  # the spell is one incident
    assert not state.flapping
    assert (state.phase is Phase.FIRING) is severity.is_problem


def test_after_it_settles_on_a_problem_the_resolve_closes_the_spells_incident() -> None:
    state = AlertState(KEY)
    seen = []
    for n, c in enumerate("x.x.x." + "x" * 21 + "..."):
        status = Status.CRITICAL if c == "x" else Status.OK
        state, events = flap_step(state, Finding(KEY, status, ""), 60.0 * n, POLICY)
        seen.extend(events)
    flap, stable, resolved = seen[-3:]
    assert [e.kind for e in (flap, stable, resolved)] == [
        EventKind.FLAPPING, EventKind.STABLE, EventKind.RESOLVED]
    assert flap.incident == stable.incident == resolved.incident
    assert len({e.dedup_key for e in seen}) == len(seen)


def test_flapping_detection_can_be_turned_off() -> None:
    _, seen = run("x.x.x.x.x.x", Policy(flap_changes=0))
    assert [k for _, k in seen] == ["firing", "resolved"] * 5 + ["firing"]
