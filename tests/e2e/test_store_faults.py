"""A real agent whose state database stops taking writes: locked by another process,
not writable, on a full disk, or corrupt.

For each, the agent says so at once and keeps saying it (log, /healthz 503 with the
reason, ``watchkeeper status``), keeps checking on schedule (a healthy check is never
UNKNOWN because of the store), delivers a new alert from memory, and writes everything
to the store once the fault is cleared.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.agent_process import AGENT, REPO, AgentProcess, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """\
  listen: "{listen}"
channels:
  hook: ["{url}"]
checks:
  - name: healthy
    kind: command
    command: [/bin/true]
  - name: flag
    kind: command
    command: [/bin/sh, -c, 'exit $(cat {flag})']
"""
FAULT_WORDS = "cannot write the state database"


@dataclass
class Fault:
    """How one fault is made and cleared around a running agent."""

    name: str
    prefix: Sequence[str] = ()

    def before_start(self, state: Path) -> None:
        """Prepare the state directory before the agent starts."""

    def induce(self, agent: AgentProcess, state: Path) -> None:
        """Make the database refuse writes while the agent runs."""

    def clear(self, agent: AgentProcess, state: Path) -> None:
        """Let it take writes again."""

    def db(self, agent: AgentProcess, state: Path) -> Path:
        """Where the test reads the database (inside the agent's mount namespace if any)."""
        return state / "state.db"

    def status(self, agent: AgentProcess, config: Path) -> subprocess.CompletedProcess[str]:
        """``watchkeeper status`` as a person on that host runs it."""
        return cli("status", "-c", str(config))


class Locked(Fault):
    """Another process holds a write transaction."""

    def __init__(self) -> None:
        super().__init__("locked")
        self.conn: sqlite3.Connection | None = None

    def induce(self, agent: AgentProcess, state: Path) -> None:
        self.conn = sqlite3.connect(state / "state.db", isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def clear(self, agent: AgentProcess, state: Path) -> None:
        assert self.conn is not None
        self.conn.execute("ROLLBACK")
        self.conn.close()


class NotWritable(Fault):
    """The state files belong to someone else's mode: read-only to the agent, which runs
    as root without the power to override file permissions (as a service user would)."""

    def __init__(self) -> None:
        caps = "-dac_override,-dac_read_search,-fowner"
        super().__init__("not-writable", ("setpriv", f"--inh-caps={caps}",
                                          f"--bounding-set={caps}"))

    def before_start(self, state: Path) -> None:
        # The store exists, then becomes read-only before the agent starts.
        out = cli("silence", "add", "nothing-matches", "--for", "1m", "-c",
                  str(state.parent / "config.yaml"))
        assert out.returncode == 0, out.stderr
        # As a command run by root leaves them: the directory is the agent's, the
        # database files are not writable by it.
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            with contextlib.suppress(FileNotFoundError):
                (state / name).chmod(0o444)

    def clear(self, agent: AgentProcess, state: Path) -> None:
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            with contextlib.suppress(FileNotFoundError):
                (state / name).chmod(0o644)


class DiskFull(Fault):
    """The state directory is a small filesystem of its own, filled to the last byte."""

    def __init__(self, state: Path) -> None:
        mount = (f"mount -t tmpfs -o size=4m watchkeeper-test {state} && "
                 'exec "$@"')
        super().__init__("disk-full", ("unshare", "-m", "--propagation", "private",
                                       "sh", "-c", mount, "sh"))

    def before_start(self, state: Path) -> None:
        state.mkdir()

    def _in_ns(self, agent: AgentProcess, *cmd: str) -> None:
        subprocess.run(["nsenter", "-t", str(agent.proc.pid), "-m", *cmd], check=False,
                       capture_output=True, timeout=30)

    def induce(self, agent: AgentProcess, state: Path) -> None:
        self._in_ns(agent, "dd", "if=/dev/zero", f"of={state}/filler", "bs=64k")

    def clear(self, agent: AgentProcess, state: Path) -> None:
        self._in_ns(agent, "rm", "-f", f"{state}/filler")

    def db(self, agent: AgentProcess, state: Path) -> Path:
        # A consistent copy, made from inside the agent's mount namespace (SQLite resolves
        # /proc/PID/root away), to where the test can read it.
        copy = state.parent / "copy.db"
        copy.unlink(missing_ok=True)
        script = ("import sqlite3, sys; src = sqlite3.connect(sys.argv[1]); "
                  "dst = sqlite3.connect(sys.argv[2]); src.backup(dst); dst.close()")
        subprocess.run(["nsenter", "-t", str(agent.proc.pid), "-m", sys.executable, "-c",
                        script, str(state / "state.db"), str(copy)], check=True,
                       capture_output=True, timeout=30)
        return copy

    def status(self, agent: AgentProcess, config: Path) -> subprocess.CompletedProcess[str]:
        # The control socket lives on the agent's own filesystem: ask from in there.
        return subprocess.run(["nsenter", "-t", str(agent.proc.pid), "-m", sys.executable,
                               "-m", "agent", "status", "-c", str(config)],
                              capture_output=True, text=True, timeout=60, cwd=REPO,
                              check=False)


class Corrupt(Fault):
    """Something overwrote the database files; the fault clears when a person moves them
    away (the agent then writes all it holds into a new file)."""

    def __init__(self) -> None:
        super().__init__("corrupt")

    def induce(self, agent: AgentProcess, state: Path) -> None:
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            path = state / name
            if path.exists():
                with path.open("r+b") as f:
                    f.write(b"not a database, overwritten by mistake " * 200)

    def clear(self, agent: AgentProcess, state: Path) -> None:
        broken = state.parent / "broken"
        broken.mkdir()
        for name in ("state.db-wal", "state.db-shm", "state.db"):
            with contextlib.suppress(FileNotFoundError):
                (state / name).replace(broken / name)


FAULTS = ["locked", "not-writable", "disk-full", "corrupt"]


def make(name: str, state: Path) -> Fault:
    if name == "locked":
        return Locked()
    if name == "not-writable":
        return NotWritable()
    if name == "disk-full":
        return DiskFull(state)
    return Corrupt()


def health(agents: Agents) -> httpx.Response:
    return httpx.get(f"http://{agents.listen}/healthz", timeout=5)


def stored(db: Path) -> dict[str, list[sqlite3.Row]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        return {"states": conn.execute("SELECT * FROM alert_states").fetchall(),
                "outbox": conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()}
    finally:
        conn.close()


@pytest.mark.parametrize("fault_name", FAULTS)
def test_a_store_fault_is_said_and_survived_and_everything_is_written_after(
        agents: Agents, receiver: Receiver, tmp_path: Path, fault_name: str) -> None:
    if fault_name == "disk-full" and not shutil.which("nsenter"):
        pytest.fail("nsenter (util-linux) is needed for the full-disk test")
    flag = tmp_path / "flag"
    flag.write_text("0")
    state = agents.state
    fault = make(fault_name, state)
    agents.write_config(CONFIG, flag=flag)
    fault.before_start(state)
    agent = agents.start(prefix=fault.prefix)
    agent.wait_for_first_cycle()
    fault.induce(agent, state)

    # The problem starts while the store refuses writes: it is announced all the same.
    flag.write_text("2")
    posts = receiver.wait_for(1, timeout=60)
    assert "CRITICAL" in posts[0]["title"] and "flag" in posts[0]["title"]
    agent.wait_for_log(FAULT_WORDS, timeout=30)

    answer = wait_until(lambda: (r := health(agents)).status_code == 503 and r,
                        timeout=30, what="/healthz 503")
    assert FAULT_WORDS in answer.text
    status = fault.status(agent, agents.config)
    assert status.returncode == 0, status.stderr
    assert f"PROBLEM: {FAULT_WORDS}" in status.stdout
    assert "flag" in status.stdout

    fault.clear(agent, state)
    agent.wait_for_log("the state database takes writes again", timeout=60)
    wait_until(lambda: health(agents).status_code == 200, timeout=30, what="/healthz 200")

    # Written once it could be: the alert's state, and its notification marked sent.
    rows = wait_until(lambda: (found := stored(fault.db(agent, state)))["outbox"] and found,
                      timeout=30, what="the outbox written")
    flag_states = [r for r in rows["states"] if r["check_name"] == "flag"]
    assert [r["phase"] for r in flag_states] == ["firing"]
    assert [r["sent_at"] is not None for r in rows["outbox"]] == [True]

    assert agent.stop() == 0
    log = agent.log()
    assert "check healthy: UNKNOWN" not in log  # the store never made a healthy check fail
    assert len(receiver.messages()) == 1
    assert "Traceback" not in log


def test_a_silence_added_as_root_leaves_no_file_the_agent_cannot_write(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)  # the service user's directory (nobody here)
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  host: h1\n  state_dir: {state}\nchecks: []\n")
    out = cli("silence", "add", "db-*", "--for", "1h", "-c", str(config))
    assert out.returncode == 0, out.stderr
    assert {p.name: (p.stat().st_uid, p.stat().st_gid) for p in state.iterdir()} == {
        name: (65534, 65534) for name in {p.name for p in state.iterdir()}}
    assert "state.db" in {p.name for p in state.iterdir()}


def test_an_agent_started_on_a_full_disk_runs_and_says_so(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    # Full before the agent starts: not even the lock file's pid can be written.
    if not shutil.which("nsenter"):
        pytest.fail("nsenter (util-linux) is needed for the full-disk test")
    flag = tmp_path / "flag"
    flag.write_text("2")
    state = agents.state
    state.mkdir()
    fill = (f"mount -t tmpfs -o size=600k watchkeeper-test {state} && "
            f"dd if=/dev/zero of={state}/filler bs=4k 2>/dev/null; exec \"$@\"")
    agents.write_config(CONFIG, flag=flag)
    disk = DiskFull(state)
    agent = agents.start(prefix=("unshare", "-m", "--propagation", "private", "sh", "-c",
                                 fill, "sh"))
    agent.wait_for_first_cycle()
    posts = receiver.wait_for(1, timeout=60)
    assert "CRITICAL" in posts[0]["title"] and "flag" in posts[0]["title"]
    answer = wait_until(lambda: (r := health(agents)).status_code == 503 and r,
                        timeout=30, what="/healthz 503")
    assert FAULT_WORDS in answer.text

    disk.clear(agent, state)
    agent.wait_for_log("the state database takes writes again", timeout=60)
    rows = wait_until(lambda: (found := stored(disk.db(agent, state)))["outbox"] and found,
                      timeout=30, what="the outbox written")
    assert [r["phase"] for r in rows["states"] if r["check_name"] == "flag"] == ["firing"]
    assert agent.stop() == 0
    assert "Traceback" not in agent.log()
    assert len(receiver.messages()) == 1
