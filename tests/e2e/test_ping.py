"""Heartbeats as a user meets them: ``watchkeeper run`` with a listener, ``watchkeeper ping``
from a crontab line, and the notification a reported failure leads to."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

TOKEN = "e2e-ping-token-0123456789"

CONFIG = AGENT + """  listen: {listen}
  token: ${file:token}
channels:
  hook: ["{url}"]
checks:
  - name: nightly
    kind: heartbeat
    period: 1d
    grace: 1h
"""


def write_config(agents: Agents, template: str = CONFIG) -> Path:
    (agents.tmp / "token").write_text(TOKEN + "\n")
    return agents.write_config(template)


def pings(state: Path) -> list[tuple[str, int | None]]:
    conn = sqlite3.connect(state / "state.db", timeout=10)
    try:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT kind, exit_code FROM heartbeats WHERE name = 'nightly' ORDER BY id")]
    finally:
        conn.close()


def test_pings_reach_the_agent_and_a_failure_is_notified(agents: Agents,
                                                         receiver: Receiver) -> None:
    config = write_config(agents)
    agent = agents.start()
    agent.wait_for_log(f"listening on {agents.listen}; requests need the bearer token")
    ok = cli("ping", "nightly", "-c", str(config))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")

    unknown = cli("ping", "nosuch", "-c", str(config))
    assert unknown.returncode == 1
    assert f"the agent at {agents.listen} has no heartbeat check named 'nosuch'" \
        in unknown.stderr

    assert cli("ping", "nightly", "--fail", "-c", str(config)).returncode == 0
    (firing,) = receiver.wait_for(1)
    assert "CRITICAL" in str(firing["title"])
    assert "job reported failure" in str(firing["message"])

    wrapped = cli("ping", "nightly", "-c", str(config), "--", "sh", "-c",
                  "echo from the job; exit 3")
    assert wrapped.returncode == 3
    assert wrapped.stdout == "from the job\n"

    assert cli("ping", "nightly", "--exit-code", "0", "-c", str(config)).returncode == 0
    msgs = receiver.wait_for(2)
    assert "RESOLVED" in str(msgs[1]["title"])
    assert agent.stop() == 0
    assert pings(agents.state) == [("success", None), ("fail", None), ("start", None),
                                   ("fail", 3), ("success", 0)]
    assert TOKEN not in agent.log()


def test_ping_without_a_running_agent_fails_with_a_short_message(agents: Agents) -> None:
    config = write_config(agents)
    out = cli("ping", "nightly", "-c", str(config))
    assert out.returncode == 1
    assert out.stderr == (f"watchkeeper: cannot reach the agent at {agents.listen}: "
                          "connection refused\n")
    # A wrapped job still runs, and its exit code is kept.
    wrapped = cli("ping", "nightly", "-c", str(config), "--", "sh", "-c", "exit 5")
    assert wrapped.returncode == 5
    assert wrapped.stderr.count("connection refused") == 2


def test_ping_when_the_listener_is_off(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\n")
    out = cli("ping", "nightly", "-c", str(config))
    assert out.returncode == 1
    assert "the agent's HTTP listener is off; set agent.listen" in out.stderr


def test_check_command_judges_heartbeats_from_the_stored_pings(agents: Agents) -> None:
    config = write_config(agents)
    agent = agents.start()
    agent.wait_for_log(f"listening on {agents.listen}")
    assert cli("ping", "nightly", "--fail", "-c", str(config)).returncode == 0
    agent.stop()
    out = cli("check", "-c", str(config), "--json")
    (row,) = json.loads(out.stdout)["checks"]
    assert row["status"] == "critical", row
    assert "job reported failure" in row["summary"]
    assert out.returncode == 2


def test_a_failure_ping_is_judged_at_once_not_at_the_next_turn(agents: Agents,
                                                               receiver: Receiver) -> None:
    config = write_config(agents, CONFIG.replace("    grace: 1h\n",
                                                 "    grace: 1h\n    interval: 1h\n"))
    agent = agents.start()
    agent.wait_for_first_cycle()
    assert cli("ping", "nightly", "--fail", "-c", str(config)).returncode == 0
    (firing,) = receiver.wait_for(1, timeout=10)
    assert "job reported failure" in str(firing["message"])


def test_ping_by_url_needs_no_config(agents: Agents) -> None:
    """A cron job of any user: the listener's address and the token, not the config."""
    write_config(agents)
    agent = agents.start()
    url = f"http://{agents.listen}"
    nowhere = str(agents.tmp / "unreadable.yaml")
    agent.wait_for_log(f"listening on {agents.listen}")
    by_env = cli("ping", "-c", nowhere, "--url", url, "nightly",
                 env={"WATCHKEEPER_TOKEN": TOKEN})
    assert (by_env.returncode, by_env.stderr) == (0, "")
    by_file = cli("ping", "--url", agents.listen, "--token-file",
                  str(agents.tmp / "token"), "nightly", "--", "true")
    assert (by_file.returncode, by_file.stderr) == (0, "")
    no_token = cli("ping", "--url", url, "nightly")
    assert no_token.returncode == 1 and "refused the request" in no_token.stderr
    bad = cli("ping", "--url", "ftp://127.0.0.1/x", "nightly")
    assert bad.returncode == 2
    assert "expected the listener as http://HOST:PORT" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert agent.stop() == 0
    assert pings(agents.state) == [("success", None), ("start", None), ("success", 0)]
    assert TOKEN not in agent.log()
