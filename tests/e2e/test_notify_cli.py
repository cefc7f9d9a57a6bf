"""`watchkeeper notify test` and the built-in log:// target, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, cli
from tests.e2e.receiver import Receiver

pytestmark = pytest.mark.slow


def test_notify_test_reports_each_channel_and_masks_secrets(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
agent: {{state_dir: {tmp_path / 'state'}}}
channels:
  hook: ["json://bob:s3cretpass@127.0.0.1:{receiver.port}/hook"]
  dead: ["json://alice:t0psecret@127.0.0.1:1/nothing-listens-here"]
""")
        out = cli("notify", "test", "-c", str(config))
        (msg,) = receiver.wait_for(1)
    finally:
        receiver.stop()
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("hook: sent to json://bob:****@127.0.0.1") for line in lines)
    assert any(line.startswith("dead: FAILED json://alice:****@127.0.0.1:1") for line in lines)
    everything = out.stdout + out.stderr
    assert "s3cretpass" not in everything and "t0psecret" not in everything
    assert "test" in str(msg["title"]).lower()

    only = cli("notify", "test", "-c", str(config), "--channel", "nope")
    assert only.returncode == 2
    assert "no channel named nope" in only.stderr


def test_log_target_writes_alerts_to_the_agent_log(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"""
agent: {{host: loghost, state_dir: {tmp_path / 'state'}, interval: 1s}}
channels:
  log: [log://]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {{warn: "> 0"}}
""")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        agent.wait_for_log("NOTIFY")
    finally:
        agent.stop()
    line = next(ln for ln in agent.log().splitlines() if "NOTIFY" in ln)
    assert "WARNING loghost mem" in line and "used_percent" in line
