"""`watchkeeper notify test` and the built-in log:// target, as a user runs them."""

from __future__ import annotations

import pytest

from tests.e2e.agent_process import Agents, cli
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow


def test_notify_test_reports_each_channel_and_masks_secrets(agents: Agents,
                                                            receiver: Receiver) -> None:
    config = agents.write_config("""
agent: {state_dir: {state}}
channels:
  hook: ["{hook}"]
  dead: ["json://alice:t0psecret@127.0.0.1:1/nothing-listens-here"]
""", hook=receiver.url(auth="bob:s3cretpass@"))
    out = cli("notify", "test", "-c", str(config))
    (msg,) = receiver.wait_for(1)
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


def test_a_channel_named_twice_is_tested_once(agents: Agents, receiver: Receiver) -> None:
    config = agents.write_config("""
agent: {state_dir: {state}}
channels:
  hook: ["{hook}"]
""", hook=receiver.url())
    out = cli("notify", "test", "-c", str(config), "--channel", "hook", "--channel", "hook")
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("hook: sent to") == 1
    assert len(receiver.wait_for(1)) == 1  # the command sent all it sends before it exited


def test_a_url_typed_as_a_channel_name_is_shown_masked(agents: Agents) -> None:
    config = agents.write_config("agent: {state_dir: {state}}\nchannels:\n  log: [log://]\n")
    out = cli("notify", "test", "-c", str(config),
              "--channel", "mailtos://user:PASSW0RDx@mail.example.com")
    assert out.returncode == 2
    assert "PASSW0RDx" not in out.stdout + out.stderr
    assert "no channel named mailtos://user:****@mail.example.com" in out.stderr
    assert "not a URL" in out.stderr


def test_log_target_writes_alerts_to_the_agent_log(agents: Agents) -> None:
    agent = agents.start("""
agent: {host: loghost, state_dir: {state}, interval: 1s, group_window: 0s}
channels:
  log: [log://]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {warn: "> 0"}
""")
    agent.wait_for_log("NOTIFY")
    agent.stop()
    line = next(ln for ln in agent.log().splitlines() if "NOTIFY" in ln)
    assert "WARNING loghost mem" in line and "used_percent" in line
