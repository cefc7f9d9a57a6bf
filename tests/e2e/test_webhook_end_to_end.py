"""The versioned webhook as a user runs it: a real agent process posting to a real
receiver that validates every body against the schema and checks its signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli
from tests.servers.webhook_receiver import SchemaReceiver

pytestmark = pytest.mark.slow

SECRET = "E2eWebh00kSecret77"

CONFIG = AGENT + """channels:
  hook: "{hook}?secret=${file:{secret}}"
checks:
  - name: mem
    kind: memory
    runbook: https://wiki.example.com/memory
    tags: [infra]
    thresholds:
      used_percent: {crit: "{limit}"}
"""


@pytest.fixture
def hook() -> Iterator[SchemaReceiver]:
    with SchemaReceiver(secret=SECRET) as r:
        yield r


def test_a_firing_and_its_resolve_arrive_as_signed_v1_documents(
        agents: Agents, hook: SchemaReceiver, tmp_path: Path) -> None:
    secret = tmp_path / "hook.secret"
    secret.write_text(SECRET + "\n")
    values = {"hook": hook.webhook_url("alerts"), "secret": str(secret)}
    agent = agents.start(CONFIG, limit="> 0", hook=values["hook"], secret=values["secret"])
    (firing,) = hook.wait_for(1)
    agent.wait_for_first_cycle()
    assert agent.stop() == 0
    assert hook.invalid == []
    assert (firing["event"], firing["status"], firing["severity"]) == (
        "firing", "firing", "critical")
    assert (firing["host"], firing["check"], firing["kind"], firing["metric"]) == (
        "e2e-host", "mem", "memory", "used_percent")
    assert (firing["threshold"], firing["runbook"], firing["tags"]) == (
        "> 0%", "https://wiki.example.com/memory", ["infra"])
    assert isinstance(firing["value"], float) and firing["key"].endswith(":1")

    agent = agents.start(CONFIG, limit="> 100", hook=values["hook"], secret=values["secret"])
    docs = hook.wait_for(2)
    assert agent.stop() == 0
    resolved = docs[1]
    assert hook.invalid == []
    assert (resolved["event"], resolved["status"], resolved["severity"]) == (
        "resolved", "resolved", "critical")
    assert resolved["incident"] == firing["incident"]
    assert resolved["started_at"] == firing["started_at"]
    assert resolved["resolved_at"] is not None
    for run in agents.started:
        assert SECRET not in run.log()


def test_notify_test_sends_a_valid_test_document_and_a_test_alert(
        agents: Agents, hook: SchemaReceiver, tmp_path: Path) -> None:
    from tests.servers import alertmanager

    with alertmanager.running(tmp_path) as am:
        config = agents.write_config("""
agent: {host: web1, state_dir: {state}}
channels:
  hook: ["{hook}?secret={secret}"]
  am: ["{am}"]
  down: ["webhook+http://127.0.0.1:1/nothing-here?secret={secret}"]
""", hook=hook.webhook_url(), secret=SECRET, am=am.url())
        out = cli("notify", "test", "-c", str(config))
        assert out.returncode == 1, out.stderr
        (doc,) = hook.wait_for(1)
        assert hook.invalid == []
        assert (doc["event"], doc["host"], doc["status"]) == ("test", "web1", "resolved")
        (alert,) = am.wait_for(lambda a: len(a) == 1)
        assert alert["labels"] == {"alertname": "WatchkeeperTest", "host": "web1",
                                   "severity": "info"}
        lines = out.stdout.splitlines()
        assert any(line.startswith("hook: sent to webhook+http://127.0.0.1") for line in lines)
        assert any(line.startswith("am: sent to alertmanager://127.0.0.1") for line in lines)
        assert any(line.startswith("down: FAILED webhook+http://127.0.0.1:1/") for line in lines)
        assert SECRET not in out.stdout + out.stderr
