"""The agent under a service manager: one agent per state, and the sd_notify sequence
(READY once running, STATUS kept current, STOPPING on SIGTERM) on a test-owned socket."""

from __future__ import annotations

import itertools
import signal
import socket
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, cli

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          host: svc-host
          state_dir: {tmp_path / "state"}
        checks:
          - name: load
            kind: load
            interval: 1s
        """))
    return config


def test_a_second_agent_on_one_state_exits_2_naming_the_first(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = AgentProcess(config, tmp_path / "first.log")
    try:
        first.wait_for_log("first check cycle complete")
        second = cli("run", "-c", str(config), timeout=30)
        assert second.returncode == 2
        assert f"another agent (pid {first.proc.pid}) is running on " \
               f"{tmp_path / 'state'}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert first.stop() == 0
    # Once the first is gone, the state is free again.
    again = AgentProcess(config, tmp_path / "again.log")
    try:
        again.wait_for_log("first check cycle complete")
    finally:
        assert again.stop() == 0


def test_ready_status_and_stopping_are_sent_in_order(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    agent = AgentProcess(config, tmp_path / "agent.log", env={"NOTIFY_SOCKET": path})
    try:
        messages = [sock.recv(4096).decode()]
        assert messages[0].startswith("READY=1\nSTATUS=1 checks, 0 alerts open, 0 queued")
        agent.proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages[-1]:
            messages.append(sock.recv(4096).decode())
        code = agent.proc.wait(30)
    finally:
        agent.stop()
        sock.close()
    assert code == 0
    assert sum("READY=1" in m for m in messages) == 1


STALLER = '''
import time
from typing import ClassVar

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult


class StallOptions(CheckOptions):
    pass


class Staller(Check[StallOptions]):
    """Blocks the whole event loop (a buggy plugin doing blocking I/O)."""

    kind = "staller"
    Options: ClassVar[type[CheckOptions]] = StallOptions

    async def run(self, ctx: CheckContext) -> CheckResult:
        time.sleep(3)
        return CheckResult.ok("woke up")
'''


def test_watchdog_pings_stop_while_the_loop_is_stalled_and_resume(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "staller-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "staller_check.py").write_text(STALLER)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: staller\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[watchkeeper.checks]\n"
                                           "staller = staller_check:Staller\n")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          host: svc-host
          state_dir: {tmp_path / "state"}
        checks:
          - name: stall
            kind: staller
            interval: 30s
            timeout: 10s
        """))
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "PYTHONPATH": str(site)}
    agent = AgentProcess(config, tmp_path / "agent.log", env=env)
    pings: list[float] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ("woke up" in agent.log()
                                                   and len(pings) >= 3 and _after(pings, 3)):
            if "WATCHDOG=1" in sock.recv(4096).decode():
                pings.append(time.monotonic())
    finally:
        agent.stop()
        sock.close()
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    # Every half second while the loop runs; nothing for the 3 s it is blocked.
    assert max(gaps) >= 2.5, gaps
    assert sorted(gaps)[len(gaps) // 2] < 1.0, gaps
    assert pings[-1] - pings[gaps.index(max(gaps)) + 1] >= 0.9  # it pings again after


def _after(pings: list[float], n: int) -> bool:
    """Whether ``n`` pings followed the longest gap so far."""
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    return bool(gaps) and max(gaps) >= 2.5 and len(pings) - (gaps.index(max(gaps)) + 1) > n
