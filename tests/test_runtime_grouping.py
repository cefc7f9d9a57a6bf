"""The running agent groups alerts of its host that open together, and a restart in the
middle of the window changes nothing: the groups come from the stored alert states.

In process, with a fake clock (the dispatcher is not started; the queue is read).
"""

from __future__ import annotations

from agent.alerting.state import EventKind
from agent.clock import FakeClock
from agent.model import CheckResult
from agent.runtime import Agent

CONFIG = """
agent:
  host: web1
  state_dir: {state}
  group_window: 30s
channels:
  ops: ["json://127.0.0.1:9/hook"]
checks:
  - name: web
    kind: memory
    thresholds:
      used_percent: {{crit: "> 90"}}
  - name: api
    kind: memory
    thresholds:
      used_percent: {{crit: "> 90"}}
"""


async def feed(agent: Agent, clock: FakeClock, check: str, used: float,
               after: float = 1.0) -> None:
    clock.advance(after)
    job = next(j for j in agent.scheduler.jobs if j.name == check)
    await agent.scheduler.on_result(job, CheckResult.ok("mem", {"used_percent": used}),
                                    clock.now())


def queued(agent: Agent) -> list[tuple[EventKind, str, tuple[str, ...]]]:
    return [(r.event.kind, r.event.key.check, r.event.grouped) for r in agent.outbox.rows()]


async def test_two_alerts_opening_together_go_out_as_one_message_after_the_window(
        agent: Agent, clock: FakeClock) -> None:
    await feed(agent, clock, "web", 95)
    await feed(agent, clock, "api", 95, after=5)
    agent.release_silenced()
    assert queued(agent) == []  # the window is still open
    clock.advance(30)
    agent.release_silenced()
    assert queued(agent) == [(EventKind.FIRING, "web", ("api/used_percent",))]


async def test_a_restart_within_the_window_keeps_the_group(agent: Agent,
                                                           clock: FakeClock) -> None:
    await feed(agent, clock, "web", 95)
    await feed(agent, clock, "api", 95, after=5)
    assert agent.writer.close() == 0
    agent.close()
    again = Agent(agent.config, clock=clock)
    try:
        again.release_silenced()
        assert queued(again) == []
        clock.advance(30)
        again.release_silenced()
        assert queued(again) == [(EventKind.FIRING, "web", ("api/used_percent",))]
        # The first one resolves: the other, still failing, is announced on its own.
        await feed(again, clock, "web", 10)
        again.release_silenced()
        assert [(k, c) for k, c, _ in queued(again)][1:] == [
            (EventKind.RESOLVED, "web"), (EventKind.FIRING, "api")]
    finally:
        again.close()
