"""The agent as a user runs it: a real process, a real HTTP receiver, restarts and kill -9."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, outbox, wait_until
from tests.e2e.receiver import Receiver
from tests.ports import free_port

pytestmark = pytest.mark.slow


def _config(tmp: Path, url: str, limit: str, name: str = "config.yaml") -> Path:
    path = tmp / name
    path.write_text(f"""
agent:
  host: e2e-host
  state_dir: {tmp / 'state'}
  interval: 1s
  timeout: 5s
channels:
  hook: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {{crit: "{limit}"}}
""")
    return path




@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def _key(message: dict[str, object]) -> str:
    m = re.search(r"key: (\S+)", str(message["message"]))
    assert m, message
    return m.group(1)


def _incident(message: dict[str, object]) -> str:
    m = re.search(r"incident: (\S+)", str(message["message"]))
    assert m, message
    return m.group(1)


def test_one_firing_then_one_resolve_across_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    agent = AgentProcess(_config(tmp_path, receiver.url, "> 0"), tmp_path / "agent.log")
    try:
        (firing,) = receiver.wait_for(1)
        agent.wait_for_log("first check cycle complete")
        time.sleep(3)  # several more runs: still only one message
    finally:
        assert agent.stop() == 0
    assert len(receiver.snapshot()) == 1
    assert "CRITICAL" in str(firing["title"]) and "e2e-host" in str(firing["title"])
    assert "used_percent" in str(firing["message"])

    # Restarted with a limit the value cannot breach: the open alert resolves, once.
    agent = AgentProcess(_config(tmp_path, receiver.url, "> 100"), tmp_path / "agent.log")
    try:
        msgs = receiver.wait_for(2)
        time.sleep(3)
    finally:
        assert agent.stop() == 0
    msgs = receiver.snapshot()
    assert len(msgs) == 2, msgs
    resolved = msgs[1]
    assert "RESOLVED" in str(resolved["title"])
    assert _incident(resolved) == _incident(firing)
    assert _key(resolved) != _key(firing)


def test_restart_while_firing_sends_nothing_again(tmp_path: Path, receiver: Receiver) -> None:
    config = _config(tmp_path, receiver.url, "> 0")
    for _ in range(2):
        agent = AgentProcess(config, tmp_path / "agent.log")
        try:
            receiver.wait_for(1)
            agent.wait_for_log("first check cycle complete")
            time.sleep(2)
        finally:
            assert agent.stop() == 0
    assert len(receiver.snapshot()) == 1


def test_a_notification_queued_while_the_receiver_is_down_survives_kill_9(
        tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(port)
    url = f"json://127.0.0.1:{port}/hook"
    config = _config(tmp_path, url, "> 0")
    state = tmp_path / "state"

    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        rows = wait_until(lambda: [r for r in outbox(state) if r["attempts"] >= 1]
                          if (state / "state.db").exists() else None,
                          what="a failed delivery attempt")
    finally:
        agent.kill()
    assert rows[0]["sent_at"] is None
    queued_key = rows[0]["dedup_key"]

    receiver.start()
    try:
        agent = AgentProcess(config, tmp_path / "agent.log")
        try:
            (msg,) = receiver.wait_for(1)
            time.sleep(3)
        finally:
            assert agent.stop() == 0
        assert len(receiver.snapshot()) == 1
        assert _key(msg) == queued_key
        assert [r["sent_at"] is not None for r in outbox(state)] == [True]
    finally:
        receiver.stop()


def test_status_lists_the_open_alert(tmp_path: Path, receiver: Receiver) -> None:
    from tests.e2e.agent_process import cli

    config = _config(tmp_path, receiver.url, "> 0")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        receiver.wait_for(1)
    finally:
        agent.stop()
    out = cli("status", "-c", str(config), "--json")
    assert out.returncode == 0, out.stderr
    alerts = json.loads(out.stdout)["alerts"]
    assert [a["key"] for a in alerts] == ["e2e-host/mem/used_percent"]
    assert alerts[0]["severity"] == "critical"


def test_the_agent_logs_its_scheduler_totals_on_sigusr1_and_at_exit(
        tmp_path: Path, receiver: Receiver) -> None:
    import signal

    agent = AgentProcess(_config(tmp_path, receiver.url, "> 1000"), tmp_path / "agent.log")
    try:
        agent.wait_for_log("first check cycle complete")
        agent.proc.send_signal(signal.SIGUSR1)
        agent.wait_for_log("scheduler stats: ")
    finally:
        assert agent.stop() == 0
    lines = [ln for ln in agent.log().splitlines() if "scheduler stats: " in ln]
    assert len(lines) == 2
    stats = json.loads(lines[-1].split("scheduler stats: ", 1)[1])
    assert stats["runs"] >= 1 and stats["skipped"] == 0


def test_removing_a_checks_config_resolves_its_open_alert(tmp_path: Path,
                                                          receiver: Receiver) -> None:
    config = _config(tmp_path, receiver.url, "> 0")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        (firing,) = receiver.wait_for(1)
    finally:
        agent.stop()
    config.write_text(config.read_text().replace("- name: mem", "- name: memory"))
    config.write_text(config.read_text().replace('{crit: "> 0"}', '{crit: "> 1000"}'))
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        msgs = receiver.wait_for(2)
        time.sleep(2)
    finally:
        agent.stop()
    assert len(receiver.snapshot()) == 2
    assert "RESOLVED e2e-host mem" in str(msgs[1]["title"])
    assert "check no longer configured" in str(msgs[1]["message"])
    assert _incident(msgs[1]) == _incident(firing)
