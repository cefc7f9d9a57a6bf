"""Start ``watchkeeper`` as a real subprocess and watch what it does."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.ports import free_port
from tests.servers.receiver import Receiver

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``watchkeeper ARGS`` to completion."""
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, check=False,
                          text=True, timeout=timeout, env=_env(env), cwd=cwd or REPO,
                          stdin=subprocess.DEVNULL)


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    env.pop("JOURNAL_STREAM", None)
    env.update(extra or {})
    return env


FIRST_CYCLE = "first check cycle complete"

#: The agent section end-to-end configs start with: a fixed host name, a turn a second,
#: and each alert sent on its own at once (the tests of grouping turn it on).
AGENT = """
agent:
  host: {host}
  state_dir: {state}
  interval: 1s
  timeout: 5s
  group_window: 0s
"""


class AgentProcess:
    """``watchkeeper run`` in the background, logging to a file of its own.

    The log file is created for this process and must not exist yet: waiting for a line can
    then only match what this process wrote, never a line left by an earlier start.
    """

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None,
                 prefix: Sequence[str] = ()) -> None:
        """``prefix`` runs the agent under another command that ends by exec'ing it
        (``unshare``, ``setpriv``), so ``proc.pid`` is the agent's own."""
        self.log_path = log
        self._log = log.open("x")
        try:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "agent", "run", "-c", str(config)],
                stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=_env(env), cwd=REPO)
        except BaseException:
            self._log.close()
            raise

    def __repr__(self) -> str:
        code = self.proc.returncode
        state = "running" if code is None else f"exit {code}"
        return f"<agent pid {self.proc.pid}, {self.log_path.name}, {state}>"

    def log(self) -> str:
        """Everything this process logged so far."""
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Wait until this process logged ``text``; fail at once if it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self!r} exited before logging {text!r}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"{self!r} did not log {text!r} within {timeout}s:\n{self.log()}")

    def wait_for_first_cycle(self, timeout: float = 30.0) -> None:
        """Wait until every check of this process ran once."""
        self.wait_for_log(FIRST_CYCLE, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` (unless it already exited), reap it and return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        """kill -9, as a power cut or the OOM killer would."""
        self.stop(signal.SIGKILL)

    def reap(self) -> None:
        """Stop it whatever state it is in: SIGTERM, then SIGKILL if it does not exit."""
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class Agents:
    """Starts agents for one test, each with a log file of its own.

    Templates are plain text with ``{state}`` (the state directory), ``{url}`` (the
    receiver's json:// URL), ``{listen}`` (``127.0.0.1:`` and a free port), ``{host}``
    (``e2e-host``) and any name passed as a keyword filled in; YAML's own braces
    (``{crit: "> 0"}``) stay as written.
    """

    def __init__(self, tmp: Path, receiver: Receiver) -> None:
        self.tmp = tmp
        self.receiver = receiver
        self.config = tmp / "config.yaml"
        self.state = tmp / "state"
        self.started: list[AgentProcess] = []
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The listener port ``{listen}`` names (chosen once per test)."""
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def listen(self) -> str:
        """``127.0.0.1:PORT``, what ``{listen}`` fills in."""
        return f"127.0.0.1:{self.port}"

    def write_config(self, template: str, **values: object) -> Path:
        """Fill ``template`` in and write it as the config file; return its path."""
        known: dict[str, object] = {"state": self.state, "url": self.receiver.url(),
                                    "host": "e2e-host", **values}

        def fill(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "listen":
                return self.listen
            if name not in known:
                raise ValueError(f"config template names {{{name}}}, which nothing fills in")
            return str(known[name])

        self.config.write_text(_PLACEHOLDER.sub(fill, template))
        return self.config

    def start(self, template: str | None = None, *, env: dict[str, str] | None = None,
              prefix: Sequence[str] = (), **values: object) -> AgentProcess:
        """Start ``watchkeeper run`` on the config (written first from ``template``),
        under ``prefix`` when given (see ``AgentProcess``)."""
        if template is not None:
            self.write_config(template, **values)
        agent = AgentProcess(self.config, self.tmp / f"agent-{len(self.started) + 1}.log", env,
                             prefix)
        self.started.append(agent)
        return agent

    def reap(self) -> None:
        """Stop every agent started here that still runs."""
        for agent in self.started:
            agent.reap()


def outbox(state_dir: Path) -> list[dict[str, Any]]:
    """The outbox rows, read the way an operator would (sqlite3 on the state file)."""
    conn = sqlite3.connect(state_dir / "state.db", timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the agent is still creating the schema
            return []
        raise
    finally:
        conn.close()


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")
