"""The settle stage: which events of a verdict are stored, sent, held back or dropped, and
to which channel targets. Pure, with a fake ``now``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from agent.alerting.judge import Verdict
from agent.alerting.settle import Commit, Note, NoteKind, Routing, settle, settle_released
from agent.alerting.silences import Silence, Suppressed
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.config.models import Channel, Route
from agent.model import AlertKey, Status

NOW = 1_700_000_000.0
HOST = "web1"
DB = AlertKey(HOST, "db-main", "used_percent")
WEB = AlertKey(HOST, "web", "status")

CHANNELS = {
    "ops": Channel(name="ops", urls=("json://127.0.0.1:1/a", "json://127.0.0.1:1/b")),
    "pager": Channel(name="pager", urls=("json://127.0.0.1:1/p",)),
}
ROUTING = Routing(
    routes=(Route(channels=("ops",)),
            Route(channels=("pager",), severity=(Status.CRITICAL,), tags=("prod",))),
    channels=CHANNELS,
    tags={"db-main": ("prod",), "web": ()})


def event(kind: EventKind, key: AlertKey = DB, severity: Status = Status.CRITICAL,
          incident: str = "inc-1", tags: tuple[str, ...] = ()) -> AlertEvent:
    return AlertEvent(kind, key, severity, NOW, incident, "used_percent 93 > 90", value=93.0,
                      threshold="> 90", since=NOW - 60, tags=tags)


def silence(glob: str = "db-*") -> Silence:
    return Silence(7, glob, None, NOW - 60, NOW + 3600, "upgrade", NOW - 60, HOST)


def verdict(*events: AlertEvent) -> Verdict:
    states = [AlertState(ev.key, Phase.FIRING if ev.kind is not EventKind.RESOLVED
                         else Phase.RESOLVED, ev.severity) for ev in events]
    return Verdict(states=states, events=list(events))


def targets(commit: Commit) -> list[tuple[str, int]]:
    return [(d.channel, d.target) for d in commit.deliveries]


@dataclass
class Case:
    name: str
    events: tuple[AlertEvent, ...]
    silences: tuple[Silence, ...] = ()
    suppressed: dict[str, Suppressed] = field(default_factory=dict)
    targets: list[tuple[str, int]] = field(default_factory=list)
    notes: list[NoteKind] = field(default_factory=list)
    suppress: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)


CASES = [
    Case("critical of a prod check goes to every target of both routes",
         (event(EventKind.FIRING),),
         targets=[("ops", 0), ("ops", 1), ("pager", 0)], notes=[NoteKind.QUEUED]),
    Case("warning goes only where severity is not restricted",
         (event(EventKind.FIRING, severity=Status.WARNING),),
         targets=[("ops", 0), ("ops", 1)], notes=[NoteKind.QUEUED]),
    Case("a check without the route's tag misses that route",
         (event(EventKind.FIRING, key=WEB),),
         targets=[("ops", 0), ("ops", 1)], notes=[NoteKind.QUEUED]),
    Case("a silenced firing is held back and its incident remembered",
         (event(EventKind.FIRING),), silences=(silence(),),
         notes=[NoteKind.SILENCED], suppress=["inc-1"]),
    Case("a silence of another check holds nothing back",
         (event(EventKind.FIRING),), silences=(silence("web"),),
         targets=[("ops", 0), ("ops", 1), ("pager", 0)], notes=[NoteKind.QUEUED]),
    Case("the resolve of a held-back incident is dropped and the incident forgotten",
         (event(EventKind.RESOLVED),),
         suppressed={"inc-1": Suppressed(event(EventKind.FIRING), NOW - 600)},
         notes=[NoteKind.DROPPED], forget=["inc-1"]),
    Case("the resolve of an announced incident goes out even under a silence",
         (event(EventKind.RESOLVED),), silences=(silence(),),
         targets=[("ops", 0), ("ops", 1), ("pager", 0)], notes=[NoteKind.QUEUED]),
    Case("an event of a suppressed incident whose silence ended announces it",
         (event(EventKind.ESCALATED),),
         suppressed={"inc-1": Suppressed(event(EventKind.FIRING), NOW - 600)},
         targets=[("ops", 0), ("ops", 1), ("pager", 0)], notes=[NoteKind.RELEASED],
         forget=["inc-1"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_settle_decides_what_is_sent_held_and_dropped(case: Case) -> None:
    v = verdict(*case.events)
    commit = settle(v, case.silences, case.suppressed, ROUTING, NOW)
    assert targets(commit) == case.targets
    assert [n.kind for n in commit.notes] == case.notes
    assert [s.incident for s in commit.suppress] == case.suppress
    assert commit.forget == case.forget


def test_states_are_stored_whatever_a_silence_holds_back() -> None:
    v = verdict(event(EventKind.FIRING))
    commit = settle(v, [silence()], {}, ROUTING, NOW)
    assert commit.deliveries == []
    assert commit.states == v.states and commit.writes


def test_a_quiet_verdict_writes_nothing() -> None:
    assert not settle(Verdict(), [silence()], {}, ROUTING, NOW).writes


def test_a_check_no_longer_configured_is_routed_by_the_tags_its_event_carries() -> None:
    gone = AlertKey(HOST, "old-db", "status")
    commit = settle(verdict(event(EventKind.RESOLVED, key=gone, tags=("prod",))), [], {},
                    ROUTING, NOW)
    assert targets(commit) == [("ops", 0), ("ops", 1), ("pager", 0)]


def test_without_routes_every_channel_gets_every_event() -> None:
    commit = settle(verdict(event(EventKind.FIRING)), [], {}, Routing(channels=CHANNELS), NOW)
    assert targets(commit) == [("ops", 0), ("ops", 1), ("pager", 0)]


def test_an_ended_silence_releases_a_still_firing_incident() -> None:
    held = Suppressed(event(EventKind.FIRING), NOW - 600)
    states = {DB: AlertState(DB, Phase.FIRING, Status.CRITICAL, incident="inc-1",
                             why="used_percent 95 > 90", value=95.0)}
    commit = settle_released([held], states, [], ROUTING, NOW)
    assert [n.kind for n in commit.notes] == [NoteKind.RELEASED]
    assert commit.deliveries[0].event.why == "used_percent 95 > 90"
    assert commit.forget == ["inc-1"] and len(commit.deliveries) == 3
    still = settle_released([held], states, [silence()], ROUTING, NOW)
    assert not still.writes and still.notes == []


@pytest.mark.parametrize(("note", "level", "text"), [
    (Note(NoteKind.QUEUED, event(EventKind.FIRING), 3), logging.WARNING,
     "alert FIRING web1/db-main/used_percent: used_percent 93 > 90 (critical; "
     "3 deliveries queued)"),
    (Note(NoteKind.QUEUED, event(EventKind.RESOLVED), 1), logging.INFO,
     "alert RESOLVED web1/db-main/used_percent: used_percent 93 > 90 (critical; "
     "1 deliveries queued)"),
    (Note(NoteKind.RELEASED, event(EventKind.FIRING), 2), logging.WARNING,
     "alert FIRING web1/db-main/used_percent: used_percent 93 > 90 (critical; "
     "2 deliveries queued; no longer held back)"),
    (Note(NoteKind.QUEUED, event(EventKind.FIRING), 2, duplicates=1), logging.WARNING,
     "alert FIRING web1/db-main/used_percent: used_percent 93 > 90 (critical; "
     "2 deliveries queued, 1 already queued before)"),
    (Note(NoteKind.SILENCED, event(EventKind.FIRING), silence=silence()), logging.INFO,
     "alert FIRING web1/db-main/used_percent: used_percent 93 > 90 (critical) silenced by "
     "#7 until 23:13 UTC (upgrade)"),
    (Note(NoteKind.DROPPED, event(EventKind.RESOLVED)), logging.INFO,
     "alert RESOLVED web1/db-main/used_percent: used_percent 93 > 90 (not sent: its FIRING "
     "was held back throughout)"),
])
def test_each_fate_is_logged_in_one_line(note: Note, level: int, text: str) -> None:
    assert note.level == level
    assert note.text(NOW) == text


def test_the_notes_say_what_the_store_queued_not_what_was_routed() -> None:
    # The store queues an event to a target once: a delivery equal to a queued row is not
    # queued again, and the log must not say it was.
    firing, resolved = event(EventKind.FIRING), event(EventKind.RESOLVED, severity=Status.OK)
    commit = settle(verdict(firing, resolved), [], {}, ROUTING, NOW)
    assert [n.deliveries for n in commit.notes] == [3, 2]
    commit.stored([True, False, True, False, False])
    assert [(n.deliveries, n.duplicates) for n in commit.notes] == [(2, 1), (0, 2)]
    assert "0 deliveries queued, 2 already queued before" in commit.notes[1].text(NOW)
    commit.stored([True, False, True, False, False])  # told twice: the same
    assert [(n.deliveries, n.duplicates) for n in commit.notes] == [(2, 1), (0, 2)]
    with pytest.raises(ValueError, match="4 answers for 5 deliveries"):
        commit.stored([True] * 4)


def test_silences_are_read_on_the_wall_clock_events_keep_the_decision_time() -> None:
    # The wall clock was stepped an hour ahead of the decision time: a silence a person
    # gave on the wall clock a minute ago holds now.
    wall = NOW + 3600
    given = Silence(8, "db-*", None, wall - 60, wall + 3600, "", wall - 60, HOST)
    commit = settle(verdict(event(EventKind.FIRING)), [given], {}, ROUTING, NOW, wall=wall)
    assert [n.kind for n in commit.notes] == [NoteKind.SILENCED]
    assert commit.suppress[0].at == NOW and commit.suppress[0].event.at == NOW
    assert settle(verdict(event(EventKind.FIRING)), [given], {}, ROUTING, NOW).suppress == []


@pytest.mark.parametrize(("kind", "sent"), [
    (EventKind.REMINDER, False),
    (EventKind.ESCALATED, True),
    (EventKind.DEESCALATED, True),
    (EventKind.RESOLVED, True),
], ids=["reminder-quiet", "escalated-sent", "deescalated-sent", "resolved-sent"])
def test_an_acknowledged_incident_stops_its_reminders_only(kind: EventKind,
                                                           sent: bool) -> None:
    commit = settle(verdict(event(kind, WEB)), [], {}, ROUTING, NOW,
                    acknowledged={"inc-1"})
    assert bool(commit.deliveries) is sent
    assert [n.kind for n in commit.notes] == [
        NoteKind.QUEUED if sent else NoteKind.ACKNOWLEDGED]
    other = settle(verdict(event(kind, WEB, incident="inc-2")), [], {}, ROUTING, NOW,
                   acknowledged={"inc-1"})
    assert other.deliveries  # another incident's reminders go on


def test_a_quiet_reminder_is_logged_as_such() -> None:
    commit = settle(verdict(event(EventKind.REMINDER, WEB)), [], {}, ROUTING, NOW,
                    acknowledged={"inc-1"})
    assert commit.notes[0].text(NOW).endswith("(not sent: the incident is acknowledged)")
    assert commit.notes[0].level == logging.INFO


def test_every_event_carries_its_checks_runbook_as_configured_now() -> None:
    routing = Routing(routes=ROUTING.routes, channels=CHANNELS, tags=ROUTING.tags,
                      runbooks={"web": "https://wiki.example/web-down"})
    commit = settle(verdict(event(EventKind.FIRING, WEB), event(EventKind.FIRING, DB,
                                                                incident="inc-2")),
                    [], {}, routing, NOW)
    runbooks = {d.event.key.check: d.event.runbook for d in commit.deliveries}
    assert runbooks == {"web": "https://wiki.example/web-down", "db-main": None}
    assert {n.event.key.check: n.event.runbook for n in commit.notes}["web"] == \
        "https://wiki.example/web-down"
