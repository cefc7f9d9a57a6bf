"""The dispatcher against a real HTTP receiver through the real Apprise child.

The outbox is the agent's in memory; every outcome is written to a real store at once
(the store takes them as a ``WriteSink``), so the tests read both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.clock import FakeClock
from agent.config.models import Channel
from agent.model import AlertKey, Status
from agent.notify.backoff import RetryPolicy
from agent.notify.message import Message
from agent.notify.protocol import SendResult
from agent.notify.sender import send_many
from agent.store import Delivery, Store
from tests.notify.queueing import Queue
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

T0 = 1_700_000_000.0
SECRET = "S3cretPassw0rd"
NO_JITTER = RetryPolicy(first=10.0, cap=900.0, give_up_after=86400.0, jitter=0.0)


def event(incident: str = "inc-1", kind: EventKind = EventKind.FIRING,
          at: float = T0) -> AlertEvent:
    return AlertEvent(kind, AlertKey("web1", "disk", "used_percent"), Status.CRITICAL, at,
                      incident, "used_percent 93.2 > 90", value=93.2, threshold="> 90",
                      since=at - 60)


class CountingSender:
    """The real sender, counting child processes."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, targets: Sequence[str], messages: Sequence[Message],
                       timeout: float) -> list[list[SendResult]]:
        self.calls.append((len(targets), len(messages)))
        return await send_many(targets, messages, timeout)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.fixture
def queue(store: Store) -> Queue:
    return Queue(store, NO_JITTER)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def ops(*urls: str) -> dict[str, Channel]:
    return {"ops": Channel(name="ops", urls=urls)}


async def test_messages_arrive_once_grouped_in_one_child(
        store: Store, queue: Queue, clock: FakeClock, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "watchkeeper.notify")
    url = receiver.url("hook?token=" + SECRET, auth=f"alert:{SECRET}@")
    queue.add(Delivery(event("inc-1"), "ops", 0), Delivery(event("inc-2"), "ops", 0))
    counting = CountingSender()
    d = queue.dispatcher(ops(url), clock, sender=counting)

    assert await d.run_once() == 2
    assert counting.calls == [(1, 2)]
    posts = receiver.wait_for(2)
    assert sorted(p["message"].splitlines()[-1] for p in posts) == [
        "incident: inc-1", "incident: inc-2"]
    assert store.pending_count() == 0
    assert await d.run_once() == 0
    assert len(receiver.messages()) == 2
    sent_lines = [r.getMessage() for r in caplog.records if "sent notification" in r.message]
    assert len(sent_lines) == 2
    assert "channel ops #0 (json://alert:****@127.0.0.1:" in sent_lines[0]
    assert SECRET not in caplog.text


async def test_receiver_down_then_retry_arrives_once(
        store: Store, queue: Queue, clock: FakeClock, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "watchkeeper.notify")
    url = receiver.url(auth=f"alert:{SECRET}@")
    receiver.stop()
    queue.add(Delivery(event(), "ops", 0))
    d = queue.dispatcher(ops(url), clock)

    assert await d.run_once() == 1
    row = store.outbox_row(1)
    assert row is not None
    assert (row.attempts, row.sent_at, row.dead) == (1, None, False)
    assert row.next_attempt_at == T0 + 10
    assert row.last_error and SECRET not in row.last_error
    assert "retrying in 10s" in caplog.text

    clock.advance(9)
    assert await d.run_once() == 0  # not due yet: no child started
    receiver.start()
    clock.advance(1)
    assert await d.run_once() == 1
    assert len(receiver.wait_for(1)) == 1
    done = store.outbox_row(1)
    assert done is not None and done.sent_at == T0 + 10 and done.attempts == 2
    assert await d.run_once() == 0
    assert len(receiver.messages()) == 1
    assert SECRET not in caplog.text


@pytest.mark.parametrize("failure", [Reply(503, b"busy\n"), Reply(drop=True)],
                         ids=["answers-503", "closes-without-answering"])
async def test_a_flapping_receiver_gets_the_message_once_when_it_answers_again(
        store: Store, queue: Queue, clock: FakeClock, receiver: Receiver, failure: Reply) -> None:
    receiver.answer(failure, failure)
    queue.add(Delivery(event(), "ops", 0))
    d = queue.dispatcher(ops(receiver.url()), clock)

    for wait in (0, 10, 20):  # the first try and two backed-off retries
        clock.advance(wait)
        assert await d.run_once() == 1
    assert len(receiver.wait_for(1)) == 1
    row = store.outbox_row(1)
    assert row is not None and (row.attempts, row.sent_at) == (3, T0 + 30)
    assert await d.run_once() == 0
    assert [x.accepted for x in receiver.exchanges()] == [False, False, True]


async def test_invalid_url_is_dead_after_one_attempt_and_masked(
        store: Store, queue: Queue, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    queue.add(Delivery(event(), "ops", 0))
    d = queue.dispatcher(ops(f"notaservice://{SECRET}/x"), clock)
    await d.run_once()
    row = store.outbox_row(1)
    assert row is not None and row.dead and row.attempts == 1
    assert row.last_error and SECRET not in row.last_error
    assert "notaservice://****" in row.last_error
    assert store.pending_count() == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "permanent error" in errors[0].getMessage()
    assert "channel ops #0" in errors[0].getMessage()
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("channels", "why"), [
    ({}, "channel 'ops' no longer exists in the config"),
    ({"ops": Channel(name="ops", urls=("log://",))}, "channel 'ops' has no target #3"),
])
async def test_delivery_to_a_vanished_target_is_dead_with_a_clear_line(
        store: Store, queue: Queue, clock: FakeClock, caplog: pytest.LogCaptureFixture, *,
        channels: dict[str, Channel], why: str) -> None:
    queue.add(Delivery(event(), "ops", 3))

    async def must_not_send(*args: object) -> list[list[SendResult]]:
        raise AssertionError("nothing may be sent")

    d = queue.dispatcher(channels, clock, sender=must_not_send)
    assert await d.run_once() == 1
    row = store.outbox_row(1)
    assert row is not None and row.dead and row.last_error is not None
    assert why in row.last_error
    assert why in caplog.text


class FailingSender:
    """Fails every delivery (retryably) and records when it was asked."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.at: list[float] = []

    async def __call__(self, targets: Sequence[str], messages: Sequence[Message],
                       timeout: float) -> list[list[SendResult]]:
        self.at.append(self.clock.now() - T0)
        return [[SendResult(False, "503 from json://u:pw@h/x")] for _ in messages]


async def test_retries_back_off_exponentially_and_give_up_after_a_day(
        store: Store, queue: Queue, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    queue.add(Delivery(event(), "ops", 0))
    failing = FailingSender(clock)
    d = queue.dispatcher(ops("json://u:pw@h/x"), clock, sender=failing)
    await d.run_once()
    while len(queue.box):
        queue.advance_to_retry(clock)
        await d.run_once()
    assert failing.at[:8] == [0, 10, 30, 70, 150, 310, 630, 1270]
    assert all(b - a == 900 for a, b in zip(failing.at[8:-2], failing.at[9:-1], strict=True))
    assert failing.at[-1] == 86400  # one last try at the deadline
    row = store.outbox_row(1)
    assert row is not None and row.dead and row.attempts == len(failing.at)
    assert "giving up" in caplog.text and "trying for 1d" in caplog.text
    assert ":pw@" not in caplog.text and ":****@" in caplog.text


async def test_jitter_spreads_targets_retries_but_never_past_the_cap(
        store: Store, clock: FakeClock) -> None:
    queue = Queue(store)  # the default policy: with jitter
    many = {"ops": Channel(name="ops", urls=tuple(f"json://127.0.0.1:9/{i}" for i in range(20)))}
    queue.add(*(Delivery(event("i"), "ops", i) for i in range(20)))
    d = queue.dispatcher(many, clock, sender=FailingSender(clock))
    await d.run_once()
    retry_at = {store.outbox_row(i).next_attempt_at for i in range(1, 21)}  # type: ignore[union-attr]
    assert len(retry_at) > 1
    assert all(T0 + 8 <= t <= T0 + 10 for t in retry_at)


async def test_run_loop_sends_after_wake_and_drain_flushes(
        store: Store, queue: Queue, clock: FakeClock, receiver: Receiver) -> None:
    d = queue.dispatcher(ops(receiver.url()), clock)
    task = asyncio.create_task(d.run())
    try:
        await asyncio.sleep(0.05)  # idle: nothing queued
        queue.add(Delivery(event("inc-a"), "ops", 0))
        d.wake()
        posts = await asyncio.to_thread(receiver.wait_for, 1)
        assert len(posts) == 1
        # Shutdown: what is queued now is flushed by drain.
        queue.add(Delivery(event("inc-b"), "ops", 0))
        assert await d.drain(timeout=30) is True
        assert len(receiver.messages()) == 2
        assert store.pending_count() == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(receiver.messages()) == 2


async def test_drain_gives_up_at_its_timeout_and_keeps_the_rows(store: Store, queue: Queue,
                                                                clock: FakeClock) -> None:
    queue.add(Delivery(event(), "ops", 0))

    async def slow(targets: Sequence[str], messages: Sequence[Message],
                   timeout: float) -> list[list[SendResult]]:
        await asyncio.sleep(30)
        return [[SendResult(True)] for _ in messages]

    d = queue.dispatcher(ops("log://"), clock, sender=slow)
    assert await d.drain(timeout=0.2) is False
    assert store.pending_count() == 1
