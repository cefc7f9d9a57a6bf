"""The running agent across wall-clock steps and a restart that sets its time back.

In process, with a fake clock: results are fed the way the scheduler feeds them, and the
outbox is read back from the store (the dispatcher is not started). A real process cannot
have its clock stepped without stepping the machine's; see ``agent.clock`` for why the
agent's decisions never read the wall clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import EventKind, Phase
from agent.clock import FakeClock
from agent.model import AlertKey, CheckResult
from agent.runtime import Agent
from tests.agent_in_process import in_process_agent

HOUR = 3600.0
CONFIG = """
agent:
  host: db-host
  state_dir: {state}
  group_window: 0s  # each alert on its own: these tests count them
defaults:
  flap_changes: 0   # every flip announced: these tests count them
channels:
  ops: ["json://127.0.0.1:9/hook"]
checks:
  - name: db-main
    kind: memory
    thresholds:
      used_percent: {{crit: "> 90"{extra}}}
"""
KEY = AlertKey("db-host", "db-main", "used_percent")


def make_agent(tmp_path: Path, clock: FakeClock, extra: str = "") -> Agent:
    return in_process_agent(CONFIG, tmp_path, clock, extra=extra)


@pytest.fixture
def agent(tmp_path: Path, clock: FakeClock) -> Iterator[Agent]:
    a = make_agent(tmp_path, clock)
    yield a
    a.close()


async def feed(agent: Agent, clock: FakeClock, used: float, after: float = 1.0) -> None:
    clock.advance(after)
    job = agent.scheduler.jobs[0]
    await agent.scheduler.on_result(job, CheckResult.ok("mem", {"used_percent": used}),
                                    clock.now())


def queued(agent: Agent) -> list[tuple[EventKind, str]]:
    """What the agent queued, as the store holds it once written."""
    assert agent.writer.flush(10.0) and agent.store is not None
    return [(r.event.kind, r.event.dedup_key) for r in agent.store.queued_rows()]


def logged_queued(text: str) -> int:
    return sum(int(n) for n in re.findall(r"(\d+) deliveries queued", text))


async def flap(agent: Agent, clock: FakeClock, times: int) -> None:
    """FIRING and RESOLVED by turns, five a second."""
    for _ in range(times):
        await feed(agent, clock, 95, after=0.1)
        await feed(agent, clock, 10, after=0.1)


@pytest.mark.parametrize("step", [HOUR, -HOUR], ids=["+1h", "-1h"])
async def test_for_30m_after_a_step_waits_30_minutes_of_elapsed_time(
        tmp_path: Path, clock: FakeClock, step: float) -> None:
    agent = make_agent(tmp_path, clock, extra=', for: "30m"')
    try:
        await feed(agent, clock, 95)
        clock.step(step)
        for _ in range(29):
            await feed(agent, clock, 95, after=60)
        assert agent.judge.states[KEY].phase is Phase.PENDING and queued(agent) == []
        await feed(agent, clock, 95, after=60)
        assert agent.judge.states[KEY].phase is Phase.FIRING
        assert [kind for kind, _ in queued(agent)] == [EventKind.FIRING]
    finally:
        agent.close()


@pytest.mark.parametrize("step", [HOUR, -HOUR], ids=["+1h", "-1h"])
async def test_firings_across_steps_are_each_queued_as_logged(
        agent: Agent, clock: FakeClock, caplog: pytest.LogCaptureFixture, step: float) -> None:
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await flap(agent, clock, 9)
        clock.step(step)
        await flap(agent, clock, 9)
        clock.step(-step)
        await flap(agent, clock, 9)
    rows = queued(agent)
    assert [kind for kind, _ in rows].count(EventKind.FIRING) == 27
    assert len({key for _, key in rows}) == len(rows) == 54
    assert logged_queued(caplog.text) == len(rows)


async def test_a_restart_that_sets_the_time_back_loses_no_firing(
        tmp_path: Path, agent: Agent, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    # The wall clock was stepped back an hour while the agent was down: the next agent's
    # decision time starts an hour behind the last one's, on seconds already used.
    start = clock.now()
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await flap(agent, clock, 9)
        agent.close()
        clock.set(start)
        again = make_agent(tmp_path, clock)
        try:
            await flap(again, clock, 9)
            rows = queued(again)
        finally:
            again.close()
    assert [kind for kind, _ in rows].count(EventKind.FIRING) == 18
    assert len({key for _, key in rows}) == len(rows) == 36
    assert logged_queued(caplog.text) == len(rows)
