"""History and uptime of a real agent watching a real HTTP server that goes down for a
while: ``watchkeeper uptime`` tells the outage, the history survives a restart, and
/metrics shows the uptime ratios."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.agent_process import AGENT, Agents, cli
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """  listen: {listen}
checks:
  - name: site
    kind: http
    url: http://127.0.0.1:{port}/
    timeout: 2s
    slo: 99.5
"""


def uptime(agents: Agents) -> dict[str, object]:
    out = cli("uptime", "--json", "--check", "site", "-c", str(agents.config))
    assert out.returncode == 0, out.stderr
    (found,) = json.loads(out.stdout)["checks"]
    assert isinstance(found, dict)
    return found


def test_an_outage_shows_in_uptime_and_metrics_across_a_restart(agents: Agents) -> None:
    with Receiver() as site:
        agent = agents.start(CONFIG, port=site.port)
        agent.wait_for_first_cycle()
        time.sleep(2)
        site.stop()  # connection refused: CRITICAL
        agent.wait_for_log("check site: CRITICAL")
        time.sleep(2.5)
        site.start()
        time.sleep(2)
        assert agent.stop() == 0  # a clean stop writes the open buckets

        found = uptime(agents)
        assert found["outages"] == 1
        downtime = found["downtime_seconds"]
        assert isinstance(downtime, float) and 2.0 <= downtime <= 6.0, found
        percent = found["uptime_percent"]
        assert isinstance(percent, float) and 40.0 < percent < 90.0, found
        assert found["response_metric"] == "response_ms"
        assert isinstance(found["response_p50_ms"], float)
        budget = found["budget"]
        assert isinstance(budget, dict) and budget["target_percent"] == 99.5
        assert budget["used_seconds"] == pytest.approx(downtime)

        # Started again, the agent keeps what it wrote and says it on /metrics.
        agent = agents.start()
        agent.wait_for_first_cycle()
        page = httpx.get(f"http://127.0.0.1:{agents.port}/metrics", timeout=5.0).text
        assert agent.stop() == 0
    ratios = {tuple(sorted(s.labels.items())): s.value
              for f in text_string_to_metric_families(page)
              if f.name == "watchkeeper_check_uptime_ratio" for s in f.samples}
    assert set(ratios) == {(("check", "site"), ("window", "24h")),
                           (("check", "site"), ("window", "30d"))}
    assert all(value == pytest.approx(percent / 100, abs=0.2) and value < 1
               for value in ratios.values()), ratios
    assert uptime(agents)["runs"] >= found["runs"]  # type: ignore[operator]
