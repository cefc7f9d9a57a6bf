"""A real agent: a parent check and five dependents fail in the same moment; one page is
sent, naming the dependents; when the parent recovers, a dependent that still fails is
announced on its own, and the ones that recovered with it send nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CHILDREN = ["web", "api", "shop", "cart", "search"]
CHECK = """\
  - name: {name}
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flags}/{name})']
"""


def config(flags: Path) -> str:
    text = AGENT + '  listen: "{listen}"\nchannels:\n  hook: ["{url}"]\nchecks:\n'
    text += CHECK.format(name="gateway", flags=flags)
    for child in CHILDREN:
        text += CHECK.format(name=child, flags=flags) + "    depends_on: [gateway]\n"
        (flags / child).write_text("0")
    (flags / "gateway").write_text("0")
    return text


def titles(receiver: Receiver) -> list[str]:
    return [m["title"] for m in receiver.messages()]


def test_one_root_problem_is_one_page(agents: Agents, receiver: Receiver,
                                      tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    agent = agents.start(config(flags))
    agent.wait_for_first_cycle()
    for name in ["gateway", *CHILDREN]:  # the network goes: everything fails at once
        (flags / name).write_text("2")
    receiver.wait_for(1)
    for child in CHILDREN:
        agent.wait_for_log(f"alert FIRING e2e-host/{child}/status")
    wait_until(lambda: agent.log().count("check gateway: CRITICAL") >= 4, timeout=30,
               what="a few more runs")
    assert len(titles(receiver)) == 1 and "gateway" in titles(receiver)[0]
    assert "depends on gateway, which is failing" in agent.log()
    metrics = httpx.get(f"http://{agents.listen}/metrics", timeout=5).text
    assert 'watchkeeper_alerts_held_total{check="web",reason="dependency"} 1' in metrics
    assert 'watchkeeper_incidents_opened_total{check="gateway"} 1' in metrics
    # The incident log holds the dependents under the gateway's incident.
    listed = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)
    by_check = {i["check"]: i for i in listed["incidents"]}
    assert sorted(by_check["gateway"]["related"]) == sorted(CHILDREN)
    assert all(by_check[c]["under"] == by_check["gateway"]["id"] for c in CHILDREN)
    report = cli("report", "--json", "-c", str(agents.config)).stdout
    assert json.loads(report)["total"]["held"] == {"dependency": len(CHILDREN)}

    # The gateway recovers; so do all but one of its dependents.
    for name in ["gateway", *CHILDREN[:-1]]:
        (flags / name).write_text("0")
    wait_until(lambda: any("search" in t for t in titles(receiver)), timeout=60,
               what="the dependent that still fails, on its own")
    wait_until(lambda: any(t.startswith("RESOLVED") and "gateway" in t
                           for t in titles(receiver)), what="the gateway's resolve")
    later = [t for t in titles(receiver) if "gateway" not in t]
    assert len(later) == 1 and later[0].startswith("CRITICAL e2e-host search")
    assert agent.stop() == 0


def test_a_circle_of_dependencies_is_a_config_error(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "checks:\n"
        "  - {name: a, kind: cpu, depends_on: [b]}\n"
        "  - {name: b, kind: cpu, depends_on: [a]}\n"
        "  - {name: c, kind: cpu, depends_on: [nope]}\n")
    out = cli("validate", "-c", str(config_file))
    assert out.returncode == 2
    assert "dependencies go round in a circle: a -> b -> a" in out.stderr
    assert "no check is named 'nope'" in out.stderr
