"""The agent's children, as a real agent process has them: killed with it, no descriptor
left by a plugin that floods its output."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.agent_process import AGENT, AgentProcess, Agents, wait_until
from tests.notify.children import children_of, cmdline, running, wait_gone
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

WARM_AND_PLUGIN = AGENT + """channels:
  hook: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "> 0"}
  - name: plugin
    kind: command
    command: [sleep, "300"]
    interval: 60s
    timeout: 60s
"""

# A failed send is tried again 2 s later, not the default 10 s: the tests wait for it.
MEMORY = AGENT + """  retry: {first: 2s}
channels:
  hook: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "> 0"}
"""

FLOOD = AGENT + """checks:
  - name: flood
    kind: command
    command: [/bin/sh, -c, "head -c 300000 /dev/zero; while :; do echo more; done"]
    max_output: 4KiB
"""


def test_sigkill_of_the_agent_leaves_no_sender_and_no_plugin_running(
        agents: Agents, receiver: Receiver) -> None:
    agent = agents.start(WARM_AND_PLUGIN)
    receiver.wait_for(1)  # the FIRING went out: the sender child is warm

    def kids() -> dict[str, int] | None:
        found = {cmdline(p): p for p in children_of(agent.proc.pid)}
        sender = [p for c, p in found.items() if "agent.notify.apprise_child" in c]
        plugin = [p for c, p in found.items() if c.startswith("sleep 300")]
        return {"sender": sender[0], "plugin": plugin[0]} if sender and plugin else None

    pids = wait_until(kids, what="a warm sender child and a running plugin")
    agent.kill()
    for what, pid in pids.items():
        assert wait_gone(pid), f"the {what} (pid {pid}) outlived the agent: {cmdline(pid)!r}"
    time.sleep(1)  # the old sender wrote into the closed pipe a little later
    assert "Traceback" not in agent.log() and "BrokenPipeError" not in agent.log()


def sender_of(agent: AgentProcess) -> int | None:
    found = [p for p in children_of(agent.proc.pid)
             if "agent.notify.apprise_child" in cmdline(p)]
    return found[0] if found else None


def test_a_sender_child_killed_mid_send_costs_a_retry_not_the_message(
        agents: Agents, receiver: Receiver) -> None:
    receiver.answer(Reply(hang=True))  # the first post is never answered
    agent = agents.start(MEMORY)
    receiver.wait_for_requests(1)
    pid = wait_until(lambda: sender_of(agent), what="the sender child")
    os.kill(pid, signal.SIGKILL)
    agent.wait_for_log("notification sender exited with code -9; retrying in ")
    (delivered,) = receiver.wait_for(1, timeout=60)
    assert "CRITICAL e2e-host mem" in str(delivered["title"])
    time.sleep(1)
    assert agent.stop() == 0
    assert len(receiver.messages()) == 1
    assert "Traceback" not in agent.log()


def test_a_plugin_flooding_past_max_output_leaves_the_agent_no_descriptor(
        agents: Agents) -> None:
    agent = agents.start(FLOOD)
    agent.wait_for_first_cycle()

    def fds() -> int:
        # The least over a second: a run in progress holds its pipes for a moment, and a
        # count taken then is no leak (a leak raises the least too).
        counts = []
        for _ in range(20):
            counts.append(len(os.listdir(f"/proc/{agent.proc.pid}/fd")))
            time.sleep(0.05)
        return min(counts)

    def runs() -> int:
        return agent.log().count("command output exceeded 4 KiB")

    time.sleep(3)  # past start-up: what stays open for good is open now
    before, runs_before = fds(), runs()
    time.sleep(12)
    after, runs_after = fds(), runs()
    assert agent.stop() == 0
    assert after == before, f"{after - before} descriptors more after some runs"
    assert runs_after - runs_before >= 8, "the plugin did not run often enough to tell"


SHELL_PLUGIN = AGENT + """checks:
  - name: plugin
    kind: command
    command: {command}
    interval: 60s
    timeout: 60s
"""


def test_what_a_killed_agents_plugin_started_is_stopped_by_the_next_agent(
        agents: Agents) -> None:
    first = agents.start(SHELL_PLUGIN, command='[/bin/sh, -c, "sleep 120; echo OK"]')

    def sleeper() -> int | None:
        for shell in children_of(first.proc.pid):
            for pid in children_of(shell):
                if cmdline(pid).startswith("sleep 120"):
                    return pid
        return None

    pid = wait_until(sleeper, what="the plugin's sleep")
    first.kill()
    # The kernel killed the shell with the agent; its sleep only lost its parent.
    assert running(pid)
    second = agents.start(SHELL_PLUGIN, command="[/bin/echo, OK]")
    second.wait_for_log("stopped what an agent that died had left running: sleep")
    assert wait_gone(pid)
    assert second.stop() == 0
