"""``group_wait`` as a user meets it: two checks breach at once, ONE message arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, outbox
from tests.e2e.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def test_two_checks_breaching_at_once_send_one_grouped_message(
        tmp_path: Path, receiver: Receiver) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"""
agent:
  host: e2e-host
  state_dir: {tmp_path / 'state'}
  interval: 1s
  timeout: 5s
channels:
  sms: {{urls: ["{receiver.url}"], group_wait: 3s}}
checks:
  - name: mem-a
    kind: memory
    thresholds:
      used_percent: {{crit: "> 0"}}
  - name: mem-b
    kind: memory
    thresholds:
      used_percent: {{crit: "> 0"}}
""")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        agent.wait_for_log("first check cycle complete")
        (message,) = receiver.wait_for(1)
        time.sleep(2)  # nothing else follows
    finally:
        assert agent.stop() == 0
    assert len(receiver.snapshot()) == 1, receiver.snapshot()
    assert message["title"] == "2 alerts on e2e-host: 2 CRITICAL"
    body = str(message["message"])
    assert "CRITICAL e2e-host mem-a" in body and "CRITICAL e2e-host mem-b" in body
    rows = outbox(tmp_path / "state")
    assert len(rows) == 2 and all(r["sent_at"] is not None for r in rows)
    keys = body.split("\n\n", 1)[1].splitlines()
    assert sorted(keys) == sorted(f"key: {r['dedup_key']}" for r in rows)
    # Held for the wait after the first breach, then sent together.
    assert {r["sent_at"] for r in rows} == {rows[0]["sent_at"]}
    assert rows[0]["sent_at"] >= min(r["created_at"] for r in rows) + 3
