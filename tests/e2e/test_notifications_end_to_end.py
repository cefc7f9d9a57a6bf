"""The agent as a user runs it: a real process, a real HTTP receiver, restarts and kill -9."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.e2e.agent_process import AGENT, FIRST_CYCLE, Agents, cli, outbox, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

# A failed send is tried again 2 s later, not the default 10 s: the tests wait for it.
CONFIG = AGENT + """  retry: {first: 2s}
channels:
  hook: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "{limit}"}
"""


def _key(message: dict[str, object]) -> str:
    m = re.search(r"key: (\S+)", str(message["message"]))
    assert m, message
    return m.group(1)


def _incident(message: dict[str, object]) -> str:
    m = re.search(r"incident: (\S+)", str(message["message"]))
    assert m, message
    return m.group(1)


def test_one_firing_then_one_resolve_across_a_restart(agents: Agents,
                                                      receiver: Receiver) -> None:
    agent = agents.start(CONFIG, limit="> 0")
    (firing,) = receiver.wait_for(1)
    agent.wait_for_first_cycle()
    time.sleep(3)  # several more runs: still only one message
    assert agent.stop() == 0
    assert len(receiver.messages()) == 1
    assert "CRITICAL" in str(firing["title"]) and "e2e-host" in str(firing["title"])
    assert "used_percent" in str(firing["message"])

    # Restarted with a limit the value cannot breach: the open alert resolves, once.
    agent = agents.start(CONFIG, limit="> 100")
    receiver.wait_for(2)
    time.sleep(3)
    assert agent.stop() == 0
    msgs = receiver.messages()
    assert len(msgs) == 2, msgs
    resolved = msgs[1]
    assert "RESOLVED" in str(resolved["title"])
    assert _incident(resolved) == _incident(firing)
    assert _key(resolved) != _key(firing)


def test_restart_while_firing_sends_nothing_again(agents: Agents, receiver: Receiver) -> None:
    agents.write_config(CONFIG, limit="> 0")
    for _ in range(2):
        agent = agents.start()
        receiver.wait_for(1)
        agent.wait_for_first_cycle()  # of this process: each start logs to its own file
        time.sleep(2)
        assert agent.stop() == 0
        assert agent.log().count(FIRST_CYCLE) == 1
    assert len(receiver.messages()) == 1


def test_a_notification_queued_while_the_receiver_is_down_survives_kill_9(
        agents: Agents, receiver: Receiver) -> None:
    receiver.stop()  # the port stays the one the config names
    agent = agents.start(CONFIG, limit="> 0")
    rows = wait_until(lambda: [r for r in outbox(agents.state) if r["attempts"] >= 1]
                      if (agents.state / "state.db").exists() else None,
                      what="a failed delivery attempt")
    agent.kill()
    assert rows[0]["sent_at"] is None
    queued_key = rows[0]["dedup_key"]

    receiver.start()
    agent = agents.start()
    (msg,) = receiver.wait_for(1)
    time.sleep(3)
    assert agent.stop() == 0
    assert len(receiver.messages()) == 1
    assert _key(msg) == queued_key
    assert [r["sent_at"] is not None for r in outbox(agents.state)] == [True]


def test_status_lists_the_open_alert(agents: Agents, receiver: Receiver) -> None:
    agent = agents.start(CONFIG, limit="> 0")
    receiver.wait_for(1)
    agent.stop()
    out = cli("status", "-c", str(agents.config), "--json")
    assert out.returncode == 0, out.stderr
    alerts = json.loads(out.stdout)["alerts"]
    assert [a["key"] for a in alerts] == ["e2e-host/mem/used_percent"]
    assert alerts[0]["severity"] == "critical"


def test_the_agent_logs_its_scheduler_totals_on_sigusr1_and_at_exit(agents: Agents) -> None:
    agent = agents.start(CONFIG, limit="> 1000")
    agent.wait_for_first_cycle()
    agent.proc.send_signal(signal.SIGUSR1)
    agent.wait_for_log("scheduler stats: ")
    assert agent.stop() == 0
    lines = [ln for ln in agent.log().splitlines() if "scheduler stats: " in ln]
    assert len(lines) == 2
    stats = json.loads(lines[-1].split("scheduler stats: ", 1)[1])
    assert stats["runs"] >= 1 and stats["skipped"] == 0


def test_removing_a_checks_config_resolves_its_open_alert(agents: Agents,
                                                          receiver: Receiver) -> None:
    agent = agents.start(CONFIG, limit="> 0")
    (firing,) = receiver.wait_for(1)
    agent.stop()
    renamed = CONFIG.replace("- name: mem", "- name: memory")
    agent = agents.start(renamed, limit="> 1000")
    msgs = receiver.wait_for(2)
    time.sleep(2)
    agent.stop()
    assert len(receiver.messages()) == 2
    assert "RESOLVED e2e-host mem" in str(msgs[1]["title"])
    assert "check no longer configured" in str(msgs[1]["message"])
    assert _incident(msgs[1]) == _incident(firing)
