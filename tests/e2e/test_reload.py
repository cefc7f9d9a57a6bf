"""Reload on SIGHUP against a real agent and a real receiver: a broken file changes
nothing and is reported; a good one applies without a restart, without a duplicate and
without a lost notification; SIGHUP never kills the agent."""

from __future__ import annotations

import signal
import socket
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.agent_process import AgentProcess
from tests.ports import free_port
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CHECK = """\
  - name: {name}
    kind: command
    command: [{command}]
    interval: {interval}
"""


def write(path: Path, tmp: Path, url: str, port: int, checks: str) -> None:
    path.write_text(textwrap.dedent(f"""\
        agent:
          host: e2e-host
          state_dir: {tmp / "state"}
          group_window: 0s
          listen: 127.0.0.1:{port}
        channels:
          hook: ["{url}"]
        checks:
        """) + checks)


def check(name: str, command: str, interval: str = "1s") -> str:
    return CHECK.format(name=name, command=command, interval=interval)


def fates(receiver: Receiver) -> Counter[tuple[str, str]]:
    """(first word of the title, check) of every message received."""
    out: Counter[tuple[str, str]] = Counter()
    for m in receiver.messages():
        words = str(m["title"]).split()
        out[(words[0], words[2].rstrip(":"))] += 1
    return out


def wait_until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def notify_lines(sock: socket.socket) -> list[str]:
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        return out
    finally:
        sock.setblocking(True)


def test_sighup_with_a_broken_then_a_good_config(tmp_path: Path, receiver: Receiver) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    write(config, tmp_path, receiver.url(), port,
          check("steady", "/bin/true") + check("bad", "/bin/false"))
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    agent = AgentProcess(config, tmp_path / "agent.log", env={"NOTIFY_SOCKET": notify_path})
    try:
        receiver.wait_for(1)
        assert fates(receiver) == {("WARNING", "bad"): 1}

        # A broken file: nothing changes, and the agent says so everywhere.
        config.write_text(config.read_text().replace("kind: command", "kind: comand", 1)
                          + "  - name: x\n    kind: disk\n    interval: never\n")
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for_log("config reload failed at")
        log = agent.log()
        assert "kind: unknown check kind 'comand'" in log and "config.yaml:" in log
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 503
        assert "config reload failed at" in health.json()["problems"][0]
        time.sleep(1.5)
        assert agent.proc.poll() is None
        assert fates(receiver) == {("WARNING", "bad"): 1}

        # A good file: "bad" changes (its alert state is kept: no new message), "worse"
        # starts, "steady" keeps running untouched.
        write(config, tmp_path, receiver.url(), port,
              check("steady", "/bin/true") + check("bad", "/bin/false", "2s")
              + check("worse", "/bin/false"))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for_log("config reloaded at")
        assert "1 check added, 0 removed, 1 changed, 1 unchanged" in agent.log()
        wait_until(lambda: fates(receiver)[("WARNING", "worse")] == 1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

        # "bad" removed: its open alert resolves.
        write(config, tmp_path, receiver.url(), port,
              check("steady", "/bin/true") + check("worse", "/bin/false"))
        agent.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: fates(receiver)[("RESOLVED", "bad")] == 1)
        time.sleep(2)
        assert fates(receiver) == {("WARNING", "bad"): 1, ("WARNING", "worse"): 1,
                                   ("RESOLVED", "bad"): 1}
        lines = notify_lines(sock)
        reloads = [i for i, m in enumerate(lines) if "RELOADING=1" in m]
        assert len(reloads) == 3
        # Each RELOADING is followed by its READY (STATUS lines may come between).
        readies = [next(m for m in lines[i + 1:] if "READY=1" in m) for i in reloads]
        assert all(lines.index(r) < end for r, end in
                   zip(readies, [*reloads[1:], len(lines)], strict=True))
        assert "config reload failed" in readies[0]
        assert "MONOTONIC_USEC=" in lines[reloads[0]]
    finally:
        code = agent.stop()
        sock.close()
    assert code == 0


def test_a_reload_onto_a_port_in_use_changes_nothing_and_is_reported(
        tmp_path: Path, receiver: Receiver) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    write(config, tmp_path, receiver.url(), port, check("steady", "/bin/true"))
    agent = AgentProcess(config, tmp_path / "agent.log")
    busy = socket.socket()
    try:
        agent.wait_for_log("first check cycle complete")
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        write(config, tmp_path, receiver.url(), taken,
              check("steady", "/bin/true") + check("added", "/bin/true"))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for_log("config reload failed at")
        assert f"cannot listen on 127.0.0.1:{taken}: address already in use" in agent.log()
        # Still listening where it was, and saying the reload failed.
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 503
        assert "config reload failed at" in health.json()["problems"][0]
        assert health.json()["checks"] == 1

        busy.close()
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for_log("config reloaded at")
        health = httpx.get(f"http://127.0.0.1:{taken}/healthz", timeout=5)
        assert (health.status_code, health.json()["checks"]) == (200, 2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        agent.wait_for_log("check added: OK")
    finally:
        busy.close()
        code = agent.stop()
    assert code == 0
    assert "reloading the configuration failed" not in agent.log()
