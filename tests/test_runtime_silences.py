"""The running agent holds back silenced alerts and announces them when the silence ends.

In process, with a fake clock: results are fed the way the scheduler feeds them, and the
outbox is read back from the store (the dispatcher is not started).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import EventKind, Phase
from agent.clock import FakeClock
from agent.config import load_config
from agent.model import AlertKey, CheckResult
from agent.runtime import Agent

CONFIG = """
agent:
  host: db-host
  state_dir: {state}
channels:
  ops: ["json://127.0.0.1:9/hook"]
  other: ["json://127.0.0.1:9/other"]
routes:
  - tags: [db]
    channels: [ops]
checks:
  - name: db-main
    kind: memory
    tags: [db]
    thresholds:
      used_percent: {{crit: "> 90"}}
"""
KEY = AlertKey("db-host", "db-main", "used_percent")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def agent(tmp_path: Path, clock: FakeClock) -> Iterator[Agent]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    a = Agent(load_config(path), clock=clock)
    yield a
    a.close()


async def feed(agent: Agent, clock: FakeClock, used: float, after: float = 1.0) -> None:
    clock.advance(after)
    job = agent.scheduler.jobs[0]
    await agent.scheduler.on_result(job, CheckResult.ok("mem", {"used_percent": used}),
                                    clock.now())


def queued(agent: Agent, clock: FakeClock) -> list[tuple[EventKind, str, str]]:
    return [(r.event.kind, r.event.incident, r.channel) for r in agent.store.due(clock.now())]


async def test_a_silenced_firing_is_held_then_announced_when_the_silence_is_removed(
        agent: Agent, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    sid = agent.store.add_silence("db-*", None, clock.now(), clock.now() + 3600,
                                  reason="reboot")
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await feed(agent, clock, 95)
    state = agent.judge.states[KEY]
    assert state.phase is Phase.FIRING  # the state commits all the same
    assert agent.store.load_states()[KEY].phase is Phase.FIRING
    assert queued(agent, clock) == []
    assert [s.incident for s in agent.store.suppressed()] == [state.incident]
    assert f"alert FIRING db-host/db-main/used_percent: used_percent 95% > 90% (critical) " \
           f"silenced by #{sid} until 23:13 UTC (reboot)" in caplog.text

    agent.release_silenced()  # still silenced: nothing yet
    assert queued(agent, clock) == []

    agent.store.remove_silence(sid)  # as `watchkeeper silence remove` does
    clock.advance(15)
    agent.release_silenced()
    assert queued(agent, clock) == [(EventKind.FIRING, state.incident, "ops")]
    assert agent.store.due(clock.now())[0].event.at == clock.now()
    assert agent.store.suppressed() == [] and agent.suppressed == {}


async def test_an_expired_silence_releases_its_alert_and_the_resolve_follows(
        agent: Agent, clock: FakeClock) -> None:
    agent.store.add_silence("db-main", "used_percent", clock.now(), clock.now() + 60)
    await feed(agent, clock, 95)
    clock.advance(60)
    agent.release_silenced()
    await feed(agent, clock, 10)
    incident = agent.judge.states[KEY].incident
    assert [k for k, _, _ in queued(agent, clock)] == [EventKind.FIRING, EventKind.RESOLVED]
    assert {i for _, i, _ in queued(agent, clock)} == {incident}


async def test_a_held_incident_that_resolves_under_the_silence_sends_nothing(
        agent: Agent, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    agent.store.add_silence("*", None, clock.now(), clock.now() + 3600)
    await feed(agent, clock, 95)
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await feed(agent, clock, 10)
    assert agent.judge.states[KEY].phase is Phase.RESOLVED
    assert queued(agent, clock) == []
    assert agent.store.suppressed() == []
    assert "not sent: a silence held back its FIRING" in caplog.text
    clock.advance(3600)
    agent.release_silenced()
    assert queued(agent, clock) == []


async def test_an_alert_announced_before_the_silence_still_gets_its_resolve(
        agent: Agent, clock: FakeClock) -> None:
    await feed(agent, clock, 95)
    agent.store.add_silence("db-*", None, clock.now(), clock.now() + 3600)
    # The agent reads silences at most every 10 s: this one is seen after that.
    await feed(agent, clock, 10, after=11)
    assert [k for k, _, _ in queued(agent, clock)] == [EventKind.FIRING, EventKind.RESOLVED]


async def test_held_incidents_survive_a_restart(tmp_path: Path, agent: Agent,
                                                clock: FakeClock) -> None:
    sid = agent.store.add_silence("db-*", None, clock.now(), clock.now() + 3600)
    await feed(agent, clock, 95)
    agent.close()
    again = Agent(agent.config, clock=clock)
    try:
        assert list(again.suppressed) == [again.judge.states[KEY].incident]
        again.store.remove_silence(sid)
        again.release_silenced()
        assert [k for k, _, _ in queued(again, clock)] == [EventKind.FIRING]
    finally:
        again.close()
