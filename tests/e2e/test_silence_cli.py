"""``watchkeeper silence`` as a user runs it, and a real agent that honours it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import AlertState, Phase
from agent.model import AlertKey, Status
from agent.store import Store
from tests.e2e.agent_process import AgentProcess, cli
from tests.e2e.receiver import Receiver

CONFIG = """
agent:
  host: db-host
  state_dir: {state}
  interval: 1s
  timeout: 5s
channels:
  hook: ["{url}"]
checks:
  - name: db-main
    kind: memory
    thresholds:
      used_percent: {{crit: "{limit}"}}
"""


def write_config(tmp: Path, url: str = "json://127.0.0.1:9/hook", limit: str = "> 1000") -> Path:
    path = tmp / "config.yaml"
    path.write_text(CONFIG.format(state=tmp / "state", url=url, limit=limit))
    return path


def silence(config: Path, *args: str) -> tuple[int, str, str]:
    out = cli("silence", *args, "-c", str(config))
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout, out.stderr


def test_add_prints_the_id_and_expiry_and_list_shows_what_it_silences(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with Store.open(tmp_path / "state") as store:  # an open alert, as the agent left it
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
], ids=["too-short", "too-long", "not-a-duration", "metric-glob", "empty-metric"])
def test_bad_input_is_refused_with_a_clear_message(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    config = write_config(tmp_path)
    code, out, err = silence(config, "add", *args)
    assert code == 2 and message in err and out == ""
    assert not (tmp_path / "state").exists()  # nothing was stored


def test_a_glob_matching_no_check_warns_but_is_kept_and_remove_ends_it(
        tmp_path: Path) -> None:
    config = write_config(tmp_path)
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.mark.slow
def test_the_agent_holds_a_silenced_alert_and_announces_it_once_removed(
        tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, receiver.url, "> 0")
    code, out, err = silence(config, "add", "db-*", "--for", "1h", "--reason", "reboot")
    assert code == 0, err
    sid = out.split()[1].lstrip("#")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        agent.wait_for_log(f"silenced by #{sid} until ")
        agent.wait_for_log("first check cycle complete")
        time.sleep(3)  # more runs and a dispatcher cycle: still nothing sent
        assert receiver.snapshot() == []
        assert silence(config, "remove", sid)[0] == 0
        (firing,) = receiver.wait_for(1, timeout=25)
    finally:
        assert agent.stop() == 0
    assert "CRITICAL" in str(firing["title"]) and "db-host" in str(firing["title"])
    assert "used_percent" in str(firing["message"])
    assert "deliveries queued; its silence ended)" in agent.log()
