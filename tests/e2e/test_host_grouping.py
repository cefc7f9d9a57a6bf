"""A real agent: four checks of one host fail within a few seconds, without any declared
dependency; one message says so, naming the others and which one opened first, and the
incident log holds them under one incident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CHECKS = ["web", "api", "shop", "mail"]
CHECK = """\
  - name: {name}
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flags}/{name})']
"""


def config(flags: Path) -> str:
    text = AGENT.replace("group_window: 0s", "group_window: 3s")
    text += 'channels:\n  hook: ["{url}"]\nchecks:\n'
    for name in CHECKS:
        text += CHECK.format(name=name, flags=flags)
        (flags / name).write_text("0")
    return text


def test_alerts_of_one_host_opening_together_are_one_message_and_one_incident(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    agent = agents.start(config(flags))
    agent.wait_for_first_cycle()
    (flags / "web").write_text("2")
    agent.wait_for_log("alert FIRING e2e-host/web/status")
    for name in CHECKS[1:]:  # the others follow within the window
        (flags / name).write_text("2")
    for name in CHECKS[1:]:
        agent.wait_for_log(f"alert FIRING e2e-host/{name}/status")
    receiver.wait_for(1)
    wait_until(lambda: agent.log().count("check web: CRITICAL") >= 6, timeout=30,
               what="a few more runs after the window")
    (message,) = receiver.messages()
    assert message["title"].startswith("CRITICAL e2e-host web: ")
    assert message["title"].endswith("(and 3 more alerts)")
    (line,) = [x for x in message["message"].splitlines() if x.startswith("Opened with it")]
    assert line.startswith("Opened with it: 3 more alerts of e2e-host (")
    assert line.endswith("), held under this incident; web opened first")
    assert all(name in line for name in CHECKS[1:])

    listed = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)["incidents"]
    by_check = {i["check"]: i for i in listed}
    first = by_check["web"]
    assert sorted(first["related"]) == ["api", "mail", "shop"]
    assert all(by_check[c]["under"] == first["id"] for c in CHECKS[1:])
    report = cli("report", "-c", str(agents.config)).stdout
    assert "GROUPED" in report

    # Everything recovers: the one incident that was announced is resolved, once.
    for name in CHECKS:
        (flags / name).write_text("0")
    receiver.wait_for(2)
    for name in CHECKS[1:]:
        agent.wait_for_log(f"alert RESOLVED e2e-host/{name}/status")
    titles = [m["title"] for m in receiver.messages()]
    assert len(titles) == 2 and titles[1].startswith("RESOLVED e2e-host web")
    assert agent.stop() == 0


def _checks(flags: Path, names: list[str]) -> str:
    text = ""
    for name in names:
        text += CHECK.format(name=name, flags=flags)
        (flags / name).write_text("0")
    return text


def test_a_critical_opening_after_a_warning_still_reaches_the_critical_only_channel(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    """Routes {pager, severity: [critical]} + {js}: y WARNING, then z CRITICAL within the
    window. z is not held under y (whose message goes to js only): the pager hears of z
    while y stays open."""
    flags = tmp_path / "flags"
    flags.mkdir()
    text = AGENT.replace("group_window: 0s", "group_window: 3s")
    text += (f'channels:\n  pager: ["{receiver.url("pager")}"]\n'
             f'  js: ["{receiver.url("js")}"]\n'
             "routes:\n  - {channels: [pager], severity: [critical]}\n"
             "  - {channels: [js]}\nchecks:\n" + _checks(flags, ["y", "z"]))
    agent = agents.start(text)
    agent.wait_for_first_cycle()
    (flags / "y").write_text("1")
    agent.wait_for_log("alert FIRING e2e-host/y/status")
    (flags / "z").write_text("2")
    agent.wait_for_log("alert FIRING e2e-host/z/status")
    wait_until(lambda: any(x.request.path == "/pager" for x in receiver.exchanges()),
               timeout=20, what="a page to the critical-only channel")
    paged = [x.json()["title"] for x in receiver.exchanges() if x.request.path == "/pager"]
    assert paged and paged[0].startswith("CRITICAL e2e-host z: ")
    receiver.wait_for(3)
    to_js = sorted(x.json()["title"] for x in receiver.exchanges() if x.request.path == "/js")
    assert [t.split(":")[0] for t in to_js] == ["CRITICAL e2e-host z", "WARNING e2e-host y"]
    assert not any("more alert" in t for t in [*paged, *to_js])
    assert agent.stop() == 0


def test_when_the_first_resolves_each_of_the_others_is_announced_on_its_own(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    """README: the first's resolve names those still failing, which are then announced on
    their own (not regrouped under the next earliest, which would name the others)."""
    flags = tmp_path / "flags"
    flags.mkdir()
    names = ["web", "api", "shop"]
    text = AGENT.replace("group_window: 0s", "group_window: 3s")
    text += 'channels:\n  hook: ["{url}"]\nchecks:\n' + _checks(flags, names)
    agent = agents.start(text)
    agent.wait_for_first_cycle()
    (flags / "web").write_text("2")
    agent.wait_for_log("alert FIRING e2e-host/web/status")
    for name in names[1:]:
        (flags / name).write_text("2")
    (grouped,) = receiver.wait_for(1)
    assert grouped["title"].endswith("(and 2 more alerts)")
    (flags / "web").write_text("0")
    messages = receiver.wait_for(4)
    titles = [m["title"] for m in messages]
    assert titles[1].startswith("RESOLVED e2e-host web")
    assert sorted(t.split(":")[0] for t in titles[2:]) == ["CRITICAL e2e-host api",
                                                          "CRITICAL e2e-host shop"]
    assert not any("more alert" in t for t in titles[2:])
    wait_until(lambda: agent.log().count("check api: CRITICAL") >= 8, timeout=30,
               what="a few more runs")
    assert len(receiver.messages()) == 4
    assert agent.stop() == 0
