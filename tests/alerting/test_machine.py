"""The alert state machine, one transition per table row, plus properties of any sequence."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.alerting.machine import incident_id, open_alerts, step
from agent.alerting.policy import Persistence, Policy
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.config.models import AlertPolicy
from agent.model import AlertKey, Finding, Status
from agent.thresholds.rules import ThresholdRule

OK, WARN, CRIT, UNKNOWN = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN
FIRING, ESCALATED, DEESCALATED = EventKind.FIRING, EventKind.ESCALATED, EventKind.DEESCALATED
REMINDER, RESOLVED = EventKind.REMINDER, EventKind.RESOLVED

KEY = AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))

IMMEDIATE = Policy()
FOR_5M = Policy(fire_after=Persistence(seconds=300))
FOR_3X = Policy(fire_after=Persistence(samples=3))
FOR_5M_AND_3X = Policy(fire_after=Persistence(seconds=300, samples=3))
RECOVER_5M = Policy(recover_after=Persistence(seconds=300))
RECOVER_2X = Policy(recover_after=Persistence(samples=2))
REMIND_1H = Policy(repeat_interval=3600)
QUIET_RESOLVE = Policy(send_resolved=False)

Seen = tuple[float, EventKind, Status]


def finding(status: Status, value: float | None = None) -> Finding:
    return Finding(KEY, status, f"used_percent is {status.value}", value, "> 90")


@dataclass
class Run:
    state: AlertState
    events: list[AlertEvent]
    per_step: list[list[AlertEvent]]

    @property
    def seen(self) -> list[Seen]:
        return [(e.at, e.kind, e.severity) for e in self.events]


def run(steps: list[tuple[float, Status]], policy: Policy,
        state: AlertState | None = None, tags: tuple[str, ...] = ()) -> Run:
    """Feed ``(t, status)`` findings through the machine, collecting every event."""
    state = state if state is not None else AlertState(KEY)
    out = Run(state, [], [])
    for t, status in steps:
        state, events = step(state, finding(status), t, policy, tags)
        out.events += events
        out.per_step.append(events)
    out.state = state
    return out


SCENARIOS = [
    # name, policy, steps, expected events, final phase
    ("ok_stays_ok", IMMEDIATE, [(0, OK), (60, OK)], [], Phase.OK),
    ("problem_starts_pending", FOR_5M, [(0, WARN)], [], Phase.PENDING),
    ("immediate_policy_fires_at_once", IMMEDIATE, [(0, CRIT)], [(0, FIRING, CRIT)],
     Phase.FIRING),
    ("pending_waits_for_duration", FOR_5M, [(0, WARN), (60, WARN), (299, WARN)], [],
     Phase.PENDING),
    ("pending_fires_after_duration", FOR_5M, [(0, WARN), (60, WARN), (300, WARN)],
     [(300, FIRING, WARN)], Phase.FIRING),
    ("pending_fires_after_sample_count", FOR_3X, [(0, WARN), (1, WARN), (2, WARN)],
     [(2, FIRING, WARN)], Phase.FIRING),
    ("sample_count_must_be_consecutive", FOR_3X,
     [(0, WARN), (1, WARN), (2, OK), (3, WARN), (4, WARN)], [], Phase.PENDING),
    ("both_set_duration_met_waits_for_samples", FOR_5M_AND_3X,
     [(0, WARN), (400, WARN)], [], Phase.PENDING),
    ("both_set_fires_when_samples_also_met", FOR_5M_AND_3X,
     [(0, WARN), (400, WARN), (401, WARN)], [(401, FIRING, WARN)], Phase.FIRING),
    ("both_set_samples_met_waits_for_duration", FOR_5M_AND_3X,
     [(0, WARN), (10, WARN), (20, WARN), (30, WARN), (299, WARN), (300, WARN)],
     [(300, FIRING, WARN)], Phase.FIRING),
    ("pending_fires_at_latest_severity", FOR_5M, [(0, WARN), (300, CRIT)],
     [(300, FIRING, CRIT)], Phase.FIRING),
    ("pending_to_ok_is_silent", FOR_5M, [(0, WARN), (60, OK)], [], Phase.OK),
    ("pending_to_ok_restarts_the_clock", FOR_5M,
     [(0, WARN), (200, OK), (250, WARN), (500, WARN), (550, WARN)],
     [(550, FIRING, WARN)], Phase.FIRING),
    ("firing_same_severity_is_silent", IMMEDIATE, [(0, CRIT), (60, CRIT), (120, CRIT)],
     [(0, FIRING, CRIT)], Phase.FIRING),
    ("warning_to_critical_escalates", IMMEDIATE, [(0, WARN), (60, CRIT), (120, CRIT)],
     [(0, FIRING, WARN), (60, ESCALATED, CRIT)], Phase.FIRING),
    ("critical_to_warning_deescalates", IMMEDIATE, [(0, CRIT), (60, WARN), (120, WARN)],
     [(0, FIRING, CRIT), (60, DEESCALATED, WARN)], Phase.FIRING),
    ("unknown_fires_like_a_problem", IMMEDIATE, [(0, UNKNOWN)], [(0, FIRING, UNKNOWN)],
     Phase.FIRING),
    ("warning_to_unknown_escalates", IMMEDIATE, [(0, WARN), (60, UNKNOWN)],
     [(0, FIRING, WARN), (60, ESCALATED, UNKNOWN)], Phase.FIRING),
    ("critical_to_unknown_deescalates", IMMEDIATE, [(0, CRIT), (60, UNKNOWN)],
     [(0, FIRING, CRIT), (60, DEESCALATED, UNKNOWN)], Phase.FIRING),
    ("unknown_to_critical_escalates", IMMEDIATE, [(0, UNKNOWN), (60, CRIT)],
     [(0, FIRING, UNKNOWN), (60, ESCALATED, CRIT)], Phase.FIRING),
    ("unknown_resolves", IMMEDIATE, [(0, UNKNOWN), (60, OK)],
     [(0, FIRING, UNKNOWN), (60, RESOLVED, UNKNOWN)], Phase.RESOLVED),
    ("reminders_are_spaced_by_repeat_interval", REMIND_1H,
     [(0, CRIT), (1800, CRIT), (3599, CRIT), (3600, CRIT), (3660, CRIT), (7199, CRIT),
      (7200, CRIT)],
     [(0, FIRING, CRIT), (3600, REMINDER, CRIT), (7200, REMINDER, CRIT)], Phase.FIRING),
    ("reminder_counts_from_the_last_escalation", REMIND_1H,
     [(0, WARN), (1800, CRIT), (3600, CRIT), (5400, CRIT)],
     [(0, FIRING, WARN), (1800, ESCALATED, CRIT), (5400, REMINDER, CRIT)], Phase.FIRING),
    ("no_reminder_when_repeat_interval_is_zero", IMMEDIATE,
     [(0, CRIT), (3600, CRIT), (10**6, CRIT)], [(0, FIRING, CRIT)], Phase.FIRING),
    ("no_reminder_while_recovering", Policy(repeat_interval=60,
                                            recover_after=Persistence(seconds=600)),
     [(0, CRIT), (30, OK), (120, OK), (400, OK)], [(0, FIRING, CRIT)], Phase.FIRING),
    ("resolves_on_first_ok_when_immediate", IMMEDIATE, [(0, CRIT), (60, OK), (120, OK)],
     [(0, FIRING, CRIT), (60, RESOLVED, CRIT)], Phase.RESOLVED),
    ("resolves_only_after_recover_for", RECOVER_5M,
     [(0, CRIT), (60, OK), (300, OK), (359, OK), (360, OK)],
     [(0, FIRING, CRIT), (360, RESOLVED, CRIT)], Phase.RESOLVED),
    ("resolves_after_recover_sample_count", RECOVER_2X, [(0, CRIT), (60, OK), (120, OK)],
     [(0, FIRING, CRIT), (120, RESOLVED, CRIT)], Phase.RESOLVED),
    ("recovering_stays_firing_silently", RECOVER_5M, [(0, CRIT), (60, OK), (120, OK)],
     [(0, FIRING, CRIT)], Phase.FIRING),
    ("problem_during_recovery_resets_it", RECOVER_5M,
     [(0, CRIT), (60, OK), (120, CRIT), (200, OK), (360, OK), (499, OK), (500, OK)],
     [(0, FIRING, CRIT), (500, RESOLVED, CRIT)], Phase.RESOLVED),
    ("problem_during_recovery_resets_sample_count", RECOVER_2X,
     [(0, CRIT), (60, OK), (120, CRIT), (180, OK), (240, OK)],
     [(0, FIRING, CRIT), (240, RESOLVED, CRIT)], Phase.RESOLVED),
    ("other_severity_during_recovery_changes_it", RECOVER_5M,
     [(0, CRIT), (60, OK), (120, WARN)],
     [(0, FIRING, CRIT), (120, DEESCALATED, WARN)], Phase.FIRING),
    ("send_resolved_false_resolves_silently", QUIET_RESOLVE, [(0, CRIT), (60, OK)],
     [(0, FIRING, CRIT)], Phase.RESOLVED),
    ("resolved_stays_resolved_while_ok", IMMEDIATE, [(0, CRIT), (60, OK), (120, OK)],
     [(0, FIRING, CRIT), (60, RESOLVED, CRIT)], Phase.RESOLVED),
    ("resolved_then_problem_is_pending_again", FOR_5M,
     [(0, CRIT), (300, CRIT), (400, OK), (500, WARN)],
     [(300, FIRING, CRIT), (400, RESOLVED, CRIT)], Phase.PENDING),
    ("resolved_then_problem_fires_again", IMMEDIATE, [(0, CRIT), (60, OK), (120, WARN)],
     [(0, FIRING, CRIT), (60, RESOLVED, CRIT), (120, FIRING, WARN)], Phase.FIRING),
    ("clock_back_while_pending_counts_no_time", FOR_5M,
     [(1000, WARN), (1200, WARN), (500, WARN), (599, WARN), (600, WARN)],
     [(600, FIRING, WARN)], Phase.FIRING),
    ("clock_back_while_firing_sends_nothing", REMIND_1H,
     [(10_000, CRIT), (5000, CRIT), (5100, CRIT), (8599, CRIT), (8600, CRIT)],
     [(10_000, FIRING, CRIT), (8600, REMINDER, CRIT)], Phase.FIRING),
    ("clock_back_while_recovering_counts_no_time", RECOVER_5M,
     [(1000, CRIT), (1100, OK), (1300, OK), (0, OK), (99, OK), (100, OK)],
     [(1000, FIRING, CRIT), (100, RESOLVED, CRIT)], Phase.RESOLVED),
]


@pytest.mark.parametrize(("policy", "steps", "expected", "phase"),
                         [pytest.param(*row[1:], id=str(row[0])) for row in SCENARIOS])
def test_transition(policy: Policy, steps: list[tuple[float, Status]],
                    expected: list[Seen], phase: Phase) -> None:
    result = run(steps, policy)
    assert result.seen == expected
    assert result.state.phase is phase
    assert all(len(events) <= 1 for events in result.per_step)


def test_incident_id_is_stable_for_one_episode_and_new_for_the_next() -> None:
    result = run([(100.7, WARN), (160, CRIT), (220, WARN), (280, OK), (340, CRIT), (400, OK)],
                 IMMEDIATE)
    digest = hashlib.sha1(KEY.as_text().encode()).hexdigest()[:12]
    first, second = f"{digest}-100.1", f"{digest}-340.2"
    assert [(e.kind, e.incident) for e in result.events] == [
        (FIRING, first), (ESCALATED, first), (DEESCALATED, first), (RESOLVED, first),
        (FIRING, second), (RESOLVED, second)]
    assert incident_id(KEY, 100.7, 1) == first
    assert incident_id(KEY, 100.7) == f"{digest}-100"  # as ids were before episodes


def test_events_are_numbered_within_their_incident_and_keyed_by_that_number() -> None:
    result = run([(0, WARN), (60, CRIT), (120, OK), (180, CRIT), (240, OK)], IMMEDIATE)
    assert [(e.kind, e.seq) for e in result.events] == [
        (FIRING, 1), (ESCALATED, 2), (RESOLVED, 3), (FIRING, 1), (RESOLVED, 2)]
    assert [e.dedup_key for e in result.events][:2] == [
        f"{result.events[0].incident}:1", f"{result.events[0].incident}:2"]
    assert (result.state.episode, result.state.emitted) == (2, 2)


def test_an_incident_opened_before_events_were_counted_numbers_its_next_event_from_one() -> None:
    # A state stored by an older version: an incident in flight, nothing counted.
    old = AlertState(KEY, Phase.FIRING, CRIT, problem_since=0, fired_at=0,
                     last_notified_at=0, updated_at=0, incident="abc-0")
    result = run([(60, OK)], IMMEDIATE, old)
    (resolved,) = result.events
    assert (resolved.incident, resolved.seq, resolved.dedup_key) == ("abc-0", 1, "abc-0:1")


@pytest.mark.parametrize(("t", "seq", "key"), [
    (100.9, 1, "inc:1"),
    (100.9, 0, "inc:firing:100"),  # an event stored before events were numbered
])
def test_dedup_key_is_the_number_in_the_incident_or_the_old_form(t: float, seq: int,
                                                                 key: str) -> None:
    event = AlertEvent(FIRING, KEY, CRIT, t, "inc", "x", seq=seq)
    assert event.dedup_key == key


def test_episodes_firing_in_the_same_second_after_time_went_back_keep_distinct_keys() -> None:
    # The decision time went back an hour (a restart after the wall clock was stepped
    # back): the next episode fires in a second an earlier episode already fired in.
    steps = [(7200.1, CRIT), (7200.2, OK), (7200.3, CRIT), (7200.4, OK), (3600.0, OK),
             (7200.5, CRIT), (7200.6, OK)]
    result = run(steps, IMMEDIATE)
    assert [e.kind for e in result.events] == [FIRING, RESOLVED] * 3
    keys = [e.dedup_key for e in result.events]
    assert len(set(keys)) == len(keys)
    assert len({e.incident for e in result.events}) == 3


def test_incident_is_assigned_when_firing_starts_not_when_pending() -> None:
    result = run([(0, WARN), (60, WARN)], FOR_5M)
    assert result.state.incident is None
    result = run([(300, WARN)], FOR_5M, result.state)
    assert result.state.incident == incident_id(KEY, 300, 1)


def test_refiring_within_the_same_second_gets_a_distinct_incident() -> None:
    result = run([(10.1, CRIT), (10.5, OK), (10.9, CRIT)], IMMEDIATE)
    incidents = [e.incident for e in result.events if e.kind is FIRING]
    first, second = incidents
    assert first != second
    dedup_keys = [e.dedup_key for e in result.events]
    assert len(set(dedup_keys)) == len(dedup_keys)


def test_resolved_event_carries_since_and_duration() -> None:
    result = run([(1000, WARN), (1300, CRIT), (1400, OK)], FOR_5M)
    fired, resolved = result.events
    assert (fired.kind, fired.since, fired.at) == (FIRING, 1000, 1300)
    assert (resolved.kind, resolved.since, resolved.duration) == (RESOLVED, 1000, 100)
    assert resolved.incident == fired.incident


def test_event_carries_the_finding_and_tags() -> None:
    state = AlertState(KEY)
    state, events = step(state, Finding(KEY, CRIT, "used_percent 93.1 > 90", 93.1, "> 90"),
                         50.0, IMMEDIATE, ("prod", "disk"))
    (event,) = events
    assert (event.why, event.value, event.threshold, event.tags, event.since, event.key) == (
        "used_percent 93.1 > 90", 93.1, "> 90", ("prod", "disk"), 50.0, KEY)
    assert (state.why, state.value, state.threshold) == ("used_percent 93.1 > 90", 93.1, "> 90")


def test_escalation_names_the_previous_severity() -> None:
    result = run([(0, WARN), (60, CRIT)], IMMEDIATE)
    assert [e.previous_severity for e in result.events] == [None, WARN]


def test_clock_jump_back_gives_no_negative_duration() -> None:
    result = run([(5000, CRIT), (1000, OK)], IMMEDIATE)
    (_, resolved) = result.events
    assert resolved.duration == 0
    assert resolved.since is not None and resolved.since <= resolved.at


def test_finding_for_another_key_is_refused() -> None:
    other = Finding(AlertKey("web2", "disk", "used_percent"), CRIT, "x")
    with pytest.raises(ValueError, match="web2/disk/used_percent"):
        step(AlertState(KEY), other, 0.0, IMMEDIATE)


def test_open_alerts_are_pending_or_firing() -> None:
    states = [AlertState(KEY, phase) for phase in Phase]
    assert [s.phase for s in open_alerts(states)] == [Phase.PENDING, Phase.FIRING]


def test_policy_is_built_from_rule_and_alert_policy() -> None:
    rule = ThresholdRule("used_percent", fire_after=Persistence(seconds=300),
                         recover_after=Persistence(samples=2))
    policy = Policy.build(rule, AlertPolicy.model_validate({"repeat_interval": "2h",
                                                          "send_resolved": False}))
    assert policy == Policy(Persistence(seconds=300), Persistence(samples=2), 7200.0, False)
    assert Policy.build(None, AlertPolicy()) == Policy(repeat_interval=4 * 3600.0)


def test_policy_refuses_negative_repeat_interval() -> None:
    with pytest.raises(ValueError, match="repeat_interval"):
        Policy(repeat_interval=-1)


persistences = st.builds(Persistence, seconds=st.sampled_from([0.0, 60.0, 300.0]),
                         samples=st.integers(0, 3))
policies = st.builds(Policy, fire_after=persistences, recover_after=persistences,
                     repeat_interval=st.sampled_from([0.0, 120.0, 600.0]),
                     send_resolved=st.booleans())
findings = st.lists(st.tuples(st.integers(-300, 400), st.sampled_from(list(Status))),
                    max_size=60)


@settings(max_examples=300, deadline=None)
@given(policy=policies, steps=findings)
def test_events_of_one_key_alternate_correctly(policy: Policy,
                                               steps: list[tuple[int, Status]]) -> None:
    state, now = AlertState(KEY), 1_700_000_000.0
    is_open, incident, last_incident = False, "", ""
    keys: set[str] = set()
    for dt, status in steps:
        now += dt
        before = state
        state, events = step(state, finding(status), now, policy)
        assert len(events) <= 1
        for event in events:
            # Time going back and forth never gives two events one delivery key.
            assert event.dedup_key not in keys
            keys.add(event.dedup_key)
            if event.kind is FIRING:
                assert not is_open, "FIRING twice without a RESOLVED between"
                assert event.incident != last_incident
                is_open, incident = True, event.incident
            else:
                assert is_open, f"{event.kind} outside a firing episode"
                assert event.incident == incident
            if event.kind is ESCALATED:
                assert event.previous_severity is not None
                assert event.severity.rank > event.previous_severity.rank
            if event.kind is DEESCALATED:
                assert event.previous_severity is not None
                assert event.severity.rank < event.previous_severity.rank
            if event.kind is RESOLVED:
                assert event.duration is not None and event.duration >= 0
                is_open, last_incident = False, incident
        if before.phase is Phase.FIRING and state.phase is Phase.RESOLVED:
            # A silent resolve (send_resolved=False) also ends the episode.
            is_open, last_incident = False, incident
        assert is_open == (state.phase is Phase.FIRING)
        assert state.severity.is_problem == (state.phase in (Phase.PENDING, Phase.FIRING))
