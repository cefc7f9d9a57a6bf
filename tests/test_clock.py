"""The fake clock: sleeps end only when a test moves time, in the order they are due."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent.clock import FakeClock, SystemClock


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



@pytest.mark.parametrize("step", [3600.0, -3600.0, 86400.0 * 365], ids=["+1h", "-1h", "+1y"])
def test_a_wall_clock_step_moves_the_wall_reading_and_not_the_decision_time(
        monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    clock = SystemClock()
    real = time.time
    before, wall_before = clock.now(), clock.wall()
    assert abs(before - wall_before) < 1.0  # no step yet: the two agree
    monkeypatch.setattr(time, "time", lambda: real() + step)
    after, wall_after = clock.now(), clock.wall()
    assert 0.0 <= after - before < 1.0
    assert abs(wall_after - wall_before - step) < 1.0


def test_every_system_clock_of_a_process_shares_one_decision_timeline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = SystemClock()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600.0)
    second = SystemClock()  # made after the step: it does not anchor afresh
    assert abs(second.now() - first.now()) < 1.0


@pytest.mark.parametrize("step", [3600.0, -3600.0], ids=["+1h", "-1h"])
async def test_fake_clock_step_moves_only_the_wall_clock(step: float) -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(10)
        woke.append(clock.monotonic())

    task = asyncio.create_task(sleeper())
    await clock.run_for(4)
    now, mono = clock.now(), clock.monotonic()
    clock.step(step)
    await clock.run_for(0)
    assert (clock.now(), clock.monotonic(), clock.wall()) == (now, mono, now + step)
    assert woke == [] and clock.sleepers == 1  # a step neither wakes a sleeper early...
    await clock.run_for(6)
    assert woke == [10]  # ...nor holds one back
    assert clock.wall() - clock.now() == step  # the step stays until the next one
    await task
