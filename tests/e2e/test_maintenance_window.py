"""A maintenance window in a real agent's config holds back the alerts of the checks it
covers; what still fails when it ends (here: a reload removes it) is announced then."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CHECKS = AGENT + """\
channels:
  hook: ["{url}"]
checks:
  - name: backup-nightly
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
  - name: web
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
"""
WINDOW = """\
maintenance:
  - name: backups
    cron: "* * * * *"
    duration: 1h
    checks: [backup-*]
    reason: weekly full backup
"""


def test_a_window_holds_its_checks_back_and_what_still_fails_is_announced_after(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("0")
    agent = agents.start(CHECKS + WINDOW, flag=flag)
    agent.wait_for_first_cycle()
    listing = cli("maintenance", "-c", str(agents.config))
    assert listing.returncode == 0, listing.stderr
    assert "backups (weekly full backup): 1h over backup-nightly" in listing.stdout
    assert "holding now" in listing.stdout

    flag.write_text("2")
    agent.wait_for_log("silenced by maintenance window backups")
    receiver.wait_for(1)  # web is not covered: announced at once
    agent.wait_for_log("check web: CRITICAL")
    assert [m["title"].split()[2] for m in receiver.messages()] == ["web:"]

    # The window goes (as when it ends): what still fails is announced within a release.
    agents.write_config(CHECKS, flag=flag)
    agent.proc.send_signal(signal.SIGHUP)
    agent.wait_for_log("config reloaded")
    wait_until(lambda: len(receiver.messages()) == 2, timeout=40, what="the release")
    assert "backup-nightly" in receiver.messages()[1]["title"]
    assert agent.stop() == 0
