"""SIGTERM against a receiver that never answers: the drain is bounded, a second SIGTERM
ends it at once, the agent exits 0 both times, and the notification stays queued. A stray
SIGUSR2 is said and ignored; SIGQUIT stops as SIGTERM does."""

from __future__ import annotations

import signal
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, outbox

pytestmark = pytest.mark.slow


@pytest.fixture
def silent_receiver() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for s in held:
        s.close()
    server.close()


def start(tmp_path: Path, port: int, drain: str) -> AgentProcess:
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          host: e2e-host
          state_dir: {tmp_path / "state"}
          group_window: 0s
          shutdown_drain: {drain}
        channels:
          hook: ["json://127.0.0.1:{port}/hook"]
        checks:
          - name: bad
            kind: command
            command: [/bin/false]
            interval: 1s
        """))
    agent = AgentProcess(config, tmp_path / "agent.log")
    agent.wait_for_log("alert FIRING e2e-host/bad/status")
    time.sleep(0.5)  # the dispatcher is now waiting on the silent receiver
    return agent


def unsent(tmp_path: Path) -> int:
    return sum(1 for r in outbox(tmp_path / "state") if r["sent_at"] is None)


def test_the_drain_on_sigterm_is_bounded_and_keeps_what_it_could_not_send(
        tmp_path: Path, silent_receiver: int) -> None:
    agent = start(tmp_path, silent_receiver, "2s")
    began = time.monotonic()
    code = agent.stop(signal.SIGTERM, timeout=30)
    took = time.monotonic() - began
    assert code == 0
    assert took < 15, took
    assert unsent(tmp_path) == 1
    assert "still queued" in agent.log() or "stopping at once" in agent.log()


def test_a_second_sigterm_exits_at_once(tmp_path: Path, silent_receiver: int) -> None:
    agent = start(tmp_path, silent_receiver, "5m")
    agent.proc.send_signal(signal.SIGTERM)
    agent.wait_for_log("scheduler stats")  # the first has begun the drain
    began = time.monotonic()
    code = agent.stop(signal.SIGTERM, timeout=30)
    assert code == 0
    assert time.monotonic() - began < 10
    assert "stopping at once" in agent.log()
    assert unsent(tmp_path) == 1


def test_a_sighup_while_stopping_reloads_nothing(tmp_path: Path, silent_receiver: int) -> None:
    agent = start(tmp_path, silent_receiver, "5m")
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("agent:\n", "agent:\n  listen: 127.0.0.1:0\n")
                      + "  - name: added\n    kind: command\n    command: [/bin/true]\n")
    agent.proc.send_signal(signal.SIGTERM)
    agent.wait_for_log("scheduler stats")  # the drain has begun
    agent.proc.send_signal(signal.SIGHUP)
    agent.wait_for_log("config reload not done: the agent is stopping")
    assert agent.stop(signal.SIGTERM, timeout=30) == 0
    log = agent.log()
    assert "config reloaded" not in log and "reloading the configuration failed" not in log
    assert "listening on" not in log and "check added" not in log
    assert unsent(tmp_path) == 1


def test_sigusr2_is_said_and_ignored_and_sigquit_stops_cleanly(
        tmp_path: Path, silent_receiver: int) -> None:
    agent = start(tmp_path, silent_receiver, "1s")
    agent.proc.send_signal(signal.SIGUSR2)
    agent.wait_for_log("SIGUSR2 ignored")
    assert agent.proc.poll() is None  # still running
    assert agent.stop(signal.SIGQUIT, timeout=30) == 0
    assert "watchkeeper stopped" in agent.log()
    assert "Traceback" not in agent.log()
