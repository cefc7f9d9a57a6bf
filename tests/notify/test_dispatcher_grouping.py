"""``group_wait``: an alert storm on one target goes out as ONE message, after the wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.clock import FakeClock, SystemClock
from agent.config.models import Channel
from agent.model import AlertKey, Status
from agent.notify.backoff import RetryPolicy
from agent.notify.grouping import groups_target
from agent.notify.message import Message, render, render_group
from agent.notify.protocol import SendResult
from agent.store import Delivery, OutboxRow, Store
from tests.notify.queueing import Queue

T0 = 1_700_000_000.0
HOOK = "json://127.0.0.1:9/hook"
PAGER = "pagerduty://integration@service"


def event(check: str, at: float = T0, kind: EventKind = EventKind.FIRING) -> AlertEvent:
    return AlertEvent(kind, AlertKey("web1", check, "status"), Status.CRITICAL, at,
                      f"web1/{check}/status@{int(at)}", f"{check} is down", since=at)


class FakeSender:
    """Records every call; answers each message with ``ok`` (or a retryable failure)."""

    def __init__(self, clock: FakeClock | SystemClock, ok: bool = True) -> None:
        self.clock = clock
        self.ok = ok
        self.calls: list[tuple[float, list[str], list[Message]]] = []

    async def __call__(self, targets: Sequence[str], messages: Sequence[Message],
                       timeout: float) -> list[list[SendResult]]:
        self.calls.append((self.clock.now(), list(targets), list(messages)))
        result = SendResult(True) if self.ok else SendResult(False, "503 Service Unavailable")
        return [[result for _ in targets] for _ in messages]

    def titles(self) -> list[list[str]]:
        return [[m.title for m in messages] for _, _, messages in self.calls]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def sms(*urls: str, wait: float = 30.0) -> dict[str, Channel]:
    return {"sms": Channel(name="sms", urls=urls or (HOOK,), group_wait=wait)}


@pytest.fixture
def q(store: Store) -> Queue:
    return Queue(store)


def queue(q: Queue, *checks: str, at: float = T0, target: int = 0) -> None:
    q.add(*(Delivery(event(c, at), "sms", target) for c in checks))


def rows(store: Store, count: int) -> list[OutboxRow]:
    found = [store.outbox_row(i) for i in range(1, count + 1)]
    assert all(r is not None for r in found)
    return [r for r in found if r is not None]


async def test_rows_within_the_wait_go_out_together_as_one_message(
        store: Store, q: Queue, clock: FakeClock) -> None:
    queue(q, "shop", "db", "disk")
    sender = FakeSender(clock)
    d = q.dispatcher(sms(), clock, sender=sender)

    assert await d.run_once() == 0
    clock.advance(29.9)
    assert await d.run_once() == 0
    assert sender.calls == []
    clock.advance(0.1)
    assert await d.run_once() == 3
    assert sender.titles() == [["3 alerts on web1: 3 CRITICAL"]]
    (_, targets, (message,)) = sender.calls[0]
    assert targets == [HOOK]
    assert message == render_group([event("shop"), event("db"), event("disk")])
    assert [r.sent_at for r in rows(store, 3)] == [T0 + 30] * 3


async def test_a_row_arriving_during_the_wait_joins_and_a_later_one_waits_anew(
        store: Store, q: Queue, clock: FakeClock) -> None:
    sender = FakeSender(clock)
    d = q.dispatcher(sms(), clock, sender=sender)
    queue(q, "shop")
    assert await d.run_once() == 0
    clock.advance(20)
    queue(q, "db", at=clock.now())
    assert await d.run_once() == 0
    clock.advance(10)
    assert await d.run_once() == 2
    assert sender.titles() == [["2 alerts on web1: 2 CRITICAL"]]

    clock.advance(1)
    queue(q, "disk", at=clock.now())
    assert await d.run_once() == 0  # its own wait, counted from itself
    clock.advance(30)
    assert await d.run_once() == 1
    assert sender.titles()[1] == [render(event("disk", T0 + 31)).title]
    assert sender.calls[1][2] == [render(event("disk", T0 + 31))]  # the ordinary message
    assert store.pending_count() == 0


async def test_pagerduty_targets_stay_one_message_per_row_even_with_group_wait(
        store: Store, q: Queue, clock: FakeClock) -> None:
    sender = FakeSender(clock)
    d = q.dispatcher(sms(PAGER, HOOK), clock, sender=sender)
    queue(q, "shop", "db", target=0)
    queue(q, "shop", "db", target=1)

    assert await d.run_once() == 2  # PagerDuty now, the webhook held
    assert sorted(t[0] for _, t, _ in sender.calls) == [
        PAGER + "?dedup=web1%2Fdb%2Fstatus%401700000000&action=map",
        PAGER + "?dedup=web1%2Fshop%2Fstatus%401700000000&action=map"]
    assert all(len(messages) == 1 for _, _, messages in sender.calls)
    clock.advance(30)
    assert await d.run_once() == 2
    assert sender.calls[-1][1:] == ([HOOK], [render_group([event("shop"), event("db")])])


async def test_a_failed_group_retries_every_row_together(store: Store, q: Queue,
                                                        clock: FakeClock) -> None:
    queue(q, "shop", "db", "disk")
    sender = FakeSender(clock, ok=False)
    q.box.retry = RetryPolicy(first=10.0, jitter=0.2)
    d = q.dispatcher(sms(), clock, sender=sender)
    clock.advance(30)
    assert await d.run_once() == 3
    failed = rows(store, 3)
    assert {(r.attempts, r.sent_at, r.last_error) for r in failed} == {
        (1, None, "503 Service Unavailable")}
    retry_at = {r.next_attempt_at for r in failed}
    assert len(retry_at) == 1  # one jitter draw: they stay one message
    assert T0 + 38 <= retry_at.pop() <= T0 + 40

    sender.ok = True
    due = q.advance_to_retry(clock)
    assert await d.run_once() == 3  # a retry is not held a second time
    assert sender.titles() == [["3 alerts on web1: 3 CRITICAL"]] * 2
    assert [(r.attempts, r.sent_at) for r in rows(store, 3)] == [(2, due)] * 3


async def test_a_channel_without_group_wait_sends_each_row_at_once(
        store: Store, q: Queue, clock: FakeClock) -> None:
    queue(q, "shop", "db")
    sender = FakeSender(clock)
    d = q.dispatcher(sms(wait=0.0), clock, sender=sender)
    assert await d.run_once() == 2
    assert sender.calls == [(T0, [HOOK], [render(event("shop")), render(event("db"))])]
    assert store.pending_count() == 0


async def test_drain_sends_a_held_group_at_once(store: Store, q: Queue, clock: FakeClock) -> None:
    queue(q, "shop", "db")
    sender = FakeSender(clock)
    d = q.dispatcher(sms(), clock, sender=sender)
    assert await d.drain(timeout=5) is True
    assert sender.titles() == [["2 alerts on web1: 2 CRITICAL"]]
    assert store.pending_count() == 0


@pytest.mark.parametrize(("url", "wait", "grouped"), [
    (HOOK, 30.0, True),
    (HOOK, 0.0, False),
    ("mailto://u:pw@example.com", 5.0, True),
    (PAGER, 30.0, False),
    ("opsgenie://apikey", 30.0, False),
    ("OpsGenie://apikey", 30.0, False),
])
def test_only_services_without_incidents_are_grouped(url: str, wait: float,
                                                     grouped: bool) -> None:
    assert groups_target(url, wait) is grouped


def test_next_due_after_skips_rows_already_due(store: Store) -> None:
    store.commit([], [Delivery(event("shop", T0), "sms", 0)])
    store.commit([], [Delivery(event("db", T0 + 50), "sms", 0)])
    assert store.next_due_at() == T0
    assert store.next_due_at(after=T0) == T0 + 50
    assert store.next_due_at(after=T0 + 50) is None


async def test_the_run_loop_sleeps_through_the_wait_and_wakes_when_it_ends(
        store: Store, q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SystemClock()
    sender = FakeSender(clock)
    d = q.dispatcher(sms(wait=0.4), clock, sender=sender)
    passes: list[float] = []
    ready = q.box.ready_targets

    def counting(mono: float) -> list[tuple[str, int]]:
        passes.append(mono)
        return ready(mono)

    monkeypatch.setattr(q.box, "ready_targets", counting)
    task = asyncio.create_task(d.run())
    try:
        await asyncio.sleep(0.05)
        start = time.time()
        q.add(*(Delivery(event(c, start), "sms", 0) for c in ("shop", "db")))
        d.wake()
        deadline = time.monotonic() + 5
        while not sender.calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sender.titles() == [["2 alerts on web1: 2 CRITICAL"]]
    sent_at = sender.calls[0][0]
    assert start + 0.4 <= sent_at < start + 1.0  # woke when the wait ended, not later
    assert len(passes) <= 5  # idle, commit, release: no spinning while held
