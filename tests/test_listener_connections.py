"""The listener's connections against real sockets on 127.0.0.1: the token refused before a
body is read, kept-alive connections, deadlines, and the bound per client."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agent.clock import FakeClock
from agent.heartbeats import Ping
from agent.http_api import Health, HttpApi, Listener, start_listener
from agent.listen_address import ListenAddress
from agent.listener_policy import ConnectionLimits
from agent.listener_server import OpenFiles
from agent.store import Store

T0 = 1_700_000_000.0
TOKEN = "listener-token-for-tests"
AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()
#: Deadlines short enough for a test to see them pass; the hang guard is far longer.
QUICK = ConnectionLimits(request_timeout=0.3, idle_timeout=0.3, per_client=4, total=16)
#: The same bounds with the usual deadlines, where none is to pass.
ROOMY = ConnectionLimits(per_client=4, total=16)
GUARD = 10.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


async def listen(sink: object, limits: ConnectionLimits | None = None,
                 token: str | None = TOKEN) -> Listener:
    api = HttpApi(heartbeats={"nightly"}, sink=sink,  # type: ignore[arg-type]
                  health=lambda: Health("ok", 1, 0, 0), clock=FakeClock(T0), token=token)
    return await start_listener(ListenAddress("127.0.0.1", 0), api, limits)


@pytest.fixture
async def quick(store: Store) -> AsyncIterator[Listener]:
    listener = await listen(store, QUICK)
    yield listener
    await listener.close()


@pytest.fixture
async def roomy(store: Store) -> AsyncIterator[Listener]:
    listener = await listen(store, ROOMY)
    yield listener
    await listener.close()


class Conn:
    """A raw client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, listener: Listener) -> Conn:
        return cls(*await asyncio.open_connection("127.0.0.1", listener.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> bytes:
        """One response (headers and a Content-Length body)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), GUARD)
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        return head + await asyncio.wait_for(self.reader.readexactly(length), GUARD)

    async def rest(self) -> bytes:
        """Everything until the listener closes the connection (b"" after a reset)."""
        try:
            return await asyncio.wait_for(self.reader.read(), GUARD)
        except ConnectionResetError:
            return b""

    def close(self) -> None:
        self.writer.close()


def ping_request(extra: bytes = b"", close: bool = False) -> bytes:
    return (b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + AUTH + extra
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")


# -- the token before the body -------------------------------------------------------------

HUGE = b"Content-Length: 10737418240\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n"


@pytest.mark.parametrize(("auth", "body", "status"), [
    (b"", HUGE, b"401 Unauthorized"),
    (b"", CHUNKED, b"401 Unauthorized"),
    (b"Authorization: Bearer wrong\r\n", HUGE, b"401 Unauthorized"),
    (AUTH, HUGE, b"413 Request Entity Too Large"),
    (AUTH, CHUNKED, b"411 Length Required"),
])
async def test_a_body_is_refused_from_the_headers_before_it_is_sent(
        roomy: Listener, store: Store, auth: bytes, body: bytes, status: bytes) -> None:
    conn = await Conn.open(roomy)
    await conn.send(b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    + body + auth + b"\r\n")
    answer = await conn.rest()  # answered and closed without a byte of the body
    assert answer.startswith(b"HTTP/1.1 " + status + b"\r\n")
    assert b"100 Continue" not in answer and b"Connection: close\r\n" in answer
    assert store.heartbeat_pings("nightly") == []


async def test_a_body_sent_without_the_token_gets_its_401_not_a_reset(roomy: Listener) -> None:
    async with httpx.AsyncClient(timeout=GUARD) as client:
        r = await client.post(f"http://127.0.0.1:{roomy.port}/ping/nightly",
                              content=b"x" * 60_000)
    assert r.status_code == 401


# -- keep-alive ----------------------------------------------------------------------------

async def test_requests_follow_each_other_on_one_connection(roomy: Listener,
                                                            store: Store) -> None:
    conn = await Conn.open(roomy)
    await conn.send(ping_request() + ping_request())  # pipelined
    first, second = await conn.answer(), await conn.answer()
    await conn.send(ping_request(close=True))
    third = await conn.rest()
    assert [a.split(b"\r\n")[0] for a in (first, second, third)] == [b"HTTP/1.1 200 OK"] * 3
    assert len(store.heartbeat_pings("nightly")) == 3


async def test_an_idle_kept_alive_connection_is_closed(quick: Listener) -> None:
    conn = await Conn.open(quick)
    await conn.send(ping_request())
    assert (await conn.answer()).startswith(b"HTTP/1.1 200 OK\r\n")
    assert await conn.rest() == b""  # closed by the listener, without a word


async def test_a_silent_connection_is_closed_without_an_answer(quick: Listener) -> None:
    conn = await Conn.open(quick)
    assert await conn.rest() == b""


async def test_a_slowloris_dribbling_its_headers_still_gets_408(quick: Listener) -> None:
    conn = await Conn.open(quick)
    await conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

    async def dribble() -> None:
        for i in range(200):
            await asyncio.sleep(0.02)
            await conn.send(b"X-%d: y\r\n" % i)

    task = asyncio.create_task(dribble())
    answer = await conn.rest()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


# -- the bound per client ------------------------------------------------------------------

async def test_idle_connections_make_way_for_a_ping(roomy: Listener, store: Store) -> None:
    idle = [await Conn.open(roomy) for _ in range(3 * ROOMY.per_client)]
    slow = [await Conn.open(roomy) for _ in range(ROOMY.per_client)]
    for conn in slow:
        await conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    ping = await Conn.open(roomy)
    await ping.send(ping_request(close=True))
    assert (await ping.rest()).startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(store.heartbeat_pings("nightly")) == 1
    # The oldest ones were dropped at once to make room.
    assert [await c.rest() for c in idle] == [b""] * len(idle)
    assert roomy.hub.table.count("127.0.0.1") <= ROOMY.per_client


class Blocking:
    """A ping store that holds every write until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def record_ping(self, name: str, ping: Ping) -> None:
        self.release.wait(GUARD)


async def test_only_requests_being_answered_are_kept_when_a_client_is_at_its_bound() -> None:
    sink = Blocking()
    listener = await listen(sink, ConnectionLimits(per_client=2, total=16))
    try:
        busy = [await Conn.open(listener) for _ in range(2)]
        for conn in busy:
            await conn.send(ping_request(close=True))
        while listener.hub.table.count("127.0.0.1") < 2 or any(
                c._phase.value != "handling" for c in listener.hub.live.values()):
            await asyncio.sleep(0.01)
        late = await Conn.open(listener)
        refused = await late.rest()
        sink.release.set()
        answers = [await c.rest() for c in busy]
    finally:
        sink.release.set()
        await listener.close()
    assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)


async def test_without_a_token_the_headers_are_enough_to_answer(store: Store) -> None:
    listener = await listen(store, QUICK, token=None)
    try:
        conn = await Conn.open(listener)
        await conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert (await conn.rest()).startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        await listener.close()


# -- the open files limit ------------------------------------------------------------------

def test_the_listener_raises_a_low_open_files_limit() -> None:
    script = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from agent.listener_server import raise_open_files_limit
print(raise_open_files_limit(1024).report(1024)[1])
print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
print(raise_open_files_limit(1024).report(1024))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.splitlines() == ["open files limit raised from 256 to 1024", "1024",
                                       "None"]


@pytest.mark.parametrize(("open_files", "level", "line"), [
    (OpenFiles(1024, 4096, 524288), logging.INFO, "open files limit raised from 1024 to 4096"),
    (OpenFiles(4096, 4096, 524288), None, None),
    (OpenFiles(1024, 1024, 1024), logging.WARNING,
     "the open files limit is 1024 (hard limit 1024): the listener keeps at most 512 "
     "connections"),
    (OpenFiles(1024, 1024, 8192, "not permitted"), logging.WARNING,
     "cannot raise the open files limit from 1024: not permitted"),
])
def test_what_the_agent_says_about_its_open_files_limit(
        open_files: OpenFiles, level: int | None, line: str | None) -> None:
    said = open_files.report(4096)
    assert (said or (None, None)) == (level, line)


async def test_a_flood_from_one_address_leaves_another_clients_connection_alone(
        roomy: Listener, store: Store) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", roomy.port,
                                                   local_addr=("127.0.0.2", 0))
    other = Conn(reader, writer)
    await other.send(ping_request())
    assert (await other.answer()).startswith(b"HTTP/1.1 200 OK\r\n")  # now kept alive
    flood = [await Conn.open(roomy) for _ in range(3 * ROOMY.per_client)]
    await other.send(ping_request(close=True))
    assert (await other.rest()).startswith(b"HTTP/1.1 200 OK\r\n")
    assert roomy.hub.table.count("127.0.0.1") == ROOMY.per_client
    for conn in flood:
        conn.close()
