"""The running agent's incident desk: acknowledgements and escalation steps are numbered
among their incident's events (``<incident>:<n>``, never a time), so nothing made within
one second is taken for a duplicate.

In process, with a fake clock (the dispatcher is not started; the queue is read).
"""

from __future__ import annotations

from pathlib import Path

from agent.alerting.state import EventKind
from agent.clock import FakeClock
from agent.model import CheckResult
from agent.notify.outbox import Recorded
from agent.notify.payload import document, rfc3339
from agent.runtime import Agent
from tests.agent_in_process import in_process_agent

CONFIG = """
agent:
  host: web1
  state_dir: {state}
  group_window: 0s
channels:
  ops: ["json://127.0.0.1:9/hook"]
  sms: ["json://127.0.0.1:9/sms"]
  pager: ["json://127.0.0.1:9/pager"]
routes:
  - channels: [ops]
    escalate:
      - {{after: 1m, channels: [sms]}}
      - {{after: 1m, channels: [pager]}}
checks:
  - name: web
    kind: memory
    thresholds:
      used_percent: {{crit: "> 90"}}
"""


async def feed(agent: Agent, clock: FakeClock, used: float, after: float = 1.0) -> None:
    clock.advance(after)
    job = next(j for j in agent.scheduler.jobs if j.name == "web")
    await agent.scheduler.on_result(job, CheckResult.ok("mem", {"used_percent": used}),
                                    clock.now())


def keys(agent: Agent) -> list[tuple[EventKind, str, str]]:
    return [(r.event.kind, r.channel, r.dedup_key) for r in agent.outbox.rows()]


async def test_ack_unack_ack_within_one_second_are_three_messages(agent: Agent,
                                                                  clock: FakeClock) -> None:
    await feed(agent, clock, 95)
    (firing,) = agent.outbox.rows()
    incident = firing.event.incident
    agent.desk.acknowledge(incident, "alice", "one")
    agent.desk.acknowledge(incident, "alice", "", undo=True)
    agent.desk.acknowledge(incident, "bob", "two")
    assert keys(agent) == [(EventKind.FIRING, "ops", f"{incident}:1"),
                           (EventKind.ACKNOWLEDGED, "ops", f"{incident}:2"),
                           (EventKind.UNACKNOWLEDGED, "ops", f"{incident}:3"),
                           (EventKind.ACKNOWLEDGED, "ops", f"{incident}:4")]
    # The machine's next event takes the next number, and a restart keeps the count.
    assert agent.writer.close() == 0
    agent.close()
    again = Agent(agent.config, clock=clock)
    try:
        await feed(again, clock, 10)
        assert [k for k in keys(again) if k[0] is EventKind.RESOLVED] == [
            (EventKind.RESOLVED, "ops", f"{incident}:5")]
    finally:
        again.close()


async def test_two_escalation_steps_in_one_second_have_keys_of_their_own(
        agent: Agent, clock: FakeClock) -> None:
    await feed(agent, clock, 95)
    rows = agent.outbox.rows()
    incident = rows[0].event.incident
    agent.desk.delivered(Recorded(sent=tuple(rows)), clock.now())
    clock.advance(61)
    agent.desk.escalate()
    steps = [k for k in keys(agent) if k[0] is EventKind.UNANSWERED]
    assert steps == [(EventKind.UNANSWERED, "sms", f"{incident}:2"),
                     (EventKind.UNANSWERED, "pager", f"{incident}:3")]


FLAPPING = CONFIG.replace("group_window: 0s", "group_window: 0s\ndefaults:\n"
                          "  flap_window: 6\n  flap_changes: 3")


async def test_stable_after_flapping_tells_the_spells_start_and_length(
        tmp_path: Path, clock: FakeClock) -> None:
    agent = in_process_agent(FLAPPING, tmp_path, clock)
    try:
        for used in (95, 10, 95, 10, 95, 10):
            await feed(agent, clock, used, after=10)
        for _ in range(10):
            await feed(agent, clock, 10, after=10)
        events = [r.event for r in agent.outbox.rows()]
        assert events[-1].kind is EventKind.STABLE
        stable = events[-1]
        (opened,) = [e for e in events if e.incident == stable.incident
                     and e.kind is EventKind.FIRING]
        start = opened.since
        assert start is not None and stable.since == start
        doc = document([stable], lambda _check: "memory")
        assert doc["started_at"] == rfc3339(start)
        assert doc["duration_seconds"] == stable.at - start > 0
    finally:
        agent.close()


async def test_bad_sample_counts_are_stored_without_waiting_for_a_change(
        agent: Agent, clock: FakeClock) -> None:
    """A kill -9 loses no more than the counts since the last save (every few seconds)."""
    await feed(agent, clock, 95)
    incident = agent.outbox.rows()[0].event.incident
    for _ in range(5):
        await feed(agent, clock, 95)
    agent.desk.save_breaches()  # what the agent's release loop does every 5 s
    assert agent.writer.flush(5.0) and agent.store is not None
    stored = agent.store.incident(incident)
    assert stored is not None and stored.breaches == 6
    assert agent.incidents.unsaved_breaches() == []  # nothing new: nothing to write
