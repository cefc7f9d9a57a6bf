"""A real agent against a receiver that fails and goes away: per incident, messages
arrive in the order they were decided; a target that was down gets everything queued
for it as soon as it answers, not at each message's own retry time."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, wait_until
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CHECK = """\
  - name: {name}
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flags}/{name})']
"""


def config(names: list[str], flags: Path, retry: str) -> str:
    """The agent's config; ``retry``: its ``agent.retry`` (the waits are the test's)."""
    for name in names:
        (flags / name).write_text("0")
    return (AGENT + f"  retry: {{{retry}}}\n" + 'channels:\n  hook: ["{url}"]\nchecks:\n'
            + "".join(CHECK.format(name=n, flags=flags) for n in names))


def kinds(receiver: Receiver) -> list[str]:
    """FIRING or RESOLVED for each message the receiver accepted, in arrival order."""
    return ["RESOLVED" if "RESOLVED" in x.json()["title"] else "FIRING"
            for x in receiver.exchanges() if x.accepted]


def test_a_resolved_never_arrives_before_its_firing_that_failed_first(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    # The FIRING's retry comes well after its check resolves (a second later).
    agent = agents.start(config(["web"], flags, "first: 6s"))
    agent.wait_for_first_cycle()
    receiver.answer(Reply(503, b"busy\n"))  # the FIRING's first attempt fails
    (flags / "web").write_text("2")
    agent.wait_for_log("failed (attempt 1)")
    (flags / "web").write_text("0")  # resolved long before the FIRING's retry
    agent.wait_for_log("alert RESOLVED")
    receiver.wait_for(2, timeout=60)
    assert kinds(receiver) == ["FIRING", "RESOLVED"]
    assert agent.stop() == 0


def test_after_an_outage_everything_queued_goes_as_soon_as_the_target_answers(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    names = ["a", "b", "c", "d"]
    agent = agents.start(config(names, flags, "first: 1s, cap: 2s"))
    agent.wait_for_first_cycle()
    receiver.stop()
    for name in names:  # four incidents, decided seconds apart, while the target is down
        (flags / name).write_text("2")
        agent.wait_for_log(f"alert FIRING e2e-host/{name}/status")
        time.sleep(2)
    wait_until(lambda: agent.log().count("failed (attempt") >= 2, timeout=60,
               what="two probes of the dead target")
    receiver.start()
    receiver.wait_for(4, timeout=90)
    wait_until(lambda: agent.log().count("sent notification") == 4, timeout=30,
               what="four sends logged")
    log = agent.log()
    sent = re.findall(r"sent notification FIRING e2e-host/(\w)/status .* \(attempt (\d+)\)",
                      log)
    assert sorted(n for n, _ in sent) == names
    # Only the probe was tried while the target was down; the rest waited for it and
    # went on their first attempt once it answered.
    assert sorted(int(a) for _, a in sent)[:3] == [1, 1, 1]
    failures = re.findall(r"sending notification FIRING e2e-host/(\w)/status .* failed", log)
    assert len(set(failures)) == 1
    assert agent.stop() == 0
