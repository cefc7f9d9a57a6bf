"""The listener of a real ``watchkeeper run`` under a flood from 127.0.0.1: a thousand idle
and slowloris connections, held open and reopened as the agent drops them, while a cron
job's pings (the ping command's own client) must all get through; and a request without
the token refused before its body is sent."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.cli.ping import PingTarget, send_ping
from tests.e2e.agent_process import AGENT, Agents
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

TOKEN = "e2e-flood-token-0123456789"
IDLE, SLOW, PINGS = 500, 500, 40
#: The hang guard of every wait here (no timing is asserted).
GUARD = 60.0

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


@contextlib.contextmanager
def open_files_limit(soft: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE set to ``soft`` (within the hard limit) for a
    while; children started meanwhile keep it."""
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))


class Flood:
    """Holds ``idle`` silent and ``slow`` slowloris connections (a header line now and
    then, never the end) to the listener from a thread of its own; each one the listener
    closes is opened again, until the flood stops."""

    def __init__(self, port: int, idle: int, slow: int) -> None:
        self.port = port
        self.kinds = [False] * idle + [True] * slow
        self.opened = 0
        self.dropped = 0
        self.up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Flood:
        self._thread.start()
        assert self.up.wait(GUARD), f"only {self.opened} flood connections opened"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(GUARD)

    async def _run(self) -> None:
        await asyncio.gather(*(self._hold(slow) for slow in self.kinds))

    async def _hold(self, slow: bool) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.opened += 1
            if self.opened >= len(self.kinds):
                self.up.set()
            try:
                if slow:
                    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while not self._stop.is_set():
                    if slow:
                        writer.write(b"X-Slow: still coming\r\n")
                    with contextlib.suppress(TimeoutError):
                        if not await asyncio.wait_for(reader.read(4096), 0.5):
                            self.dropped += 1  # closed by the listener
                            break
            except OSError:
                self.dropped += 1  # reset by the listener
            finally:
                writer.close()
            await asyncio.sleep(0.05)


def pings(state: Path) -> list[str]:
    conn = sqlite3.connect(state / "state.db", timeout=10)
    try:
        return [r[0] for r in conn.execute(
            "SELECT kind FROM heartbeats WHERE name = 'nightly' ORDER BY id")]
    finally:
        conn.close()


def start_agent(agents: Agents) -> Agents:
    (agents.tmp / "token").write_text(TOKEN + "\n")
    # Started with the usual default soft limit: the listener raises it for itself.
    with open_files_limit(1024):
        agent = agents.start(CONFIG)
    agent.wait_for_log(f"listening on {agents.listen}")
    return agents


def test_every_ping_gets_through_a_thousand_idle_and_slowloris_connections(
        agents: Agents, receiver: Receiver) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + SLOW + 200:
        pytest.skip(f"the open files limit ({hard}) is too low for the flood")
    start_agent(agents)
    (agent,) = agents.started
    target = PingTarget("127.0.0.1", agents.port, token=TOKEN, timeout=GUARD)
    with open_files_limit(IDLE + SLOW + 1000), Flood(agents.port, IDLE, SLOW) as flood:
        # The cron jobs, a few at a time, the way a busy crontab pings at the full hour.
        with ThreadPoolExecutor(max_workers=8) as jobs:
            done = list(jobs.map(lambda _: send_ping(target, "nightly"), range(PINGS - 1)))
        send_ping(target, "nightly", "fail")
        # The heartbeat check judged the pings: the failure is announced, nothing else.
        (firing,) = receiver.wait_for(1, timeout=GUARD)
        opened, dropped = flood.opened, flood.dropped
    assert len(done) == PINGS - 1  # every send_ping returned: each got its 200
    assert "job reported failure" in str(firing["message"])
    assert opened >= IDLE + SLOW and dropped > 0
    assert agent.stop() == 0
    assert pings(agents.state) == ["success"] * (PINGS - 1) + ["fail"]
    log = agent.log()
    assert "open files limit raised from 1024 to" in log
    assert "dropping the oldest idle connections" in log
    assert "Traceback" not in log and TOKEN not in log


@pytest.mark.parametrize(("auth", "status"), [
    (b"", b"401 Unauthorized"),
    (f"Authorization: Bearer {TOKEN}\r\n".encode(), b"413 Request Entity Too Large"),
])
def test_a_huge_body_is_refused_before_it_is_sent(agents: Agents, auth: bytes,
                                                  status: bytes) -> None:
    start_agent(agents)
    with socket.create_connection(("127.0.0.1", agents.port), timeout=GUARD) as sock:
        sock.sendall(b"POST /ping/nightly HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 107374182400\r\n" + auth + b"\r\n")
        answer = b""
        while chunk := sock.recv(4096):  # the agent answers and closes: no body was sent
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 " + status + b"\r\n")
    (agent,) = agents.started
    assert agent.stop() == 0
    assert pings(agents.state) == []
