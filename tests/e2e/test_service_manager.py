"""The agent under a service manager: one agent per state, and the sd_notify sequence
(READY once running, STATUS kept current, STOPPING on SIGTERM) on a test-owned socket."""

from __future__ import annotations

import signal
import socket
import textwrap
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
