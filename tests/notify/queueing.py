"""The agent's side of the outbox in dispatcher tests: deliveries are queued in memory
and written to a real store, as the agent does (the store writer's part done at once)."""

from __future__ import annotations

from typing import Any

from agent.clock import FakeClock, SystemClock
from agent.config.models import Channel
from agent.notify.backoff import RetryPolicy
from agent.notify.dispatcher import Dispatcher
from agent.notify.outbox import Outbox
from agent.store import Delivery, Store, writes


class Queue:
    """An outbox in memory over a real store."""

    def __init__(self, store: Store, retry: RetryPolicy | None = None) -> None:
        self.store = store
        self.box = Outbox(retry=retry)

    def add(self, *deliveries: Delivery) -> None:
        """Queue and write, as the agent's commit does."""
        rows = self.box.add(deliveries)
        self.store.apply([writes.commit([], rows=rows)])

    def dispatcher(self, channels: dict[str, Channel], clock: FakeClock | SystemClock,
                   **kw: Any) -> Dispatcher:
        return Dispatcher(self.box, self.store, channels, clock, **kw)

    def advance_to_retry(self, clock: FakeClock) -> float:
        """Move the clock to the next target's retry; the wall time it then is."""
        due = self.box.next_retry()
        assert due is not None
        clock.advance(due - clock.monotonic())
        return clock.now()
