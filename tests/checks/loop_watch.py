"""Watching that the event loop stays free while a check runs.

``re`` holds the GIL while it backtracks and cannot be cancelled, so a test of that would
hang rather than fail; ``loop_watch`` interrupts a frozen loop with SIGALRM (``re`` checks
for signals) and the test fails, naming why.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

_TICK = 0.01


class LoopFrozenError(Exception):
    """The event loop did not get control back in time."""


@dataclass
class LoopWatch:
    ticks: int = 0
    started: float = 0.0
    elapsed: float = 0.0

    def assert_free(self) -> None:
        """The loop ran its other tasks throughout (at least a third of the ticks due)."""
        due = self.elapsed / _TICK
        assert self.ticks >= due / 3, f"{self.ticks} ticks in {self.elapsed:.2f}s"


@contextlib.asynccontextmanager
async def loop_watch(limit: float) -> AsyncIterator[LoopWatch]:
    """Count the loop's ticks during the block; raise LoopFrozenError if it takes more than
    ``limit`` seconds in all."""
    watch = LoopWatch(started=time.monotonic())

    async def ticker() -> None:
        while True:
            await asyncio.sleep(_TICK)
            watch.ticks += 1

    def frozen(*_args: Any) -> None:
        raise LoopFrozenError(f"still running after {limit}s (the event loop was frozen)")

    previous = signal.signal(signal.SIGALRM, frozen)
    signal.setitimer(signal.ITIMER_REAL, limit)
    task = asyncio.create_task(ticker())
    try:
        yield watch
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        task.cancel()
        watch.elapsed = time.monotonic() - watch.started
