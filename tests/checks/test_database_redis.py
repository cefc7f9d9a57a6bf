"""The database check against real Redis servers on 127.0.0.1.

The shared server on 6379 serves the read-only cases. Cases that need a password, a
``maxmemory``, keys or a replica start their own redis-server on a free port (the shared
server's configuration is never changed) and stop it afterwards.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from agent.model import Status
from tests.checks.db_support import probe
from tests.ports import free_port
from tests.servers.sockets import refused_port

PASSWORD = "s3cret-redis-pw"


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=PASSWORD)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_redis(workdir: Path, *args: str) -> RedisServer:
    """A redis-server of our own on a free port, with a password; waits until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", "",
         "--requirepass", PASSWORD, *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(port, proc)
    deadline = time.monotonic() + 10
    while True:
        try:
            server.client().ping()
            return server
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                server.stop()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.02)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"), "--maxmemory", "64mb")
    yield server
    server.stop()


def own(server: RedisServer, **extra: object) -> dict[str, object]:
    return {"engine": "redis", "host": "127.0.0.1", "port": server.port,
            "password": PASSWORD, **extra}


async def test_shared_server_reports_its_metrics() -> None:
    result = await probe({"engine": "redis", "host": "127.0.0.1", "port": 6379})
    assert result.status is Status.OK, result.summary
    m = result.metrics
    assert m["up"] == 1.0
    assert m["connect_ms"] > 0 and m["query_ms"] > 0
    assert m["connected_clients"] >= 1
    assert m["rejected_connections"] >= 0
    assert 0 < m["connections_used_percent"] <= 100
    assert "replication_link_up" not in m
    config = redis.Redis(host="127.0.0.1", port=6379).config_get("maxmemory")
    maxmemory = int(str(config["maxmemory"]))
    assert ("used_memory_percent" in m) == (maxmemory > 0)
    assert result.summary.startswith("redis at 127.0.0.1:6379 up: connect ")


async def test_used_memory_percent_with_a_maxmemory(own_redis: RedisServer) -> None:
    result = await probe(own(own_redis))
    assert result.status is Status.OK, result.summary
    assert 0 < result.metrics["used_memory_percent"] < 100


async def test_password_in_a_dsn(own_redis: RedisServer) -> None:
    result = await probe({"engine": "redis",
                          "dsn": f"redis://:{PASSWORD}@127.0.0.1:{own_redis.port}/0"})
    assert result.status is Status.OK, result.summary


@pytest.mark.parametrize("password", ["wr0ng-pw", None])
async def test_wrong_or_missing_password_is_an_authentication_failure(
        own_redis: RedisServer, password: str | None) -> None:
    options = own(own_redis)
    options.pop("password")
    if password is not None:
        options["password"] = password
    result = await probe(options)
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               "authentication failed for user default")
    assert result.metrics == {"up": 0.0}
    assert "wr0ng-pw" not in (result.error or "")


async def test_custom_command_value(own_redis: RedisServer) -> None:
    client = own_redis.client()
    client.delete("jobs")
    client.rpush("jobs", "a", "b", "c")
    result = await probe(own(own_redis, query="LLEN jobs", metric="queued_jobs"))
    assert result.status is Status.OK
    assert result.metrics["queued_jobs"] == 3.0


@pytest.mark.parametrize(("query", "status", "summary"), [
    ("GET no-such-key", Status.UNKNOWN, "query returned nothing (nil)"),
    ("NOSUCHCOMMAND x", Status.CRITICAL, "unknown command 'NOSUCHCOMMAND'"),
    ("LLEN a-string", Status.CRITICAL, "WRONGTYPE Operation against a key holding"),
])
async def test_failing_commands(own_redis: RedisServer, query: str, status: Status,
                                summary: str) -> None:
    own_redis.client().set("a-string", "x")
    result = await probe(own(own_redis, query=query))
    assert result.status is status
    assert result.summary.startswith(summary)


async def test_command_past_the_timeout(own_redis: RedisServer) -> None:
    started = time.monotonic()
    result = await probe(own(own_redis, query="BLPOP empty-list 10"), timeout=1.0)
    assert time.monotonic() - started < 1.5  # gave up at the timeout (slack for a busy machine)
    assert (result.status, result.summary) == (Status.CRITICAL, "query timed out after 1s")


async def test_refused_port_is_critical_and_down() -> None:
    with refused_port() as port:
        result = await probe({"engine": "redis", "port": port})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               f"connection refused at 127.0.0.1:{port}")


async def test_runs_leave_no_connection_open(own_redis: RedisServer) -> None:
    for _ in range(3):
        await probe(own(own_redis))
    client = own_redis.client()
    for _ in range(50):
        names = [c.get("name") for c in client.client_list()]
        if "watchkeeper" not in names:
            break
        await asyncio.sleep(0.02)
    assert "watchkeeper" not in names


async def test_replica_reports_whether_its_link_is_up(tmp_path: Path) -> None:
    # No diskless-sync delay, so the replica syncs at once (the default waits 5 s).
    primary = start_redis(tmp_path / "primary", "--repl-diskless-sync-delay", "0")
    replica = start_redis(tmp_path / "replica", "--replicaof", "127.0.0.1", str(primary.port),
                          "--masterauth", PASSWORD)
    try:
        async def link_up() -> float:
            return (await probe(own(replica))).metrics["replication_link_up"]

        for _ in range(250):
            if await link_up() == 1.0:
                break
            await asyncio.sleep(0.02)
        assert await link_up() == 1.0
        primary.stop()
        for _ in range(250):
            if await link_up() == 0.0:
                break
            await asyncio.sleep(0.02)
        assert await link_up() == 0.0
        assert "replication_link_up" not in (await probe({"engine": "redis"})).metrics
    finally:
        replica.stop()
        primary.stop()
