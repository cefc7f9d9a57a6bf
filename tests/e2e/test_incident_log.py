"""The incident log of a real agent: an outage and its recovery become one incident with
its timeline and its figures, shown by ``incidents``, ``incident show`` and ``report``,
and kept across a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """\
channels:
  hook: ["{url}"]
checks:
  - name: shop
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
    runbook: "https://wiki.example/shop-down: restart the shop service"
"""


def listed(config: Path) -> list[dict[str, object]]:
    out = cli("incidents", "--json", "-c", str(config))
    assert out.returncode == 0, out.stderr
    found: list[dict[str, object]] = json.loads(out.stdout)["incidents"]
    return found


def test_an_outage_is_one_incident_with_its_timeline_and_figures(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("0")
    agent = agents.start(CONFIG, flag=flag)
    agent.wait_for_first_cycle()
    flag.write_text("2")
    (firing,) = receiver.wait_for(1)
    assert "Runbook: https://wiki.example/shop-down: restart the shop service" in \
        firing["message"]
    opened = wait_until(lambda: listed(agents.config), what="the incident recorded")
    assert opened[0]["resolved_at"] is None and opened[0]["worst"] == "critical"
    flag.write_text("0")
    receiver.wait_for(2)
    agent.wait_for_log("sent notification RESOLVED")

    def closed() -> list[dict[str, object]]:
        found = listed(agents.config)
        return found if found and found[0]["notifications"] == 2 else []

    (incident,) = wait_until(closed, what="the incident closed with both deliveries")
    assert incident["resolved_at"] is not None and incident["check"] == "shop"
    assert incident["first_notified_at"] is not None
    assert incident["first_bad_at"] <= incident["first_notified_at"]

    show = cli("incident", "show", str(incident["id"])[:8], "-c", str(agents.config))
    assert show.returncode == 0, show.stderr
    lines = show.stdout
    for words in ("opened", "notified", "resolved", "detected in", "FIRING delivered to hook",
                  "runbook: https://wiki.example/shop-down"):
        assert words in lines
    assert agent.stop() == 0

    # Kept across a restart, and counted in the report.
    again = agents.start()
    again.wait_for_first_cycle()
    report = json.loads(cli("report", "--json", "-c", str(agents.config)).stdout)
    assert report["total"]["incidents"] == 1 and report["total"]["notifications"] == 2
    assert report["total"]["detect"]["count"] == 1
    assert report["checks"][0]["check"] == "shop"
    text = cli("report", "-c", str(agents.config)).stdout
    assert "shop" in text and "(all)" in text and "bad samples became 2" in text
    missing = cli("incident", "show", "nope", "-c", str(agents.config))
    assert missing.returncode == 2 and "no incident 'nope'" in missing.stderr
    assert again.stop() == 0


ACK_CONFIG = AGENT + """\
defaults:
  repeat_interval: 2s
channels:
  hook: ["{url}"]
checks:
  - name: shop
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
"""


def test_an_acknowledged_incident_stops_reminding_and_says_who_is_on_it(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("2")
    agent = agents.start(ACK_CONFIG, flag=flag)
    agent.wait_for_first_cycle()
    wait_until(lambda: any("STILL" in m["title"] for m in receiver.messages()),
               what="a reminder")
    (incident,) = listed(agents.config)
    prefix = str(incident["id"])[:6]
    out = cli("ack", prefix, "--by", "alice", "--comment", "restarting it",
              "-c", str(agents.config))
    assert out.returncode == 0, out.stderr
    assert f"incident {incident['id']}" in out.stdout and "acknowledged by alice" in out.stdout
    acked = wait_until(lambda: [m for m in receiver.messages()
                                if m["title"].startswith("ACKNOWLEDGED")], what="the ack")
    assert "by alice: restarting it" in acked[0]["title"]
    agent.wait_for_log("(not sent: the incident is acknowledged)")
    count = len(receiver.messages())
    agent.wait_for_log("(not sent: the incident is acknowledged)", timeout=10)
    flag.write_text("0")
    wait_until(lambda: any(m["title"].startswith("RESOLVED") for m in receiver.messages()),
               what="the resolve")
    titles = [m["title"] for m in receiver.messages()[count:]]
    assert not any("STILL" in t for t in titles)  # no reminder after the ack

    again = cli("ack", prefix, "-c", str(agents.config))
    assert again.returncode == 2 and "resolved already" in again.stderr

    def recorded() -> dict[str, object]:
        (found,) = listed(agents.config)
        return found if found["resolved_at"] is not None and found["acked_by"] else {}

    done = wait_until(recorded, what="the ack in the record")
    assert done["acked_by"] == "alice" and done["ack_comment"] == "restarting it"
    report = json.loads(cli("report", "--json", "-c", str(agents.config)).stdout)
    assert report["total"]["acknowledge"]["count"] == 1
    assert agent.stop() == 0


def test_ack_without_a_running_agent_says_there_is_nothing_to_acknowledge(
        agents: Agents, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("0")
    agents.write_config(CONFIG, flag=flag)
    out = cli("ack", "abc", "-c", str(agents.config))
    assert out.returncode == 2 and "no agent is running" in out.stderr
    assert "Traceback" not in out.stderr
