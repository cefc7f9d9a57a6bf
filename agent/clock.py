"""Clocks. Decision logic takes ``now`` as an argument; the runtime reads it from a Clock.

A Clock gives three readings:

- ``now()``: the *decision time*, epoch seconds that never step. It is the wall clock as it
  read when the process started, plus the time elapsed since on a clock the system never
  steps (``CLOCK_BOOTTIME``, which also counts a suspend, else ``CLOCK_MONOTONIC``). Every
  duration that decides something (``for``, ``recover_for``, reminders, backoff) is a
  difference of two such readings, so a step of the wall clock (NTP fixing a bad clock,
  ``date -s``, a VM resumed) neither fires an alert early, nor delays it, nor makes two
  moments look the same.
- ``wall()``: the wall clock as the system reads it now, for what is compared with the
  world's timestamps (silence windows a person typed, file times, certificate dates) and
  for what is shown to people.
- ``monotonic()``: for sleeping and timing work (the reading ``sleep`` counts in).

Why epoch seconds rather than bare monotonic readings: decision times are stored (alert
states in the state database) and must still mean something after a restart or a reboot,
where the monotonic clock starts again from an arbitrary point. The wall clock is the only
reading that spans them, so each process anchors its decision time at the wall clock once,
at its start. What that costs is said plainly: a step while the agent was down, or one a
previous run of the agent rode out, is seen once, at the restart. A backward one then
costs nothing (the alert state machine treats time that goes back as no time passing); a
forward one counts as time that passed while the agent was down, as any downtime does.
Between restarts the decision time and the wall clock differ by the sum of the steps the
process rode out (``wall() - now()``); without steps they are equal. The times the agent
stores and writes into messages are decision times, so after NTP corrects a clock that
was wrong when the agent started they read off by the correction until the next restart:
the price of never letting a step decide anything.

A Clock also sleeps, so code that waits (the scheduler) runs on a FakeClock in tests:
time moves only when the test moves it, and the sleepers wake in the order they are due.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

#: How many turns of the event loop ``FakeClock`` gives woken tasks to run (and sleep
#: again) before it moves on. Each turn runs every callback ready at its start.
SETTLE_TURNS = 50


def _steady_reader() -> Callable[[], float]:
    """The clock the decision time counts on: boot time (never stepped, and counting a
    suspend, so a long ``for`` that spans one is not stretched by it) where the system
    has it, else the monotonic clock."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:
        return time.monotonic
    try:
        time.clock_gettime(boottime)
    except OSError:  # defined but not supported by this kernel
        return time.monotonic
    return lambda: time.clock_gettime(boottime)


class Clock(Protocol):
    """The decision time (epoch seconds, never stepped), the wall clock, a monotonic
    reading and a sleep; see the module docstring for which serves what."""

    def now(self) -> float:
        """The decision time: epoch seconds that never step (for durations that decide)."""
        ...

    def wall(self) -> float:
        """The wall clock, epoch seconds (for the world's timestamps and for people)."""
        ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of monotonic time."""
        ...


_STEADY = _steady_reader()
#: The decision time minus the steady reading: fixed once per process, when this module is
#: first imported, so every SystemClock of the process shares one decision timeline.
_BASE = time.time() - _STEADY()


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return _BASE + _STEADY()

    def wall(self) -> float:
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
    ``step`` moves the wall clock alone, as a clock step does to the real clock.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        #: ``wall() - now()``: the steps taken so far.
        self._stepped = 0.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._stepped

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
        """Let ``seconds`` pass at once (every reading moves); the sleepers now due wake
        in order."""
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

    def step(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (either way), as NTP or ``date -s`` steps the
        real one: ``wall()`` moves; the decision time and the monotonic reading do not."""
        self._stepped += seconds

    def set(self, now: float) -> None:
        """Jump the decision time (and the wall clock with it) to ``now``, as a restart
        anchors it afresh; the monotonic reading never goes back. Within one process the
        real clock's decision time never jumps: ``step`` is what a clock step does."""
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
