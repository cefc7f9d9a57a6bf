"""A real agent: an incident nobody acknowledges is escalated to the pager channel, which
then hears its resolve too; one acknowledged in time is not escalated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, AgentProcess, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """\
channels:
  chat: ["{chat}"]
  pager: ["{pager}"]
routes:
  - channels: [chat]
    escalate:
      - {after: 5s, channels: [pager]}
checks:
  - name: shop
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
"""


def on(receiver: Receiver, path: str) -> list[str]:
    return [x.json()["title"] for x in receiver.exchanges()
            if x.accepted and x.request.path == f"/{path}"]


def start(agents: Agents, receiver: Receiver, tmp_path: Path) -> tuple[Path, AgentProcess]:
    flag = tmp_path / "flag"
    flag.write_text("0")
    agent = agents.start(CONFIG, flag=flag, chat=receiver.url("chat"),
                         pager=receiver.url("pager"))
    agent.wait_for_first_cycle()
    return flag, agent


def test_an_unanswered_incident_reaches_the_pager_which_hears_its_end(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag, agent = start(agents, receiver, tmp_path)
    flag.write_text("2")
    wait_until(lambda: on(receiver, "chat"), what="the chat message")
    assert on(receiver, "pager") == []
    paged = wait_until(lambda: on(receiver, "pager"), timeout=40, what="the escalation")
    assert paged[0].startswith("UNANSWERED CRITICAL e2e-host shop: open for")
    flag.write_text("0")
    wait_until(lambda: len(on(receiver, "pager")) == 2, what="the resolve on the pager")
    assert on(receiver, "pager")[1].startswith("RESOLVED")
    assert agent.stop() == 0


def test_an_incident_acknowledged_in_time_is_not_escalated(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag, agent = start(agents, receiver, tmp_path)
    flag.write_text("2")
    wait_until(lambda: on(receiver, "chat"), what="the chat message")
    listed = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)
    incident = listed["incidents"][0]["id"]
    out = cli("ack", incident, "--by", "alice", "-c", str(agents.config))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: agent.log().count("check shop: CRITICAL") >= 13,
               timeout=60, what="time past the escalation")
    assert on(receiver, "pager") == []
    assert agent.stop() == 0
