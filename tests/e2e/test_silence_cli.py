"""``watchkeeper silence`` as a user runs it, and a real agent that honours it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from agent.alerting.state import AlertState, Phase
from agent.model import AlertKey, Status
from agent.store import Store
from tests.e2e.agent_process import AGENT, Agents, cli
from tests.servers.receiver import Receiver

CONFIG = AGENT.replace("{host}", "db-host") + """channels:
  hook: ["{url}"]
checks:
  - name: db-main
    kind: memory
    thresholds:
      used_percent: {crit: "{limit}"}
"""


def silence(config: Path, *args: str) -> tuple[int, str, str]:
    out = cli("silence", *args, "-c", str(config))
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout, out.stderr


def test_add_prints_the_id_and_expiry_and_list_shows_what_it_silences(agents: Agents) -> None:
    config = agents.write_config(CONFIG, limit="> 1000")
    with Store.open(agents.state) as store:  # an open alert, as the agent left it
        store.commit([AlertState(key=AlertKey("db-host", "db-main", "used_percent"),
                                 phase=Phase.FIRING, severity=Status.CRITICAL)], [])
    code, out, err = silence(config, "add", "db-*", "--for", "2h", "--reason", "reboot")
    assert code == 0, err
    m = re.fullmatch(r"silence #(\d+) added: db-\* until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC "
                     r"\(in (1h 59m|2h)\)\n", out)
    assert m, out
    until = time.strftime("%Y-%m-%d %H:%M", time.gmtime(time.time() + 7200))
    assert abs(time.mktime(time.strptime(m[2], "%Y-%m-%d %H:%M"))
               - time.mktime(time.strptime(until, "%Y-%m-%d %H:%M"))) <= 60
    assert err == ""

    code, out, _ = silence(config, "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["ID", "MATCH", "UNTIL", "SILENCING", "REASON"]
    assert row.startswith(f"#{m[1]}  db-*") and "1 open alert " in row
    assert row.endswith("reboot")

    code, out, _ = silence(config, "list", "--json")
    (listed,) = json.loads(out)["silences"]
    assert (listed["id"], listed["check"], listed["metric"], listed["reason"]) == (
        int(m[1]), "db-*", None, "reboot")
    assert listed["silencing"] == ["db-host/db-main/used_percent"]
    assert 7190 < listed["ends_at"] - listed["starts_at"] <= 7200

    status = cli("status", "-c", str(config))
    assert f"#{m[1]} db-* until" in status.stdout and "(reboot)" in status.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["db-main", "--for", "30s"], "too short: a silence lasts at least 1 minute"),
    (["db-main", "--for", "31d"], "too long: a silence lasts at most 30 days"),
    (["db-main", "--for", "soon"], "expected a duration like 30s"),
    (["db-main/used_*", "--for", "1h"], "METRIC is matched exactly"),
    (["db-main/", "--for", "1h"], "expected CHECK or CHECK/METRIC"),
    (["db-main", "--for", "1h", "--reason", "two\nlines"],
     "--reason: holds the control character \\n; write it on one line"),
    (["db-main", "--for", "1h", "--reason", "\x1b[2Jcleared"],
     "--reason: holds the control character \\x1b"),
], ids=["too-short", "too-long", "not-a-duration", "metric-glob", "empty-metric",
        "reason-newline", "reason-escape"])
def test_bad_input_is_refused_with_a_clear_message(agents: Agents, args: list[str],
                                                   message: str) -> None:
    config = agents.write_config(CONFIG, limit="> 1000")
    code, out, err = silence(config, "add", *args)
    assert code == 2 and message in err and out == ""
    assert not agents.state.exists()  # nothing was stored


def test_a_stored_reason_with_control_characters_is_shown_escaped(agents: Agents) -> None:
    """A silence stored with a line break and an escape sequence in its reason (by an
    older version) prints on one line, the escape written out, in list and status."""
    config = agents.write_config(CONFIG, limit="> 1000")
    now = time.time()
    with Store.open(agents.state) as store:
        store.add_silence("db-main", None, now, now + 3600,
                          reason="fake\nPROBLEM: forged line\x1b[2J")
    shown = "fake\\nPROBLEM: forged line\\x1b[2J"
    code, out, _ = silence(config, "list")
    assert code == 0 and "\x1b" not in out
    assert out.splitlines()[1].endswith(shown) and len(out.splitlines()) == 2
    status = cli("status", "-c", str(config)).stdout
    assert "\x1b" not in status and f"({shown})" in status
    assert not any(line.startswith("PROBLEM") for line in status.splitlines())


def test_a_glob_matching_no_check_warns_but_is_kept_and_remove_ends_it(
        agents: Agents) -> None:
    config = agents.write_config(CONFIG, limit="> 1000")
    code, out, err = silence(config, "add", "web-*/status", "--for", "1h")
    assert code == 0
    assert "warning: no configured check matches 'web-*' (checks: db-main)" in err
    sid = re.match(r"silence #(\d+) added: web-\*/status until ", out)
    assert sid, out
    code, out, _ = silence(config, "list")
    assert "web-*/status" in out and "no open alerts" in out
    assert silence(config, "remove", sid[1])[0] == 0
    assert silence(config, "list")[1] == "no active silences\n"
    code, _, err = silence(config, "remove", sid[1])
    assert code == 2 and f"no silence #{sid[1]}" in err


@pytest.mark.slow
def test_the_agent_holds_a_silenced_alert_and_announces_it_once_removed(
        agents: Agents, receiver: Receiver) -> None:
    config = agents.write_config(CONFIG, limit="> 0")
    code, out, err = silence(config, "add", "db-*", "--for", "1h", "--reason", "reboot")
    assert code == 0, err
    sid = out.split()[1].lstrip("#")
    agent = agents.start()
    agent.wait_for_log(f"silenced by #{sid} until ")
    agent.wait_for_first_cycle()
    time.sleep(3)  # more runs and a dispatcher cycle: still nothing sent
    assert receiver.requests() == []
    assert silence(config, "remove", sid)[0] == 0
    (firing,) = receiver.wait_for(1, timeout=25)
    assert agent.stop() == 0
    assert "CRITICAL" in str(firing["title"]) and "db-host" in str(firing["title"])
    assert "used_percent" in str(firing["message"])
    assert "deliveries queued; no longer held back)" in agent.log()
