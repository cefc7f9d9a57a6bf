"""A sender child that dies mid-send costs a retry, never a message: the outbox, the real
dispatcher and the warm child together, against the receiver."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.clock import FakeClock
from agent.notify.sender import WarmSender
from agent.store import Delivery, Store
from tests.notify.queueing import Queue
from tests.notify.test_dispatcher import NO_JITTER, T0, event, ops
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


async def test_rows_of_a_child_killed_mid_send_are_retried_and_delivered(
        store: Store, receiver: Receiver) -> None:
    clock = FakeClock(T0)
    receiver.answer(Reply(hang=True))  # the first post never gets an answer
    queue = Queue(store, NO_JITTER)
    queue.add(Delivery(event("inc-1"), "ops", 0), Delivery(event("inc-2"), "ops", 0))
    async with WarmSender() as warm:
        d = queue.dispatcher(ops(receiver.url("hook")), clock, sender=warm.send_many)
        sending = asyncio.create_task(d.run_once())
        await asyncio.to_thread(receiver.wait_for_requests, 1)
        killed = warm.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        assert await asyncio.wait_for(sending, 30) == 2
        assert store.pending_count() == 2  # failed, not lost, not marked sent
        assert receiver.messages() == []

        # The target backs off as a whole: one probe, then the other at once.
        queue.advance_to_retry(clock)
        assert await d.run_once() == 1
        assert await d.run_once() == 1
        assert warm.started == 2
    delivered = receiver.wait_for(2)
    assert sorted(m["message"].splitlines()[-1] for m in delivered) == [
        "incident: inc-1", "incident: inc-2"]
    assert store.pending_count() == 0
