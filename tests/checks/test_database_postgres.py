"""The database check against the real PostgreSQL on 127.0.0.1:5432 (database ``test``).

That server trusts every local connection, so it accepts any password. The wrong-password
case therefore runs against a stand-in on 127.0.0.1 that speaks the PostgreSQL wire
protocol as far as password authentication and answers every password with the server's
own error (SQLSTATE 28P01): the real psycopg/libpq client goes through its real path.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg
import pytest

from agent.model import Status
from tests.checks.db_support import probe
from tests.servers.sockets import refused_port, silent_port

PG = {"engine": "postgres", "host": "127.0.0.1", "port": 5432, "database": "test"}


def sql(query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(host="127.0.0.1", port=5432, dbname="test", autocommit=True) as conn:
        return conn.execute(query).fetchall()


async def test_healthy_server_reports_its_metrics() -> None:
    result = await probe(PG)
    assert result.status is Status.OK, result.summary
    m = result.metrics
    assert m["up"] == 1.0
    assert m["connect_ms"] > 0 and m["query_ms"] > 0
    assert 0 < m["connections_used_percent"] <= 100
    assert m["database_size_bytes"] > 1_000_000
    assert m["oldest_xact_seconds"] >= 0
    assert "replication_lag_seconds" not in m  # a primary
    assert result.summary.startswith("postgres at 127.0.0.1:5432 up: connect ")
    assert result.problems() == []


async def test_custom_query_value_becomes_the_named_metric() -> None:
    result = await probe({"engine": "postgres", "dsn": "postgresql://127.0.0.1:5432/test",
                          "query": "SELECT count(*) FROM generate_series(1, 7)",
                          "metric": "seven_rows"})
    assert result.status is Status.OK
    assert result.metrics["seven_rows"] == 7.0
    assert "seven_rows = 7" in result.summary


async def test_oldest_transaction_age_sees_an_open_transaction() -> None:
    with psycopg.connect(host="127.0.0.1", port=5432, dbname="test") as other:
        other.execute("SELECT txid_current()")  # opens a transaction and keeps it open
        await asyncio.sleep(0.3)
        result = await probe(PG)
    assert result.metrics["oldest_xact_seconds"] >= 0.25


async def test_refused_port_is_critical_and_down() -> None:
    with refused_port() as port:
        result = await probe({**PG, "port": port})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               f"connection refused at 127.0.0.1:{port}")
    assert result.metrics == {"up": 0.0}


async def test_unanswered_connect_times_out() -> None:
    with silent_port() as port:  # accepts at the TCP level, never answers the startup packet
        started = time.monotonic()
        result = await probe({**PG, "port": port}, timeout=1.0)
    assert time.monotonic() - started < 1.5  # gave up at the timeout (slack for a busy machine)
    assert (result.status, result.summary) == (
        Status.CRITICAL, f"connection to 127.0.0.1:{port} timed out after 1s")


async def test_query_past_the_timeout_is_cancelled_on_the_server() -> None:
    marker = f"wk_{uuid.uuid4().hex}"
    started = time.monotonic()
    result = await probe({**PG, "query": f"SELECT pg_sleep(10) /* {marker} */"}, timeout=1.0)
    assert time.monotonic() - started < 1.5  # gave up at the timeout (slack for a busy machine)
    assert (result.status, result.summary) == (Status.CRITICAL, "query timed out after 1s")
    assert result.metrics["up"] == 1.0
    running = sql(f"SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                  f"AND query LIKE '%{marker}%' AND pid <> pg_backend_pid()")
    assert running == []


async def test_missing_table_is_critical_with_the_server_message() -> None:
    result = await probe({**PG, "query": "SELECT count(*) FROM missing_table"})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               'relation "missing_table" does not exist')
    assert result.metrics["up"] == 1.0


@pytest.mark.parametrize(("query", "summary"), [
    ("SELECT 'abc'", "query returned 'abc', not a number"),
    ("SELECT 1 WHERE false", "query returned no rows"),
    ("SELECT NULL", "query returned NULL, not a number"),
])
async def test_a_query_without_one_number_is_unknown(query: str, summary: str) -> None:
    result = await probe({**PG, "query": query})
    assert (result.status, result.summary) == (Status.UNKNOWN, summary)


async def test_driver_errors_are_scrubbed_of_the_dsn_password(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-dsn"
    # The server echoes the database name, which here is the password.
    result = await probe({"engine": "postgres",
                          "dsn": f"postgresql://root:{secret}@127.0.0.1:5432/{secret}"})
    assert result.status is Status.CRITICAL
    assert result.summary == 'cannot connect to 127.0.0.1:5432: database "***" does not exist'
    assert secret not in (result.error or "")
    assert secret not in caplog.text


async def test_runs_leave_no_connection_open() -> None:
    for _ in range(3):
        assert (await probe(PG)).status is Status.OK
    await probe({**PG, "query": "SELECT count(*) FROM missing_table"})
    for _ in range(50):
        left = sql("SELECT count(*) FROM pg_stat_activity "
                   "WHERE application_name = 'watchkeeper'")
        if left[0][0] == 0:
            break
        await asyncio.sleep(0.02)
    assert left[0][0] == 0


@dataclass
class PasswordServer:
    """A stand-in PostgreSQL server that rejects every password (see module docstring)."""

    port: int = 0
    passwords: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            user = b"?"
            while True:
                length, code = struct.unpack("!ii", await reader.readexactly(8))
                if length == 8 and code in (80877103, 80877104):  # SSL / GSS encryption
                    writer.write(b"N")
                    continue
                params = (await reader.readexactly(length - 8)).split(b"\0")
                user = params[params.index(b"user") + 1] if b"user" in params else user
                break
            writer.write(b"R" + struct.pack("!ii", 8, 3))  # cleartext password, please
            await writer.drain()
            await reader.readexactly(1)
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            self.passwords.append((await reader.readexactly(length - 4)).rstrip(b"\0"))
            message = b'password authentication failed for user "' + user + b'"'
            body = b"SFATAL\0VFATAL\0C28P01\0M" + message + b"\0\0"
            writer.write(b"E" + struct.pack("!i", len(body) + 4) + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def password_server() -> AsyncIterator[PasswordServer]:
    stand_in = PasswordServer()
    server = await asyncio.start_server(stand_in.handle, "127.0.0.1", 0)
    stand_in.port = server.sockets[0].getsockname()[1]
    async with server:
        yield stand_in


async def test_wrong_password_is_an_authentication_failure_without_the_password(
        password_server: PasswordServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = await probe({"engine": "postgres",
                          "dsn": f"postgresql://monitor:wr0ng-pw@127.0.0.1:"
                                 f"{password_server.port}/app"})
    assert password_server.passwords == [b"wr0ng-pw"]  # the DSN's password was sent
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               "authentication failed for user monitor")
    assert result.metrics == {"up": 0.0}
    assert "wr0ng-pw" not in (result.error or "") + caplog.text


def ddl(statement: str) -> None:
    with psycopg.connect(host="127.0.0.1", port=5432, dbname="test", autocommit=True) as conn:
        conn.execute(statement)


async def test_a_query_with_a_huge_result_reads_its_first_row_and_cancels_the_rest() -> None:
    """Only the first row is used: the rest is neither buffered in the agent nor left
    running on the server (a sequence counts the rows the server really produced)."""
    seq = f"wk_rows_{uuid.uuid4().hex[:8]}"
    total = 3_000_000
    ddl(f"CREATE SEQUENCE {seq}")
    try:
        result = await probe({**PG, "query": f"SELECT nextval('{seq}') "
                                             f"FROM generate_series(1, {total})"}, timeout=30)
        produced = sql(f"SELECT last_value FROM {seq}")[0][0]
    finally:
        ddl(f"DROP SEQUENCE {seq}")
    assert result.status is Status.OK, result.summary
    assert result.metrics["query_value"] == 1.0
    assert isinstance(produced, int) and produced < total // 3
    assert not sql(f"SELECT pid FROM pg_stat_activity WHERE query LIKE '%{seq}%' "
                   "AND pid <> pg_backend_pid()")
