"""A real agent with ``agent.public_url``: its message carries a signed link; opening it
shows the incident and does nothing else, its button acknowledges (no other credential,
though the listener wants a token for everything else), the channel is told, and once
the incident is resolved the link says so."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.agent_process import AGENT, Agents, cli
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """\
  listen: "{listen}"
  token: s3cret-token-for-the-rest
  public_url: "http://{listen}"
channels:
  chat: ["{url}"]
checks:
  - name: shop
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
"""


def test_the_link_in_a_message_acknowledges_its_incident(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("0")
    agent = agents.start(CONFIG, flag=flag)
    agent.wait_for_first_cycle()
    flag.write_text("2")
    receiver.wait_for(1)
    (firing,) = receiver.messages()
    found = re.search(r"^Acknowledge: (\S+)$", firing["message"], re.MULTILINE)
    assert found is not None
    link = found.group(1)
    assert link.startswith(f"http://{agents.listen}/ack/")
    assert httpx.get(f"http://{agents.listen}/healthz", timeout=5).status_code == 401

    shown = httpx.get(link, timeout=5)  # what a link preview or a mail scanner does
    assert shown.status_code == 200 and '<form method="post">' in shown.text
    assert "CRITICAL e2e-host/shop/status" in shown.text
    listed = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)
    assert [i["acked_at"] for i in listed["incidents"]] == [None]
    forged = httpx.post(link[:-2] + "xx", data={"by": "mallory"}, timeout=5)
    assert forged.status_code == 404

    done = httpx.post(link, data={"by": "alice", "comment": "restarting it"}, timeout=5)
    assert done.status_code == 200 and "Acknowledged" in done.text
    receiver.wait_for(2)
    acked = receiver.messages()[1]
    assert acked["title"].startswith("ACKNOWLEDGED CRITICAL e2e-host shop: by alice")
    incident = firing["message"].rsplit("incident: ", 1)[1].split()[0]
    shown_after = cli("incident", "show", incident, "-c", str(agents.config)).stdout
    assert "acknowledged by alice" in shown_after and "restarting it" in shown_after

    flag.write_text("0")
    receiver.wait_for(3)
    assert receiver.messages()[2]["title"].startswith("RESOLVED e2e-host shop")
    gone = httpx.post(link, data={"by": "bob"}, timeout=5)
    assert gone.status_code == 410 and "no longer open" in gone.text
    assert "s3cret" not in agent.log()
    assert agent.stop() == 0
