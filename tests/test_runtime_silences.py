"""The running agent holds back silenced alerts and announces them when the silence ends.

In process, with a fake clock: results are fed the way the scheduler feeds them, silences
are added as the control socket adds them, and the outbox is read from the agent's memory
and, once written, from the store (the dispatcher is not started).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.alerting.state import EventKind, Phase
from agent.clock import FakeClock
from agent.model import AlertKey, CheckResult
from agent.runtime import Agent
from agent.store import Store

CONFIG = """
agent:
  host: db-host
  state_dir: {state}
  group_window: 0s  # each alert on its own: these tests count them
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


async def feed(agent: Agent, clock: FakeClock, used: float, after: float = 1.0) -> None:
    clock.advance(after)
    job = agent.scheduler.jobs[0]
    await agent.scheduler.on_result(job, CheckResult.ok("mem", {"used_percent": used}),
                                    clock.now())


def queued(agent: Agent, clock: FakeClock) -> list[tuple[EventKind, str, str]]:
    """The agent's queue, which the store holds as well once written."""
    live = [(r.event.kind, r.event.incident, r.channel) for r in agent.outbox.rows()]
    assert stored(agent).pending() == agent.outbox.rows()
    return live


def stored(agent: Agent) -> Store:
    assert agent.writer.flush(5.0)
    assert agent.store is not None
    return agent.store


def silence(agent: Agent, match: str, metric: str | None = None, seconds: float = 3600,
            reason: str = "") -> int:
    return agent.add_silence(match, metric, seconds, reason).id


async def test_a_silenced_firing_is_held_then_announced_when_the_silence_is_removed(
        agent: Agent, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    sid = silence(agent, "db-*", reason="reboot")
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await feed(agent, clock, 95)
    state = agent.judge.states[KEY]
    assert state.phase is Phase.FIRING  # the state commits all the same
    assert stored(agent).load_states()[KEY].phase is Phase.FIRING
    assert queued(agent, clock) == []
    assert [s.incident for s in stored(agent).suppressed()] == [state.incident]
    assert f"alert FIRING db-host/db-main/used_percent: used_percent 95% > 90% (critical) " \
           f"silenced by #{sid} until 23:13 UTC (reboot)" in caplog.text

    agent.release_silenced()  # still silenced: nothing yet
    assert queued(agent, clock) == []

    clock.advance(15)
    assert agent.remove_silence(sid)  # as `watchkeeper silence remove` asks it
    assert queued(agent, clock) == [(EventKind.FIRING, state.incident, "ops")]
    assert agent.outbox.rows()[0].event.at == clock.now()
    assert stored(agent).suppressed() == [] and agent.suppressed == {}
    assert stored(agent).silences(host="db-host") == []


async def test_an_expired_silence_releases_its_alert_and_the_resolve_follows(
        agent: Agent, clock: FakeClock) -> None:
    silence(agent, "db-main", "used_percent", seconds=60)
    await feed(agent, clock, 95)
    clock.advance(60)
    agent.release_silenced()
    await feed(agent, clock, 10)
    incident = agent.judge.states[KEY].incident
    assert [k for k, _, _ in queued(agent, clock)] == [EventKind.FIRING, EventKind.RESOLVED]
    assert {i for _, i, _ in queued(agent, clock)} == {incident}


async def test_a_held_incident_that_resolves_under_the_silence_sends_nothing(
        agent: Agent, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    silence(agent, "*")
    await feed(agent, clock, 95)
    with caplog.at_level(logging.INFO, "watchkeeper.agent"):
        await feed(agent, clock, 10)
    assert agent.judge.states[KEY].phase is Phase.RESOLVED
    assert queued(agent, clock) == []
    assert stored(agent).suppressed() == []
    assert "not sent: its FIRING was held back throughout" in caplog.text
    clock.advance(3600)
    agent.release_silenced()
    assert queued(agent, clock) == []


async def test_an_alert_announced_before_the_silence_still_gets_its_resolve(
        agent: Agent, clock: FakeClock) -> None:
    await feed(agent, clock, 95)
    silence(agent, "db-*")
    await feed(agent, clock, 10)
    assert [k for k, _, _ in queued(agent, clock)] == [EventKind.FIRING, EventKind.RESOLVED]


async def test_held_incidents_survive_a_restart(tmp_path: Path, agent: Agent,
                                                clock: FakeClock) -> None:
    sid = silence(agent, "db-*")
    await feed(agent, clock, 95)
    assert agent.writer.close() == 0
    agent.close()
    again = Agent(agent.config, clock=clock)
    try:
        assert list(again.suppressed) == [again.judge.states[KEY].incident]
        assert [s.id for s in again.silences.active(clock.now())] == [sid]
        assert again.remove_silence(sid)
        assert [k for k, _, _ in queued(again, clock)] == [EventKind.FIRING]
    finally:
        again.close()


async def test_a_released_alerts_message_names_the_silence_that_held_it(
        agent: Agent, clock: FakeClock) -> None:
    sid = silence(agent, "db-*", reason="reboot")
    await feed(agent, clock, 95)
    assert agent.outbox.rows() == []
    assert agent.remove_silence(sid)
    agent.release_silenced()
    (row,) = agent.outbox.rows()
    sent = agent.dispatcher.decorate(row.event) if agent.dispatcher.decorate else row.event
    assert sent.held == f"silence #{sid} (reboot)"
    # A restart before it is sent keeps it: it comes from the stored incident log.
    assert agent.writer.close() == 0
    agent.close()
    again = Agent(agent.config, clock=clock)
    try:
        (row,) = again.outbox.rows()
        assert again.desk.decorate(row.event).held == sent.held
    finally:
        again.close()
