"""The incident log, from what the agent decides and delivers (pure, no clock)."""

from __future__ import annotations

import pytest

from agent.alerting.settle import Note, NoteKind
from agent.alerting.silences import Silence
from agent.alerting.state import AlertEvent, EventKind
from agent.cli.incidents_cmd import timeline
from agent.incidents.book import IncidentBook
from agent.incidents.figures import Spread, by_check, figures
from agent.incidents.record import MAX_ENTRIES, EntryKind, Incident
from agent.model import AlertKey, Status
from agent.store.records import OutboxRow

T0 = 1_700_000_000.0
KEY = AlertKey("web1", "shop", "status")


def event(kind: EventKind, at: float, severity: Status = Status.CRITICAL,
          incident: str = "inc-1", **kw: object) -> AlertEvent:
    return AlertEvent(kind, KEY, severity, at, incident, "connection refused", **kw)  # type: ignore[arg-type]


def queued(ev: AlertEvent) -> Note:
    return Note(NoteKind.QUEUED, ev, deliveries=1)


def row(ev: AlertEvent, attempts: int = 1) -> OutboxRow:
    return OutboxRow(id=1, event=ev, channel="ops", target=0, dedup_key=ev.dedup_key,
                     created_at=ev.at, attempts=attempts, next_attempt_at=ev.at,
                     last_attempt_at=None, sent_at=None, last_error=None, dead=False)


def test_an_incident_from_first_bad_sample_to_resolve() -> None:
    book = IncidentBook()
    firing = event(EventKind.FIRING, T0 + 60, since=T0)
    (opened,) = book.decided([queued(firing)])
    assert (opened.first_bad_at, opened.opened_at, opened.open) == (T0, T0 + 60, True)
    book.breached(["inc-1", "inc-1", "someone-else"])
    (sent,) = book.delivered([row(firing)], T0 + 62)
    assert sent.first_notified_at == T0 + 62 and sent.notifications == 1
    (worse,) = book.decided([queued(event(EventKind.DEESCALATED, T0 + 90, Status.WARNING,
                                          previous_severity=Status.CRITICAL))])
    assert (worse.severity, worse.worst) == (Status.WARNING, Status.CRITICAL)
    resolved = event(EventKind.RESOLVED, T0 + 300, Status.OK, duration=300.0)
    (closed,) = book.decided([queued(resolved)])
    assert closed.resolved_at == T0 + 300 and not closed.open
    assert book.open_incidents() == []
    # The RESOLVED's delivery, after the close, is still recorded.
    (done,) = book.delivered([row(resolved)], T0 + 301)
    assert done.notifications == 2 and done.first_notified_at == T0 + 62
    assert done.breaches == 2
    assert [e.kind for e in done.timeline] == [
        EntryKind.OPENED, EntryKind.NOTIFIED, EntryKind.SEVERITY, EntryKind.RESOLVED,
        EntryKind.NOTIFIED]
    assert done.timeline[0].at == T0  # the story starts at the first bad sample


def test_a_silenced_incident_is_recorded_and_its_release_noted() -> None:
    book = IncidentBook()
    silence = Silence(id=3, check_glob="shop", metric=None, starts_at=T0, ends_at=T0 + 600,
                      reason="deploy", created_at=T0, host="web1")
    firing = event(EventKind.FIRING, T0 + 10, since=T0 + 5)
    (held,) = book.decided([Note(NoteKind.SILENCED, firing, silence=silence)])
    assert held.silenced and "held back by silence #3 (deploy)" in held.timeline[-1].text
    (released,) = book.decided([Note(NoteKind.RELEASED, event(EventKind.FIRING, T0 + 600),
                                     deliveries=1)])
    assert released.timeline[-1].kind is EntryKind.RELEASED
    assert released.opened_at == T0 + 10


def test_events_of_incidents_never_opened_here_are_ignored() -> None:
    book = IncidentBook()
    assert book.decided([queued(event(EventKind.REMINDER, T0))]) == []
    assert book.delivered([row(event(EventKind.RESOLVED, T0))], T0) == []


def test_a_long_timeline_keeps_its_start_and_its_end() -> None:
    book = IncidentBook()
    book.decided([queued(event(EventKind.FIRING, T0))])
    for n in range(500):
        (last,) = book.decided([queued(event(EventKind.REMINDER, T0 + n))])
    assert len(last.timeline) == MAX_ENTRIES and last.left_out == 501 - MAX_ENTRIES
    assert last.timeline[0].kind is EntryKind.OPENED
    assert last.timeline[-1].at == T0 + 499


def test_open_incidents_survive_a_restart_through_their_record() -> None:
    book = IncidentBook()
    (opened,) = book.decided([queued(event(EventKind.FIRING, T0))])
    again = IncidentBook([Incident.model_validate_json(opened.model_dump_json())])
    (closed,) = again.decided([queued(event(EventKind.RESOLVED, T0 + 5, Status.OK))])
    assert closed.resolved_at == T0 + 5


@pytest.mark.parametrize(("values", "mean", "p90"), [
    ([], None, None),
    ([5.0], 5.0, 5.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 5.5, 9.0),
    ([10.0, 1.0, 100.0], 37.0, 100.0),
])
def test_spread_is_the_mean_and_the_nearest_rank_90th_percentile(
        values: list[float], mean: float | None, p90: float | None) -> None:
    s = Spread.of(values)
    assert (s.count, s.mean, s.p90) == (len(values), mean, p90)


def incident(check: str, bad: float, *, notified: float | None, acked: float | None,
             resolved: float | None, breaches: int, notifications: int) -> Incident:
    return Incident(id=f"{check}-{bad}", host="web1", check=check, metric="status",
                    key=f"web1/{check}/status", opened_at=bad + 1, first_bad_at=bad,
                    severity=Status.CRITICAL, worst=Status.CRITICAL,
                    first_notified_at=notified, acked_at=acked, resolved_at=resolved,
                    breaches=breaches, notifications=notifications)


def test_figures_per_check_and_in_total() -> None:
    found = [incident("shop", 0, notified=3, acked=61, resolved=600, breaches=40,
                      notifications=2),
             incident("shop", 1000, notified=1010, acked=None, resolved=None, breaches=5,
                      notifications=1),
             incident("db", 0, notified=None, acked=None, resolved=60, breaches=3,
                      notifications=0)]
    shop, db_figures, total = by_check(found)[1], by_check(found)[0], by_check(found)[2]
    assert (shop.check, shop.incidents, shop.open) == ("shop", 2, 1)
    assert (shop.detect.mean, shop.detect.p90) == (6.5, 10.0)
    assert (shop.acknowledge.count, shop.acknowledge.mean) == (1, 60.0)
    assert shop.resolve.mean == 600.0
    assert db_figures.detect.count == 0
    assert (total.breaches, total.notifications, total.noise_reduction) == (48, 3, 16.0)
    assert figures([]).noise_reduction is None


def test_an_acknowledgement_is_recorded_and_can_be_taken_back() -> None:
    book = IncidentBook()
    book.decided([queued(event(EventKind.FIRING, T0, incident="web1-shop-17"))])
    acked = book.acknowledge("web1-shop", T0 + 30, "alice", "restarting nginx")
    assert (acked.acked_at, acked.acked_by, acked.ack_comment) == (
        T0 + 30, "alice", "restarting nginx")
    assert book.acknowledged == {"web1-shop-17"}
    assert "acknowledged by alice: restarting nginx" in acked.timeline[-1].text
    taken = book.unacknowledge("web1-shop-17", T0 + 40, "bob")
    assert taken.acked_at is None and book.acknowledged == frozenset()
    assert taken.timeline[-1].kind is EntryKind.UNACKNOWLEDGED


@pytest.mark.parametrize(("asked", "words"), [
    ("nope", "no open incident 'nope'"),
    ("web1", "'web1' names 2 open incidents"),
    ("web1-db", "is resolved already"),
])
def test_acknowledging_what_is_not_one_open_incident_says_why(asked: str, words: str) -> None:
    book = IncidentBook()
    book.decided([queued(event(EventKind.FIRING, T0, incident="web1-shop-1")),
                  queued(event(EventKind.FIRING, T0, incident="web1-shop-2")),
                  queued(event(EventKind.FIRING, T0, incident="web1-db-1"))])
    book.decided([queued(event(EventKind.RESOLVED, T0 + 1, Status.OK, incident="web1-db-1"))])
    with pytest.raises(LookupError, match=words):
        book.acknowledge(asked, T0 + 5, "alice", "")


def test_a_resolve_ends_the_acknowledgement() -> None:
    book = IncidentBook()
    book.decided([queued(event(EventKind.FIRING, T0))])
    book.acknowledge("inc-1", T0 + 1, "alice", "")
    book.decided([queued(event(EventKind.RESOLVED, T0 + 9, Status.OK))])
    assert book.acknowledged == frozenset()


def _held(check: str, at: float, hold: Silence) -> Note:
    ev = AlertEvent(EventKind.FIRING, AlertKey("web1", check, "status"), Status.CRITICAL, at,
                    f"inc-{check}", f"{check} is down", since=at - 5)
    return Note(NoteKind.SILENCED, ev, silence=hold)


def _failing_parent(child: str) -> Silence:
    return Silence(id=0, check_glob=child, metric=None, starts_at=float("-inf"),
                   ends_at=float("inf"), reason=f"{child} depends on gateway, which is "
                   "failing", created_at=T0, host="web1", parent="gateway")


def test_a_dependent_held_while_its_parent_fails_joins_the_parents_incident() -> None:
    book = IncidentBook()
    gateway = AlertEvent(EventKind.FIRING, AlertKey("web1", "gateway", "status"),
                         Status.CRITICAL, T0, "inc-gateway", "no route")
    book.decided([queued(gateway)])
    changed = {i.id: i for i in book.decided([_held("shop", T0 + 3, _failing_parent("shop"))])}
    assert changed["inc-shop"].under == "inc-gateway"
    assert changed["inc-shop"].held_by == "dependency"
    assert changed["inc-gateway"].related == ["shop"]
    assert changed["inc-gateway"].timeline[-1].text == "shop held under it: shop is down"


def test_a_dependent_held_before_its_parent_fired_joins_when_the_parent_names_it() -> None:
    book = IncidentBook()
    waiting = Silence(id=0, check_glob="shop", metric="status", starts_at=float("-inf"),
                      ends_at=T0 + 15, reason="waiting for gateway's next check, which it "
                      "depends on", created_at=T0, host="web1", parent="gateway")
    (alone,) = book.decided([_held("shop", T0, waiting)])
    assert alone.under is None  # the parent may yet turn out fine
    gateway = AlertEvent(EventKind.FIRING, AlertKey("web1", "gateway", "status"),
                         Status.CRITICAL, T0 + 4, "inc-gateway", "no route",
                         dependents=("shop",))
    changed = {i.id: i for i in book.decided([queued(gateway)])}
    assert changed["inc-shop"].under == "inc-gateway"
    assert changed["inc-gateway"].related == ["shop"]


def test_alerts_grouped_under_the_first_of_their_host_join_its_incident() -> None:
    first = AlertKey("web1", "web", "status")
    wait = Silence(id=0, check_glob="web", metric="status", starts_at=float("-inf"),
                   ends_at=T0 + 30, reason="waiting 30 s", created_at=T0, host="web1",
                   key=first, group=first)
    under = Silence(id=0, check_glob="api", metric="status", starts_at=float("-inf"),
                    ends_at=float("inf"), reason="grouped under web1/web/status",
                    created_at=T0, host="web1", key=AlertKey("web1", "api", "status"),
                    group=first)
    book = IncidentBook()
    (web,) = book.decided([_held("web", T0, wait)])
    assert (web.held_by, web.under) == ("grouping", None)  # the first waits, joins nothing
    changed = {i.id: i for i in book.decided([_held("api", T0 + 4, under)])}
    assert changed["inc-api"].under == "inc-web"
    assert changed["inc-web"].related == ["api"]
    total = figures(list(changed.values()))
    assert total.held == {"grouping": 2}


def _group_holds() -> tuple[Silence, Silence]:
    first = AlertKey("web1", "web", "status")
    wait = Silence(id=0, check_glob="web", metric="status", starts_at=float("-inf"),
                   ends_at=T0 + 30, reason="waiting 30 s", created_at=T0, host="web1",
                   key=first, group=first)
    under = Silence(id=0, check_glob="api", metric="status", starts_at=float("-inf"),
                    ends_at=float("inf"), reason="grouped under web1/web/status",
                    created_at=T0, host="web1", key=AlertKey("web1", "api", "status"),
                    group=first)
    return wait, under


def test_the_book_keeps_each_grouped_alerts_group_until_it_is_released() -> None:
    """What host_groups reads back: api joined web's incident; once announced on its own
    (its first resolved, or it got worse) it is in no group again."""
    wait, under = _group_holds()
    book = IncidentBook()
    book.decided([_held("web", T0, wait)])
    book.decided([_held("api", T0 + 4, under)])
    assert book.group_members() == {"inc-api": "inc-web"}
    released = AlertEvent(EventKind.FIRING, AlertKey("web1", "api", "status"),
                          Status.CRITICAL, T0 + 90, "inc-api", "api is down")
    (api,) = book.decided([Note(NoteKind.RELEASED, released, deliveries=1)])
    assert api.released_at == T0 + 90
    assert book.group_members() == {"inc-api": None}
    # A restart reads it back from the record.
    assert IncidentBook(book.open_incidents()).group_members() == {"inc-api": None}


def test_a_grouped_alert_held_in_the_same_commit_before_its_first_still_joins_it() -> None:
    wait, under = _group_holds()
    book = IncidentBook()
    changed = {i.id: i for i in book.decided([_held("api", T0, under),
                                               _held("web", T0, wait)])}
    assert changed["inc-api"].under == "inc-web"
    assert changed["inc-web"].related == ["api"]
    assert book.group_members() == {"inc-api": "inc-web"}


@pytest.mark.parametrize(("kind", "text"), [
    (NoteKind.QUEUED, "still CRITICAL"),
    (NoteKind.ACKNOWLEDGED, "still CRITICAL (not sent: acknowledged)"),
    (NoteKind.SILENCED, "still CRITICAL (not sent: held back)"),
])
def test_the_timeline_says_whether_a_reminder_was_sent(kind: NoteKind, text: str) -> None:
    book = IncidentBook()
    book.decided([queued(event(EventKind.FIRING, T0))])
    (after,) = book.decided([Note(kind, event(EventKind.REMINDER, T0 + 3600))])
    assert after.timeline[-1].text == text


def test_a_release_names_the_hold_in_the_timeline() -> None:
    window = Silence(id=0, check_glob="shop", metric=None, starts_at=T0 - 60,
                     ends_at=T0 + 7200, reason="weekly full backup", created_at=T0 - 60,
                     host="web1", window="backups")
    book = IncidentBook()
    (held,) = book.decided([Note(NoteKind.SILENCED, event(EventKind.FIRING, T0),
                                 silence=window)])
    assert held.held_label == "maintenance window backups (weekly full backup)"
    assert held.timeline[-1].text == "held back by maintenance window backups (weekly " \
                                     "full backup)"
    (out,) = book.decided([Note(NoteKind.RELEASED, event(EventKind.FIRING, T0 + 7200),
                                deliveries=1)])
    assert out.timeline[-1].text == "no longer held back by maintenance window backups " \
                                    "(weekly full backup): announced"


def test_a_resolved_incident_shows_its_last_problem_as_what_it_was() -> None:
    book = IncidentBook()
    (opened,) = book.decided([queued(event(EventKind.FIRING, T0))])
    assert timeline(opened, T0)[1] == "  worst CRITICAL, now CRITICAL: connection refused"
    (closed,) = book.decided([queued(event(EventKind.RESOLVED, T0 + 300, Status.OK,
                                           duration=300.0))])
    assert timeline(closed, T0 + 300)[1] == (
        "  worst CRITICAL, now OK (was: connection refused)")
