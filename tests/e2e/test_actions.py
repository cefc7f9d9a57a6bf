"""A real agent runs a check's ``on_firing`` command, runs the check again at once, and
the resolve says the action fixed it; the incident records the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT.replace("interval: 1s", "interval: 1h") + """\
channels:
  hook: ["{url}"]
checks:
  - name: nginx
    kind: command
    command: [/bin/sh, -c, 'test -f {fixed} && exit 0; exit 2']
    on_firing:
      command: [/bin/sh, -c, 'echo "restarting $WATCHKEEPER_CHECK"; touch {fixed}']
      timeout: 10s
"""


def test_an_action_that_fixes_the_problem_is_credited_in_the_resolve(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    # The check runs once an hour: only the action's re-run can resolve it in this test.
    agent = agents.start(CONFIG, fixed=fixed)
    firing, resolved = receiver.wait_for(2, timeout=60)
    assert firing["title"].startswith("CRITICAL")
    assert resolved["title"].startswith("RESOLVED")
    assert "Action: ran `/bin/sh -c" in resolved["message"]
    assert "exit 0" in resolved["message"] and "OK again" in resolved["message"]
    assert "restarting nginx" in resolved["message"]  # the alert was in its environment
    agent.wait_for_log("action for FIRING e2e-host/nginx/status: ran")

    def recorded() -> list[dict[str, object]]:
        out = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)
        return [i for i in out["incidents"] if i["actions"] == 1 and i["resolved_at"]]

    (incident,) = wait_until(recorded, what="the action in the incident")
    show = cli("incident", "show", str(incident["id"]), "-c", str(agents.config)).stdout
    assert "action" in show and "restarting nginx" in show
    assert agent.stop() == 0
