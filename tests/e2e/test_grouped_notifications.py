"""``group_wait`` as a user meets it: two checks breach at once, ONE message arrives."""

from __future__ import annotations

import time

import pytest

from tests.e2e.agent_process import AGENT, Agents, outbox
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """channels:
  sms: {urls: ["{url}"], group_wait: 3s}
checks:
  - name: mem-a
    kind: memory
    thresholds:
      used_percent: {crit: "> 0"}
  - name: mem-b
    kind: memory
    thresholds:
      used_percent: {crit: "> 0"}
"""


def test_two_checks_breaching_at_once_send_one_grouped_message(
        agents: Agents, receiver: Receiver) -> None:
    agent = agents.start(CONFIG)
    agent.wait_for_first_cycle()
    (message,) = receiver.wait_for(1)
    time.sleep(2)  # nothing else follows
    assert agent.stop() == 0
    assert len(receiver.messages()) == 1, receiver.messages()
    assert message["title"] == "2 alerts on e2e-host: 2 CRITICAL"
    body = str(message["message"])
    assert "CRITICAL e2e-host mem-a" in body and "CRITICAL e2e-host mem-b" in body
    rows = outbox(agents.state)
    assert len(rows) == 2 and all(r["sent_at"] is not None for r in rows)
    keys = body.split("\n\n", 1)[1].splitlines()
    assert sorted(keys) == sorted(f"key: {r['dedup_key']}" for r in rows)
    # Held for the wait after the first breach, then sent together.
    assert {r["sent_at"] for r in rows} == {rows[0]["sent_at"]}
    assert rows[0]["sent_at"] >= min(r["created_at"] for r in rows) + 3
