"""``status`` and ``baseline`` against a real agent: live while it runs, as saved after."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.store import Store
from tests.e2e.agent_process import AgentProcess, cli, outbox, wait_until
from tests.ports import free_port

pytestmark = pytest.mark.slow

AT = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"  # a moment as status writes it
# The password and the token parameter are the secret parts of a json:// URL.
SECRETS = ("hunter2pass", "qu3rySECRETvalue")


def _config(tmp: Path, port: int) -> Path:
    path = tmp / "config.yaml"
    # Nothing listens on the port: every delivery fails and is retried.
    url = f"json://ops:{SECRETS[0]}@127.0.0.1:{port}/hook?token={SECRETS[1]}"
    path.write_text(f"""
agent:
  host: st-host
  state_dir: {tmp / 'state'}
  group_window: 0s
  interval: 1s
channels:
  ops: ["{url}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent:
        crit: "> 0"
        adaptive: {{warmup: 1m}}
""")
    return path


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, AgentProcess]]:
    """An agent whose one notification cannot be delivered (it has tried at least once)."""
    tmp = tmp_path_factory.mktemp("status")
    config = _config(tmp, free_port())
    agent = AgentProcess(config, tmp / "agent.log")
    try:
        agent.wait_for_log("first check cycle complete")
        wait_until(lambda: any(r["attempts"] for r in outbox(tmp / "state")),
                   what="a failed delivery attempt")
        time.sleep(2)  # the hourly learned save is older than the latest sample now
        yield config, agent
    finally:
        agent.stop()


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_status_of_a_running_agent_says_who_it_is_and_how_fresh(
        stuck: tuple[Path, AgentProcess]) -> None:
    config, agent = stuck
    out = cli("status", "-c", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(rf"agent running: pid {agent.proc.pid}, since {AT} \(\d+s ago\); "
                        rf"config {re.escape(str(config.resolve()))}; last reload never",
                        lines[0]), out.stdout
    age = re.fullmatch(r"state as of (\d)s ago", lines[1])
    assert age, out.stdout
    assert any(line.startswith("st-host/mem/used_percent  firing") for line in lines)
    _no_secret(out.stdout + out.stderr)


def test_a_stuck_notification_shows_where_how_often_why_and_when_next(
        stuck: tuple[Path, AgentProcess]) -> None:
    config, _ = stuck
    out = cli("status", "-c", str(config))
    text = out.stdout
    assert "1 notification waiting to be delivered:" in text, text
    m = re.search(r"  #1 FIRING st-host/mem/used_percent to ops\[0\] (\S+)\n"
                  r"    (\d+) attempts?, last \d+s ago: (.+)\n"
                  rf"    next retry (now|in \d+s \({AT}\))", text)
    assert m, text
    url, attempts, error = m.group(1), int(m.group(2)), m.group(3)
    assert url.startswith("json://ops:****@127.0.0.1:") and url.endswith("?token=****")
    assert attempts >= 1 and "127.0.0.1" in error
    _no_secret(text)

    doc = json.loads(cli("status", "-c", str(config), "--json").stdout)
    (row,) = doc["queue"]
    assert (row["channel"], row["target"], row["url"]) == ("ops", 0, url)
    assert row["attempts"] >= 1 and row["last_error"] and row["next_attempt_at"] > 0
    assert doc["queued_notifications"] == 1
    _no_secret(json.dumps(doc))


def test_status_json_carries_the_agent_and_the_age(stuck: tuple[Path, AgentProcess]) -> None:
    config, agent = stuck
    doc = json.loads(cli("status", "-c", str(config), "--json").stdout)
    assert doc["agent"]["running"] and doc["agent"]["pid"] == agent.proc.pid
    assert doc["agent"]["config_file"] == str(config.resolve())
    assert doc["agent"]["last_reload"] is None
    assert time.time() - 120 < doc["agent"]["started_at"] < time.time()
    assert doc["source"] == "agent" and 0 <= doc["age_seconds"] < 10
    assert [a["key"] for a in doc["alerts"]] == ["st-host/mem/used_percent"]


def test_baseline_of_a_running_agent_is_what_it_knows_now(
        stuck: tuple[Path, AgentProcess]) -> None:
    config, _ = stuck
    out = cli("baseline", "-c", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("agent running: pid ")
    m = re.fullmatch(r"st-host/mem/used_percent \(last sample (\d+)s ago\)", lines[1])
    assert m and int(m.group(1)) <= 3, out.stdout
    assert re.fullmatch(r"  learning: \d+ of 1\d\d minutes \(\d+%; warmup 1m, but a normal "
                        r"range needs 3 full hours of data\)", lines[2]), out.stdout

    doc = json.loads(cli("baseline", "-c", str(config), "--json").stdout)
    (series,) = doc["series"]
    assert doc["source"] == "agent" and series["saved_at"] is None
    # Fresher than the store, which is written hourly (and at exit).
    db = sqlite3.connect(config.parent / "state" / "state.db")
    (saved,) = db.execute("SELECT updated_at FROM learned").fetchone()
    db.close()
    assert series["last_sample_at"] > saved + 1


def test_after_the_agent_stopped_both_say_it_and_show_the_saved_state(
        tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    state = tmp_path / "state"
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        agent.wait_for_log("first check cycle complete")
        wait_until(lambda: any(r["attempts"] for r in outbox(state)),
                   what="a failed delivery attempt")
        # Its socket removed by hand: the state lock still tells that it runs.
        (state / "control.sock").unlink()
        first = cli("status", "-c", str(config)).stdout.splitlines()[0]
        assert first.startswith(f"agent (pid {agent.proc.pid}) not answering (no agent "
                                "answers on "), first
    finally:
        assert agent.stop() == 0
    assert not (state / "control.sock").exists()
    files = sorted(p.name for p in state.iterdir())
    stopped_at = time.time()

    out = cli("status", "-c", str(config))
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert re.fullmatch(rf"agent not running; state as saved at {AT} \(\d+s ago\)", first), first
    assert "st-host/mem/used_percent  firing" in out.stdout
    assert "#1 FIRING st-host/mem/used_percent to ops[0] json://ops:****@" in out.stdout
    _no_secret(out.stdout)
    doc = json.loads(cli("status", "-c", str(config), "--json").stdout)
    assert doc["agent"] == {"running": False, "why": "agent not running"}
    assert doc["source"] == "store"
    assert stopped_at - 30 < doc["as_of"] <= stopped_at

    out = cli("baseline", "-c", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("agent not running; state as saved at "), out.stdout
    assert re.fullmatch(r"st-host/mem/used_percent \(last sample \d+s ago; as saved \d+s ago\)",
                        lines[1]), out.stdout
    doc = json.loads(cli("baseline", "-c", str(config), "--json").stdout)
    assert doc["source"] == "store" and doc["series"][0]["saved_at"] is not None
    # Looking changed nothing: no -wal or -shm left behind for the agent to trip on.
    assert sorted(p.name for p in state.iterdir()) == files


def test_status_before_any_agent_ran(tmp_path: Path) -> None:
    out = cli("status", "-c", str(_config(tmp_path, free_port())))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (f"agent not running; no state yet in {tmp_path / 'state'} "
                                  "(has the agent run?)")
    assert not (tmp_path / "state").exists()


def test_an_agent_that_does_not_answer_is_named_so_and_the_saved_state_shown(
        tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    state = tmp_path / "state"
    with Store.open(state):
        pass
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(state / "control.sock"))
    hung.listen()  # connections queue up; nothing ever answers
    try:
        out = cli("status", "-c", str(config))
    finally:
        hung.close()
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("agent not answering (the agent did not answer on "), first
    assert re.search(rf"within 5s\); state as saved at {AT} \(\d+s ago\)$", first), first


def test_a_refused_reload_shows_when_and_why(tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        agent.wait_for_log("first check cycle complete")
        good = config.read_text()
        view = tmp_path / "view.yaml"  # the same state, read with a config that loads
        view.write_text(good)
        config.write_text(good.replace("kind: memory", "kind: memroy"))
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for_log("config reload failed")
        out = cli("status", "-c", str(view))
    finally:
        agent.stop()
    lines = out.stdout.splitlines()
    assert re.search(rf"; last reload {AT} \(\d+s ago\) FAILED, still on the config before "
                     r"it$", lines[0]), out.stdout
    assert "memroy" in lines[1] and lines[1].startswith("  "), out.stdout
    assert lines[2].startswith("state as of "), out.stdout
