"""Clocks. Decision logic takes ``now`` as an argument; the runtime reads it from a Clock.

A Clock also sleeps, so code that waits (the scheduler) runs on a FakeClock in tests:
time moves only when the test moves it, and the sleepers wake in the order they are due.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

#: How many turns of the event loop ``FakeClock`` gives woken tasks to run (and sleep
#: again) before it moves on. Each turn runs every callback ready at its start.
SETTLE_TURNS = 50


class Clock(Protocol):
    """Wall-clock seconds since the epoch (for timestamps), a monotonic reading, a sleep."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of monotonic time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock the tests move by hand.

    ``sleep`` waits until the clock is moved past its end. ``advance`` jumps at once (and
    wakes every sleeper that is due); ``await run_for(seconds)`` lets time pass in steps,
    from one sleeper's end to the next in order, giving the woken tasks their turns at
    each step, so a test drives a scheduler through its timeline deterministically.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), wake))
        await wake

    def advance(self, seconds: float) -> None:
        """Move both readings forward at once; the sleepers now due wake in order."""
        self._move(self._mono + seconds)

    async def run_for(self, seconds: float) -> None:
        """Let ``seconds`` pass: stop at each sleeper's end in order, and let the tasks
        woken there run until they wait again, before moving on."""
        end = self._mono + seconds
        await _settle()
        while (due := self._next_due()) is not None and due <= end:
            self._move(due)
            await _settle()
        self._move(end)
        await _settle()

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to move."""
        return sum(1 for _, _, wake in self._sleepers if not wake.done())

    def set(self, now: float) -> None:
        """Jump the wall clock (the monotonic reading never goes back)."""
        self._now = now

    def _next_due(self) -> float | None:
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleeps
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def _move(self, mono: float) -> None:
        if mono > self._mono:
            self._now += mono - self._mono
            self._mono = mono
        while (due := self._next_due()) is not None and due <= self._mono:
            heapq.heappop(self._sleepers)[2].set_result(None)


async def _settle() -> None:
    """Give every task that can run its turns, until they all wait again (on a sleep, an
    event, a lock). Tasks that wait for a thread or a socket are not waited for."""
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)
