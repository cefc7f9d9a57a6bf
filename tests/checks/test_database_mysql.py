"""The database check against the real MariaDB on 127.0.0.1:3306 (root, no password)."""

from __future__ import annotations

import logging
import time
import uuid

import pymysql
import pytest

from agent.model import Status
from tests.checks.db_support import probe
from tests.servers.sockets import refused_port, silent_port

MYSQL = {"engine": "mysql", "host": "127.0.0.1", "port": 3306, "user": "root",
         "database": "test"}


def processlist_matching(marker: str) -> list[tuple[object, ...]]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()", (f"%{marker}%",))
            return list(cur.fetchall())
    finally:
        conn.close()


async def test_healthy_server_reports_its_metrics() -> None:
    result = await probe(MYSQL)
    assert result.status is Status.OK, result.summary
    m = result.metrics
    assert m["up"] == 1.0
    assert m["connect_ms"] > 0 and m["query_ms"] > 0
    assert m["threads_connected"] >= 1
    assert 0 < m["connections_used_percent"] <= 100
    assert "replica_lag_seconds" not in m  # not a replica
    assert result.summary.startswith("mysql at 127.0.0.1:3306 up: connect ")


async def test_custom_query_value_through_a_dsn() -> None:
    result = await probe({"engine": "mysql", "dsn": "mysql://root@127.0.0.1:3306/test",
                          "query": "SELECT 6 * 7", "metric": "answer"})
    assert result.status is Status.OK
    assert result.metrics["answer"] == 42.0


async def test_refused_port_is_critical_and_down() -> None:
    with refused_port() as port:
        result = await probe({**MYSQL, "port": port})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               f"connection refused at 127.0.0.1:{port}")
    assert result.metrics == {"up": 0.0}


async def test_wrong_password_is_an_authentication_failure_without_the_password(
        caplog: pytest.LogCaptureFixture) -> None:
    # root@127.0.0.1 has no password, so any password given is wrong.
    caplog.set_level(logging.DEBUG)
    result = await probe({**MYSQL, "password": "wr0ng-pw"})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               "authentication failed for user root")
    assert "wr0ng-pw" not in (result.error or "") + caplog.text


async def test_unanswered_connect_times_out() -> None:
    with silent_port() as port:  # accepts at the TCP level, never sends the server greeting
        started = time.monotonic()
        result = await probe({**MYSQL, "port": port}, timeout=1.0)
    assert time.monotonic() - started < 1.5  # gave up at the timeout (slack for a busy machine)
    assert (result.status, result.summary) == (
        Status.CRITICAL, f"connection to 127.0.0.1:{port} timed out after 1s")


async def test_query_past_the_timeout_stops_on_the_server() -> None:
    marker = f"wk_{uuid.uuid4().hex}"
    started = time.monotonic()
    result = await probe({**MYSQL, "query": f"SELECT SLEEP(10) /* {marker} */"}, timeout=1.0)
    assert time.monotonic() - started < 1.5  # gave up at the timeout (slack for a busy machine)
    assert (result.status, result.summary) == (Status.CRITICAL, "query timed out after 1s")
    assert result.metrics["up"] == 1.0
    deadline = time.monotonic() + 2.0
    while processlist_matching(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processlist_matching(marker) == []


async def test_missing_table_is_critical_with_the_server_message() -> None:
    result = await probe({**MYSQL, "query": "SELECT count(*) FROM missing_table"})
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               "Table 'test.missing_table' doesn't exist")
    assert result.metrics["up"] == 1.0


@pytest.mark.parametrize(("query", "summary"), [
    ("SELECT 'abc'", "query returned 'abc', not a number"),
    ("SELECT NULL", "query returned NULL, not a number"),
])
async def test_a_query_without_one_number_is_unknown(query: str, summary: str) -> None:
    result = await probe({**MYSQL, "query": query})
    assert (result.status, result.summary) == (Status.UNKNOWN, summary)


async def test_unknown_database_is_named() -> None:
    result = await probe({**MYSQL, "database": "no_such_db"})
    assert (result.status, result.summary) == (
        Status.CRITICAL, "cannot connect to 127.0.0.1:3306: Unknown database 'no_such_db'")
    assert result.metrics == {"up": 0.0}


def mysql(query: str) -> list[tuple[object, ...]]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test",
                           autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return list(cur.fetchall())
    finally:
        conn.close()


async def test_a_query_with_a_huge_result_reads_its_first_row_and_stops_the_rest() -> None:
    """Only the first row is used: the rest is neither buffered in the agent nor sent to
    the end (a sequence counts the rows the server really produced), and the health
    figures are still read."""
    seq = f"wk_rows_{uuid.uuid4().hex[:8]}"
    total = 5_000_000
    mysql(f"CREATE SEQUENCE {seq}")
    try:
        result = await probe({**MYSQL, "query": f"SELECT NEXTVAL({seq}) "
                                                f"FROM seq_1_to_{total}"}, timeout=30)
        for _ in range(50):  # the server stops at its next write to the closed connection
            if not processlist_matching(seq):
                break
            time.sleep(0.1)
        (produced,), = mysql(f"SELECT next_not_cached_value FROM {seq}")
    finally:
        mysql(f"DROP SEQUENCE {seq}")
    assert result.status is Status.OK, result.summary
    assert result.metrics["query_value"] == 1.0
    assert "threads_connected" in result.metrics
    assert isinstance(produced, int) and produced < total // 3
    assert not processlist_matching(seq)
