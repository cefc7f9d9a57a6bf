"""Alertmanager as a fleet uses it: real agent processes posting to a real Alertmanager
(and to a real two-member cluster) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.agent_process import AGENT, Agents
from tests.servers import alertmanager
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """channels:
  am: {urls}
checks:
  - name: mem
    kind: memory
    tags: [infra, team=ops]
    runbook: https://wiki.example.com/memory
    thresholds:
      used_percent: {crit: "{limit}"}
"""


def ours(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"].get("check") == "mem"]


def test_firing_shows_with_its_labels_stays_open_and_resolves_after_the_fix(
        agents: Agents, tmp_path: Path) -> None:
    with alertmanager.running(tmp_path) as am:
        urls = f"['{am.url(query='resend=1s')}']"
        agent = agents.start(CONFIG, limit="> 0", urls=urls)
        (alert,) = am.wait_for(lambda a: len(ours(a)) == 1)
        assert alert["labels"] == {
            "alertname": "mem", "host": "e2e-host", "check": "mem",
            "metric": "used_percent", "severity": "critical", "team": "ops",
            "tags": "infra"}
        notes = alert["annotations"]
        assert notes["runbook_url"] == "https://wiki.example.com/memory"
        assert notes["kind"] == "memory" and notes["threshold"] == "> 0%"
        assert notes["description"].startswith("used_percent")
        # Posted again while it fires: its end moves on and it never times out.
        again = am.wait_for(lambda a: ours(a) and ours(a)[0]["endsAt"] > alert["endsAt"],
                            what="the alert posted again")
        assert agent.stop() == 0
        # Restarted while it fires: nothing is announced again, yet the alert is still
        # posted (from the stored state) and keeps its start.
        agent = agents.start(CONFIG, limit="> 0", urls=urls)
        later = am.wait_for(lambda a: ours(a) and ours(a)[0]["endsAt"] > again[0]["endsAt"],
                            what="the alert posted again after a restart")
        assert ours(later)[0]["startsAt"] == alert["startsAt"]
        assert "deliveries queued" not in agent.log()
        assert agent.stop() == 0

        agent = agents.start(CONFIG, limit="> 100", urls=urls)
        am.wait_for(lambda a: ours(a) == [], what="the alert resolved")
        assert agent.stop() == 0


def test_two_agents_on_two_hosts_are_two_alerts(agents: Agents, receiver: Receiver,
                                                tmp_path: Path) -> None:
    with alertmanager.running(tmp_path) as am:
        urls = f"['{am.url()}']"
        other = Agents(tmp_path / "other", receiver)
        (tmp_path / "other").mkdir()
        try:
            agents.start(CONFIG, limit="> 0", urls=urls, host="web1")
            other.start(CONFIG, limit="> 0", urls=urls, host="web2")
            found = am.wait_for(lambda a: len(ours(a)) == 2)
            assert sorted(a["labels"]["host"] for a in found) == ["web1", "web2"]
        finally:
            other.reap()


def test_one_agent_posting_to_a_two_member_cluster_is_one_alert(
        agents: Agents, tmp_path: Path) -> None:
    with alertmanager.cluster(tmp_path) as (am1, am2):
        agents.start(CONFIG, limit="> 0", urls=f"['{am1.url()}', '{am2.url()}']")
        for member in (am1, am2):
            (alert,) = member.wait_for(lambda a: len(ours(a)) == 1)
            assert alert["labels"]["host"] == "e2e-host"
        assert ours(am1.alerts())[0]["fingerprint"] == ours(am2.alerts())[0]["fingerprint"]
