"""The fake clock: sleeps end only when a test moves time, in the order they are due."""

from __future__ import annotations

import asyncio

from agent.clock import FakeClock


async def test_sleepers_wake_in_order_each_at_its_own_time_and_may_sleep_again() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, *naps: float) -> None:
        for nap in naps:
            await clock.sleep(nap)
            woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("a", 5, 5)), asyncio.create_task(sleeper("b", 7)),
             asyncio.create_task(sleeper("c", 30))]
    await clock.run_for(12)
    assert woke == [("a", 5), ("b", 7), ("a", 10)]
    assert clock.monotonic() == 12 and clock.sleepers == 1
    clock.advance(100)  # one jump: whoever is due wakes, seeing the time after the jump
    await clock.run_for(0)
    assert woke[-1] == ("c", 112)
    await asyncio.gather(*tasks)


async def test_a_cancelled_sleep_neither_wakes_nor_holds_the_clock_back() -> None:
    clock = FakeClock()
    start = clock.now()
    task = asyncio.create_task(clock.sleep(5))
    await clock.run_for(1)
    task.cancel()
    await clock.run_for(10)
    assert task.cancelled() and clock.sleepers == 0
    assert clock.now() - start == clock.monotonic() == 11

