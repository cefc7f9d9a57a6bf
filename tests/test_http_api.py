"""The agent's HTTP listener against real HTTP requests on 127.0.0.1, with a real store."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.clock import FakeClock
from agent.config.loader import parse_config
from agent.errors import ConfigError, StateError, WatchkeeperError
from agent.heartbeats import Ping, PingKind
from agent.http_api import Health, HttpApi, Listener, serve_agent, start_listener
from agent.http_wire import MAX_BODY_BYTES
from agent.listen_address import ListenAddress, parse_listen
from agent.store import Store
from tests.ports import free_port

T0 = 1_700_000_000.0
TOKEN = "s3cret-token-for-tests"


@dataclass
class Server:
    listener: Listener
    store: Store
    clock: FakeClock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.port}"

    def pings(self, name: str) -> list[Ping]:
        return self.store.heartbeat_pings(name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


async def start(store: Store, token: str | None = None, timeout: float = 5.0) -> Server:
    clock = FakeClock(T0)
    api = HttpApi(heartbeats={"nightly", "db backup", "a/b"}, sink=store,
                  health=lambda: Health("ok", 3, 1, 2), clock=clock, token=token,
                  timeout=timeout)
    return Server(await start_listener(ListenAddress("127.0.0.1", 0), api), store, clock)


@pytest.fixture
async def server(store: Store) -> AsyncIterator[Server]:
    s = await start(store)
    yield s
    await s.listener.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as c:
        yield c


async def raw(server: Server, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes; return everything the server answers before it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.listener.port)
    writer.write(data)
    if half_close:
        writer.write_eof()
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5.0)
    writer.close()
    return answer


# --- pings ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "ping"), [
    ("GET", "/ping/nightly", Ping(PingKind.SUCCESS, T0)),
    ("POST", "/ping/nightly", Ping(PingKind.SUCCESS, T0)),
    ("POST", "/ping/nightly/", Ping(PingKind.SUCCESS, T0)),
    ("GET", "/ping/nightly/start", Ping(PingKind.START, T0)),
    ("POST", "/ping/nightly/fail", Ping(PingKind.FAIL, T0)),
    ("POST", "/ping/nightly/0", Ping(PingKind.SUCCESS, T0, 0)),
    ("POST", "/ping/nightly/3", Ping(PingKind.FAIL, T0, 3)),
    ("GET", "/ping/nightly/255?note=x", Ping(PingKind.FAIL, T0, 255)),
])
async def test_a_ping_is_stored_and_answered_ok(server: Server, client: httpx.AsyncClient,
                                              method: str, path: str, ping: Ping) -> None:
    r = await client.request(method, server.url + path)
    assert (r.status_code, r.text) == (200, "OK")
    assert server.pings("nightly") == [ping]


async def test_names_are_percent_decoded(server: Server, client: httpx.AsyncClient) -> None:
    assert (await client.post(server.url + "/ping/db%20backup/start")).status_code == 200
    assert (await client.post(server.url + "/ping/a%2Fb")).status_code == 200
    assert [p.kind for p in server.pings("db backup")] == [PingKind.START]
    assert [p.kind for p in server.pings("a/b")] == [PingKind.SUCCESS]


@pytest.mark.parametrize(("path", "words"), [
    ("/ping/nosuch", "no heartbeat check named 'nosuch'"),
    ("/ping/nosuch/fail", "no heartbeat check named 'nosuch'"),
    ("/ping/nightly/256", "exit code 0-255"),
    ("/ping/nightly/-1", "exit code 0-255"),
    # Digits of other scripts are no exit code: a superscript two (int() refuses it: it
    # was a 500), a fullwidth three and an Arabic-Indic three (int() takes them).
    ("/ping/nightly/%C2%B2", "exit code 0-255"),
    ("/ping/nightly/%EF%BC%93", "exit code 0-255"),
    ("/ping/nightly/%D9%A3", "exit code 0-255"),
    ("/ping/nightly/finish", "start, fail or an exit code"),
    ("/ping/nightly/fail/3", "use /ping/NAME"),
    ("/ping", "use /ping/NAME"),
    ("/ping/", "use /ping/NAME"),
    ("/pingnightly", "not found"),
    ("/", "not found"),
    ("/metricsx", "not found"),
])
async def test_unknown_names_and_paths_are_404(server: Server, client: httpx.AsyncClient,
                                              path: str, words: str) -> None:
    r = await client.post(server.url + path)
    assert r.status_code == 404
    assert words in r.text
    assert server.pings("nightly") == []


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/ping/nightly", "GET, POST"),
    ("DELETE", "/ping/nightly/fail", "GET, POST"),
    ("HEAD", "/ping/nightly", "GET, POST"),
    ("POST", "/healthz", "GET, HEAD"),
])
async def test_wrong_methods_are_405(server: Server, client: httpx.AsyncClient, method: str,
                                     path: str, allow: str) -> None:
    r = await client.request(method, server.url + path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert server.pings("nightly") == []


# --- health --------------------------------------------------------------------------------

async def test_healthz_answers_small_json(server: Server, client: httpx.AsyncClient) -> None:
    r = await client.get(server.url + "/healthz")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok", "checks": 3, "open_alerts": 1,
                        "queued_notifications": 2}
    head = await client.head(server.url + "/healthz")
    assert head.status_code == 200 and head.content == b""


async def test_healthz_is_503_while_the_agent_has_a_problem(store: Store,
                                                            client: httpx.AsyncClient) -> None:
    api = HttpApi(heartbeats=(), sink=store, clock=FakeClock(T0), health=lambda: Health(
        "degraded", 3, 0, 0, ("config reload failed at T: 2 problems",)))
    listener = await start_listener(ListenAddress("127.0.0.1", 0), api)
    try:
        r = await client.get(f"http://127.0.0.1:{listener.port}/healthz")
    finally:
        await listener.close()
    assert (r.status_code, r.json()["status"], r.json()["problems"]) == \
        (503, "degraded", ["config reload failed at T: 2 problems"])


# --- the token -----------------------------------------------------------------------------

@pytest.fixture
async def guarded(store: Store) -> AsyncIterator[Server]:
    s = await start(store, token=TOKEN)
    yield s
    await s.listener.close()


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer",
                                  f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"])
@pytest.mark.parametrize("path", ["/ping/nightly", "/healthz", "/nowhere"])
async def test_with_a_token_every_request_needs_it(guarded: Server, client: httpx.AsyncClient,
                                                   auth: str | None, path: str) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    r = await client.get(guarded.url + path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in r.text
    assert guarded.pings("nightly") == []


async def test_the_right_token_is_let_in(guarded: Server, client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post(guarded.url + "/ping/nightly/fail", headers=auth)).text == "OK"
    assert (await client.get(guarded.url + "/healthz", headers=auth)).status_code == 200
    assert (await client.get(guarded.url + "/ping/x", headers=auth)).status_code == 404
    assert [p.kind for p in guarded.pings("nightly")] == [PingKind.FAIL]


# --- garbage, limits, timeouts -------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"hello\r\n\r\n",
    b"garbage without an end",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
    b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
    b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n\r\n",  # HTTP/1.1 without a Host
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n bad: folding\r\nHost: x\r\n\r\n",
    b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n",
    b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
    b"\r\nabcd",
    b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
])
async def test_garbage_gets_400(server: Server, data: bytes) -> None:
    answer = await raw(server, data, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.pings("nightly") == []


async def test_bare_newlines_are_understood(server: Server) -> None:
    answer = await raw(server, b"POST /ping/nightly HTTP/1.0\n\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nOK")


async def test_an_oversized_body_is_413(server: Server, client: httpx.AsyncClient) -> None:
    r = await client.post(server.url + "/ping/nightly", content=b"x" * (MAX_BODY_BYTES + 1))
    assert r.status_code == 413
    assert server.pings("nightly") == []
    ok = await client.post(server.url + "/ping/nightly", content=b"x" * MAX_BODY_BYTES)
    assert ok.status_code == 200


async def test_huge_headers_are_431(server: Server, client: httpx.AsyncClient) -> None:
    r = await client.get(server.url + "/healthz", headers={"X-Big": "y" * 20000})
    assert r.status_code == 431


async def test_a_chunked_body_is_411(server: Server, client: httpx.AsyncClient) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    r = await client.post(server.url + "/ping/nightly", content=body())
    assert r.status_code == 411


async def test_expect_100_continue_is_honoured(server: Server) -> None:
    answer = await raw(server, b"POST /ping/nightly HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")


async def test_a_slow_client_gets_408_and_the_listener_goes_on(store: Store) -> None:
    s = await start(store, timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", s.listener.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        answer = await asyncio.wait_for(reader.read(), 5.0)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        silent = await asyncio.open_connection("127.0.0.1", s.listener.port)
        silent[1].close()  # connects and leaves without a word
        assert (await raw(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                ).startswith(b"HTTP/1.1 200")
    finally:
        await s.listener.close()


class FullDisk:
    """A ping store whose every write fails, as on a full disk."""

    def record_ping(self, name: str, ping: Ping) -> None:
        raise StateError("state database state.db: database or disk is full")


async def test_a_store_failure_is_a_500_not_a_crash(client: httpx.AsyncClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    api = HttpApi(heartbeats={"nightly"}, sink=FullDisk(), health=lambda: Health("ok", 1, 0, 0),
                  clock=FakeClock(T0))
    listener = await start_listener(ListenAddress("127.0.0.1", 0), api)
    try:
        url = f"http://127.0.0.1:{listener.port}"
        r = await client.post(url + "/ping/nightly")
        assert (r.status_code, r.text) == (500, "cannot store the ping\n")
        assert "cannot store a ping of nightly: state database" in caplog.text
        assert (await client.get(url + "/healthz")).status_code == 200
    finally:
        await listener.close()


# --- addresses and the agent's listener ----------------------------------------------------

@pytest.mark.parametrize(("text", "host", "port", "loopback", "shown"), [
    ("127.0.0.1:9110", "127.0.0.1", 9110, True, "127.0.0.1:9110"),
    ("9110", "127.0.0.1", 9110, True, "127.0.0.1:9110"),
    ("localhost:80", "localhost", 80, True, "localhost:80"),
    ("[::1]:9110", "::1", 9110, True, "[::1]:9110"),
    ("0.0.0.0:9110", "0.0.0.0", 9110, False, "0.0.0.0:9110"),
    ("[::]:9110", "::", 9110, False, "[::]:9110"),
    ("10.1.2.3:9110", "10.1.2.3", 9110, False, "10.1.2.3:9110"),
    ("monitor.example.org:9110", "monitor.example.org", 9110, False,
     "monitor.example.org:9110"),
])
def test_listen_addresses(text: str, host: str, port: int, loopback: bool, shown: str) -> None:
    address = parse_listen(text)
    assert (address.host, address.port, address.loopback, str(address)) == \
        (host, port, loopback, shown)


@pytest.mark.parametrize(("address", "connect"), [
    ("0.0.0.0:1", "127.0.0.1"), ("[::]:1", "::1"), ("10.1.2.3:1", "10.1.2.3"),
])
def test_a_wildcard_bind_is_reached_through_loopback(address: str, connect: str) -> None:
    assert parse_listen(address).connect_host == connect


@pytest.mark.parametrize(("text", "message"), [
    ("", "expected host:port"), ("nonsense", "expected host:port"), (":9110", "expected"),
    ("::1:9110", "expected host:port"), ("127.0.0.1:http", "expected host:port"),
    ("127.0.0.1:0", "port must be 1-65535"), ("127.0.0.1:70000", "port must be 1-65535"),
    ("bad_host!:9110", "expected host:port"),
])
def test_bad_listen_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_listen(text)




def agent_config(tmp_path: Path, listen: str, token: str | None = None) -> str:
    token_line = f"  token: {token}\n" if token else ""
    return f"""
agent:
  state_dir: {tmp_path / 'state'}
  listen: "{listen}"
{token_line}checks:
  - name: nightly
    kind: heartbeat
    period: 1d
  - name: paused
    kind: heartbeat
    period: 1d
    enabled: false
  - name: mem
    kind: memory
"""


async def test_the_agent_listener_logs_where_it_listens_and_serves_heartbeats(
        tmp_path: Path, store: Store, client: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    config = parse_config(agent_config(tmp_path, f"127.0.0.1:{port}", TOKEN))
    caplog.set_level(logging.INFO, logger="watchkeeper.http")
    listener = await serve_agent(config, store, FakeClock(T0))
    try:
        assert f"listening on 127.0.0.1:{port}; requests need the bearer token" in caplog.text
        assert TOKEN not in caplog.text
        auth = {"Authorization": f"Bearer {TOKEN}"}
        base = f"http://127.0.0.1:{port}"
        health = (await client.get(base + "/healthz", headers=auth)).json()
        assert health == {"status": "ok", "checks": 2, "open_alerts": 0,
                          "queued_notifications": 0}
        assert TOKEN not in json.dumps(health)
        assert (await client.post(base + "/ping/nightly", headers=auth)).status_code == 200
        assert (await client.post(base + "/ping/paused", headers=auth)).status_code == 200
        assert (await client.post(base + "/ping/mem", headers=auth)).status_code == 404
    finally:
        await listener.close()


async def test_a_taken_port_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = parse_config(agent_config(tmp_path, f"127.0.0.1:{port}"))
        with pytest.raises(WatchkeeperError,
                           match=f"cannot listen on 127.0.0.1:{port}: address already in use"):
            await serve_agent(config, store, FakeClock(T0))


@pytest.mark.parametrize("listen", ["0.0.0.0:9110", "[::]:9110", "10.1.2.3:9110"])
def test_listening_beyond_loopback_needs_a_token_in_the_config(tmp_path: Path,
                                                               listen: str) -> None:
    with pytest.raises(ConfigError, match=r"reachable from other hosts: set token") as e:
        parse_config(agent_config(tmp_path, listen))
    assert e.value.issues[0].line == 2
    assert parse_config(agent_config(tmp_path, listen, TOKEN)).agent.token == TOKEN


def test_the_token_may_come_from_a_file_and_never_shows(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    config = parse_config(agent_config(tmp_path, "0.0.0.0:9110", "${file:token}"),
                          base_dir=tmp_path)
    assert config.agent.token == TOKEN
    assert TOKEN not in repr(config.agent)


@pytest.mark.parametrize(("agent_lines", "message"), [
    ('  listen: "nonsense"\n', "agent.listen: expected host:port like 127.0.0.1:9110"),
    ('  listen: "127.0.0.1:9110"\n  token: " "\n', "agent.token: must not be empty"),
])
def test_bad_listener_settings_name_the_key(agent_lines: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config("agent:\n" + agent_lines)
