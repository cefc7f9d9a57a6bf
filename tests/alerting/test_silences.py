"""Silences: which alerts they match, which events they hold back, and what is announced
when they end. Pure, with a fake ``now``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from agent.alerting.silences import (
    Silence,
    Suppressed,
    decide,
    format_until,
    release,
    silencing,
)
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey, Status

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
HOST = "db-host"
DB = AlertKey(HOST, "db-main", "used_percent")
DB_DISK = AlertKey(HOST, "db-disk", "used_percent", (("mount", "/var"),))
WEB = AlertKey(HOST, "web", "status")


def silence(glob: str = "db-*", metric: str | None = None, *, starts: float = NOW - 60,
            ends: float = NOW + 3600, host: str = HOST, sid: int = 3) -> Silence:
    return Silence(sid, glob, metric, starts, ends, "reboot", starts, host)


def event(kind: EventKind, key: AlertKey = DB, incident: str = "inc-db",
          at: float = NOW) -> AlertEvent:
    return AlertEvent(kind, key, Status.CRITICAL, at, incident, "used_percent 93 > 90",
                      value=93.0, threshold="> 90", since=NOW - 120,
                      previous_severity=Status.WARNING if kind is EventKind.ESCALATED else None,
                      duration=60.0 if kind is EventKind.RESOLVED else None, tags=("db",))


def held(*incidents: str) -> dict[str, Suppressed]:
    return {i: Suppressed(event(EventKind.FIRING, incident=i, at=NOW - 600), NOW - 600)
            for i in incidents}


@pytest.mark.parametrize(("s", "key", "now", "expected"), [
    (silence("db-*"), DB, NOW, True),
    (silence("db-*"), WEB, NOW, False),
    (silence("*"), WEB, NOW, True),
    (silence("db-main"), DB, NOW, True),
    (silence("DB-*"), DB, NOW, False),
    (silence("db-?ain"), DB, NOW, True),
    (silence("*", host="other-host"), DB, NOW, False),
    (silence("db-*", metric="used_percent"), DB, NOW, True),
    (silence("db-*", metric="used_percent"), DB_DISK, NOW, True),
    (silence("db-*", metric="status"), DB, NOW, False),
    (silence("db-*", metric="used"), DB, NOW, False),
    (silence(starts=NOW + 1), DB, NOW, False),
    (silence(starts=NOW), DB, NOW, True),
    (silence(ends=NOW), DB, NOW, False),
    (silence(ends=NOW + 0.001), DB, NOW, True),
], ids=["glob", "glob-other-check", "star-is-every-check", "exact-check",
        "case-sensitive", "question-mark", "another-host", "exact-metric",
        "metric-of-every-label-set", "other-metric", "metric-is-not-a-prefix",
        "not-yet-begun", "begins-now", "ended-at-its-end", "ends-just-after"])
def test_a_silence_matches_this_hosts_checks_by_glob_and_exact_metric(
        s: Silence, key: AlertKey, now: float, expected: bool) -> None:
    assert s.matches(key, now) is expected


def test_the_silence_ending_last_is_the_one_named() -> None:
    short, long = silence(sid=1, ends=NOW + 60), silence("*", sid=2, ends=NOW + 7200)
    assert silencing(DB, [short, long], NOW) == long
    assert silencing(DB, [short, long], NOW + 7200) is None


@dataclass
class Case:
    events: list[AlertEvent]
    silences: list[Silence]
    suppressed: dict[str, Suppressed] = field(default_factory=dict)
    #: (kind, incident) of the events delivered, in order.
    delivered: list[tuple[EventKind, str]] = field(default_factory=list)
    silenced: list[EventKind] = field(default_factory=list)
    suppress: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


ENDED = silence(ends=NOW - 1)

CASES = {
    "firing-of-a-silenced-key-is-held-and-its-incident-remembered": Case(
        [event(EventKind.FIRING)], [silence()],
        silenced=[EventKind.FIRING], suppress=["inc-db"]),
    "firing-of-another-check-is-delivered": Case(
        [event(EventKind.FIRING, WEB, "inc-web")], [silence()],
        delivered=[(EventKind.FIRING, "inc-web")]),
    "firing-of-another-metric-is-delivered": Case(
        [event(EventKind.FIRING)], [silence(metric="status")],
        delivered=[(EventKind.FIRING, "inc-db")]),
    "firing-after-the-silence-ended-is-delivered": Case(
        [event(EventKind.FIRING)], [ENDED], delivered=[(EventKind.FIRING, "inc-db")]),
    "firing-of-another-hosts-key-is-delivered": Case(
        [event(EventKind.FIRING, AlertKey("old-name", "db-main", "used_percent"))],
        [silence("*")], delivered=[(EventKind.FIRING, "inc-db")]),
    "escalated-of-an-announced-incident-is-held-not-remembered": Case(
        [event(EventKind.ESCALATED)], [silence()], silenced=[EventKind.ESCALATED]),
    "deescalated-of-an-announced-incident-is-held": Case(
        [event(EventKind.DEESCALATED)], [silence()], silenced=[EventKind.DEESCALATED]),
    "reminder-of-an-announced-incident-is-held": Case(
        [event(EventKind.REMINDER)], [silence()], silenced=[EventKind.REMINDER]),
    "reminder-of-a-held-incident-is-held-still": Case(
        [event(EventKind.REMINDER)], [silence()], held("inc-db"),
        silenced=[EventKind.REMINDER]),
    "resolved-of-an-incident-announced-before-the-silence-is-delivered": Case(
        [event(EventKind.RESOLVED)], [silence()],
        delivered=[(EventKind.RESOLVED, "inc-db")]),
    "resolved-of-a-held-incident-is-dropped-and-forgotten": Case(
        [event(EventKind.RESOLVED)], [silence()], held("inc-db"),
        forget=["inc-db"], dropped=["inc-db"]),
    "resolved-of-a-held-incident-after-the-silence-is-dropped-too": Case(
        [event(EventKind.RESOLVED)], [ENDED], held("inc-db"),
        forget=["inc-db"], dropped=["inc-db"]),
    "escalated-of-a-held-incident-after-the-silence-announces-it": Case(
        [event(EventKind.ESCALATED)], [ENDED], held("inc-db"),
        delivered=[(EventKind.FIRING, "inc-db")], forget=["inc-db"]),
    "other-held-incidents-are-left-alone": Case(
        [event(EventKind.FIRING, WEB, "inc-web")], [], held("inc-db"),
        delivered=[(EventKind.FIRING, "inc-web")]),
    "a-batch-is-decided-event-by-event": Case(
        [event(EventKind.FIRING), event(EventKind.FIRING, WEB, "inc-web"),
         event(EventKind.RESOLVED, DB_DISK, "inc-disk")], [silence()], held("inc-disk"),
        delivered=[(EventKind.FIRING, "inc-web")], silenced=[EventKind.FIRING],
        suppress=["inc-db"], forget=["inc-disk"], dropped=["inc-disk"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_silences_decide_which_events_are_delivered(case: Case) -> None:
    before = dict(case.suppressed)
    d = decide(case.events, case.silences, case.suppressed, NOW)
    assert [(e.kind, e.incident) for e in d.deliver] == case.delivered
    assert [e.kind for e, _ in d.silenced] == case.silenced
    assert [s.incident for s in d.suppress] == case.suppress
    assert d.forget == case.forget
    assert [e.incident for e in d.dropped] == case.dropped
    assert case.suppressed == before  # the caller's map is changed only once it is stored


def test_a_held_firing_is_remembered_with_its_event_and_time() -> None:
    ev = event(EventKind.FIRING)
    d = decide([ev], [silence()], {}, NOW + 5)
    assert d.suppress == [Suppressed(ev, NOW + 5)]
    assert d.silenced == [(ev, silence())]


def test_an_event_announcing_a_held_incident_keeps_its_data_as_a_firing() -> None:
    ev = event(EventKind.ESCALATED)
    (firing,) = decide([ev], [], held("inc-db"), NOW).deliver
    assert firing.kind is EventKind.FIRING
    assert (firing.at, firing.incident, firing.why, firing.severity, firing.since) == (
        ev.at, ev.incident, ev.why, ev.severity, ev.since)
    assert firing.previous_severity is None


def firing_state(incident: str = "inc-db", phase: Phase = Phase.FIRING) -> AlertState:
    return AlertState(key=DB, phase=phase, severity=Status.WARNING, problem_since=NOW - 900,
                      fired_at=NOW - 600, incident=incident, why="used_percent 85 > 80",
                      value=85.0, threshold="> 80")


@pytest.mark.parametrize(("state", "silences", "announced", "forgotten"), [
    (firing_state(), [], True, True),
    (firing_state(), [ENDED], True, True),
    (firing_state(), [silence()], False, False),
    (firing_state(), [silence(host="other-host")], True, True),
    (firing_state(phase=Phase.RESOLVED), [], False, True),
    (firing_state("inc-db-later"), [], False, True),
    (None, [], False, True),
], ids=["silence-removed", "silence-expired", "still-silenced", "silence-of-another-host",
        "no-longer-firing", "a-later-episode", "alert-gone"])
def test_release_announces_held_incidents_still_firing_once_unsilenced(
        state: AlertState | None, silences: list[Silence], announced: bool,
        forgotten: bool) -> None:
    states = {DB: state} if state is not None else {}
    d = release(held("inc-db").values(), states, silences, NOW)
    assert [e.incident for e in d.deliver] == (["inc-db"] if announced else [])
    assert d.released == d.deliver
    assert d.forget == (["inc-db"] if forgotten else [])


def test_the_released_firing_carries_the_states_reason_and_time_now() -> None:
    state = firing_state()
    (ev,) = release(held("inc-db").values(), {DB: state}, [], NOW).deliver
    assert ev == AlertEvent(EventKind.FIRING, DB, Status.WARNING, NOW, "inc-db",
                            "used_percent 85 > 80", value=85.0, threshold="> 80",
                            since=NOW - 900, tags=("db",))


@pytest.mark.parametrize(("ends_at", "text"), [
    (NOW + 600, "22:23 UTC"),
    (NOW + 7200, "2023-11-15 00:13 UTC"),
    (NOW + 30 * 86400, "2023-12-14 22:13 UTC"),
], ids=["same-day", "next-day", "a-month"])
def test_until_names_the_day_only_when_it_is_not_today(ends_at: float, text: str) -> None:
    assert format_until(ends_at, NOW) == text


def test_the_released_firing_takes_the_number_of_the_firing_held_back() -> None:
    # The held FIRING was never queued: its number is free, and a retried release (the
    # store failed) queues under the same key instead of a second message.
    numbered = Suppressed(replace(held("inc-db")["inc-db"].event, seq=1), NOW - 600)
    first = release([numbered], {DB: firing_state()}, [], NOW).deliver
    retried = release([numbered], {DB: firing_state()}, [], NOW + 15).deliver
    assert [e.dedup_key for e in first] == [e.dedup_key for e in retried] == ["inc-db:1"]


def test_a_silence_holds_on_the_wall_clock_when_it_differs_from_the_decision_time() -> None:
    ev = event(EventKind.FIRING)
    later = silence(starts=NOW + 3600 - 60, ends=NOW + 7200)  # given after a +1 h step
    assert decide([ev], [later], {}, NOW, wall=NOW + 3600).silenced == [(ev, later)]
    assert decide([ev], [later], {}, NOW).deliver == [ev]
    # Still silenced on the wall clock: not announced yet.
    assert release(held("inc-db").values(), {DB: firing_state()}, [later], NOW,
                   wall=NOW + 3600).deliver == []
