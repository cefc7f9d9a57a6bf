"""The outbox in memory: order per incident, backoff per target, catch-up, give-up."""

from __future__ import annotations

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.backoff import RetryPolicy
from agent.notify.outbox import Outbox, restored
from agent.notify.protocol import SendResult
from agent.store import Delivery, OutboxRow

T0 = 1_700_000_000.0
POLICY = RetryPolicy(first=10.0, cap=900.0, give_up_after=86400.0, jitter=0.0)
OK = SendResult(True)
DOWN = SendResult(False, "connection refused")
BAD = SendResult(False, "400 bad request", permanent=True)
HOOK = ("ops", 0)


def event(incident: str, kind: EventKind = EventKind.FIRING, at: float = T0) -> AlertEvent:
    return AlertEvent(kind, AlertKey("web1", incident, "status"), Status.CRITICAL, at,
                      incident, "down")


def queue(box: Outbox, *items: tuple[str, EventKind], target: int = 0) -> list[OutboxRow]:
    return box.add([Delivery(event(i, k), "ops", target) for i, k in items])


def names(rows: list[OutboxRow]) -> list[tuple[str, str]]:
    return [(r.event.incident, r.event.kind.value) for r in rows]


FIRING, RESOLVED, REMINDER = EventKind.FIRING, EventKind.RESOLVED, EventKind.REMINDER


@pytest.mark.parametrize(("queued", "grouped", "first_pass"), [
    # One row per incident goes per pass; the next only once the first is delivered.
    ([("a", FIRING), ("a", RESOLVED)], False, [("a", "firing")]),
    ([("a", FIRING), ("b", FIRING), ("a", RESOLVED)], False,
     [("a", "firing"), ("b", "firing")]),
    ([("a", FIRING), ("a", REMINDER), ("a", RESOLVED), ("b", RESOLVED)], False,
     [("a", "firing"), ("b", "resolved")]),
    # A grouped target takes them all in one message, in the order decided.
    ([("a", FIRING), ("b", FIRING), ("a", RESOLVED)], True,
     [("a", "firing"), ("b", "firing"), ("a", "resolved")]),
], ids=["firing-before-resolved", "incidents-side-by-side", "reminder-waits-too", "grouped"])
def test_what_may_go_keeps_each_incidents_order(
        queued: list[tuple[str, EventKind]], grouped: bool,
        first_pass: list[tuple[str, str]]) -> None:
    box = Outbox(retry=POLICY)
    queue(box, *queued)
    assert names(box.sendable(HOOK, grouped, limit=100)) == first_pass


def test_a_resolved_never_overtakes_its_undelivered_firing() -> None:
    box = Outbox(retry=POLICY)
    firing, resolved = queue(box, ("a", FIRING), ("a", RESOLVED))
    # The FIRING's first attempt fails; the RESOLVED must wait for it.
    box.record(HOOK, [(firing, DOWN)], T0, mono=0.0)
    assert box.ready_targets(5.0) == []
    assert box.ready_targets(10.0) == [HOOK]
    assert names(box.sendable(HOOK, False, 100)) == [("a", "firing")]
    box.record(HOOK, [(box.sendable(HOOK, False, 100)[0], OK)], T0 + 10, mono=10.0)
    assert [r.id for r in box.sendable(HOOK, False, 100)] == [resolved.id]


def test_a_target_backs_off_as_a_whole_and_catches_up_at_once() -> None:
    box = Outbox(retry=POLICY)
    rows = queue(box, *((f"i{n}", FIRING) for n in range(5)))
    done = box.record(HOOK, [(r, DOWN) for r in rows], T0, mono=0.0)
    assert len(done.retry) == 5
    # While it backs off, one row probes it at each retry.
    for mono, wait in ((10.0, 20.0), (30.0, 40.0), (70.0, 80.0)):
        assert box.ready_targets(mono - 0.1) == []
        probe = box.sendable(HOOK, False, 100)
        assert len(probe) == 1
        box.record(HOOK, [(probe[0], DOWN)], T0 + mono, mono=mono)
        assert box.next_retry() == mono + wait
    # It answers: the probe goes, and everything else is sendable at once.
    probe = box.sendable(HOOK, False, 100)
    box.record(HOOK, [(probe[0], OK)], T0 + 150, mono=150.0)
    assert box.ready_targets(150.0) == [HOOK]
    assert len(box.sendable(HOOK, False, 100)) == 4
    assert box.next_retry() is None


def test_other_targets_do_not_wait_for_a_failing_one() -> None:
    box = Outbox(retry=POLICY)
    down = queue(box, ("a", FIRING), target=0)
    queue(box, ("a", FIRING), target=1)
    box.record(("ops", 0), [(down[0], DOWN)], T0, mono=0.0)
    assert box.ready_targets(1.0) == [("ops", 1)]


def test_a_permanent_failure_gives_up_that_row_only_and_lets_the_next_go() -> None:
    box = Outbox(retry=POLICY)
    firing, _ = queue(box, ("a", FIRING), ("a", RESOLVED))
    done = box.record(HOOK, [(firing, BAD)], T0, mono=0.0)
    assert [r.dead for r in done.dead] == [True] and done.retry == ()
    assert box.ready_targets(0.0) == [HOOK]  # no backoff: the service is up
    assert names(box.sendable(HOOK, False, 100)) == [("a", "resolved")]
    assert box.dead_since_start == 1


def test_a_row_is_given_up_a_day_after_it_was_queued() -> None:
    box = Outbox(retry=POLICY)
    (row,) = queue(box, ("a", FIRING))
    mono = 0.0
    while len(box):
        row = box.sendable(HOOK, False, 100)[0]
        done = box.record(HOOK, [(row, DOWN)], T0 + mono, mono=mono)
        retry = box.next_retry()
        mono = retry if retry is not None else mono
    assert done.dead and done.dead[0].attempts > 90
    assert done.dead[0].last_attempt_at == T0 + 86400  # the last try at the deadline


def test_the_same_event_to_the_same_target_is_queued_once() -> None:
    box = Outbox(retry=POLICY)
    assert len(queue(box, ("a", FIRING))) == 1
    assert queue(box, ("a", FIRING)) == []
    assert len(queue(box, ("a", FIRING), target=1)) == 1
    assert len(box) == 2


def test_ids_follow_the_order_decided_and_go_on_after_a_restart() -> None:
    box = Outbox(retry=POLICY)
    rows = queue(box, ("a", FIRING), ("b", FIRING))
    assert [r.id for r in rows] == [1, 2]
    again = restored(box.rows(), next_id=10, now=T0, mono=0.0, retry=POLICY)
    assert [r.id for r in queue(again, ("c", FIRING))] == [10]


def test_a_target_backing_off_before_a_restart_waits_after_it() -> None:
    box = Outbox(retry=POLICY)
    (row,) = queue(box, ("a", FIRING))
    box.record(HOOK, [(row, DOWN)], T0, mono=0.0)
    again = restored(box.rows(), next_id=2, now=T0 + 4, mono=500.0, retry=POLICY)
    assert again.ready_targets(505.0) == []
    assert again.ready_targets(506.0) == [HOOK]


def test_status_shows_the_targets_next_try_for_rows_waiting_behind_it() -> None:
    box = Outbox(retry=POLICY)
    first, second = queue(box, ("a", FIRING), ("b", FIRING))
    box.record(HOOK, [(first, DOWN)], T0, mono=0.0)
    pending = box.pending(T0, 0.0)
    assert [r.next_attempt_at for r in pending] == [T0 + 10, T0 + 10]
    assert {r.id for r in pending} == {first.id, second.id}


def test_under_a_backlog_critical_goes_before_warning_before_resolved_notices() -> None:
    box = Outbox(retry=POLICY)
    box.add([Delivery(event("a", RESOLVED), "ops", 0),
             Delivery(AlertEvent(FIRING, AlertKey("web1", "b", "status"), Status.WARNING, T0,
                                 "b", "slow"), "ops", 0),
             Delivery(event("c"), "ops", 0)])
    assert [r.event.incident for r in box.sendable(HOOK, False, limit=2)] == ["c", "b"]
