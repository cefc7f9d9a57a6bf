"""MySQL and MariaDB for the ``database`` check (PyMySQL in a worker thread).

PyMySQL blocks, so every call runs in a thread. The thread's own socket timeouts and a
server-side statement limit end a slow query; if the event loop gives up first, the
connection is closed as soon as the thread lets go of it, never from two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pymysql
import pymysql.cursors

from checks.database.check import ProbeError, Reason, Target

T = TypeVar("T")

_AUTH_ERRORS = {1045, 1044, 1698}  # access denied (password; database; auth plugin)
_TIMEOUT_ERRORS = {1969, 3024, 1317}  # MariaDB/MySQL statement limit; query interrupted
_REFUSED = 2003  # can't connect
_LOST = 2013  # lost connection during query (a socket timeout says "timed out")
_DENIED = {1227, 1142, 1143}  # missing privilege (replica status needs one)


@dataclass(frozen=True, slots=True)
class MySqlStats:
    """The raw health figures of a MySQL/MariaDB server (None: not applicable)."""

    threads_connected: int
    max_connections: int
    replica_lag: float | None


def mysql_metrics(stats: MySqlStats) -> dict[str, float]:
    """Metrics from the figures; ``replica_lag_seconds`` only on a replying replica."""
    out = {"threads_connected": float(stats.threads_connected)}
    if stats.max_connections > 0:
        out["connections_used_percent"] = round(
            100.0 * stats.threads_connected / stats.max_connections, 3)
    if stats.replica_lag is not None:
        out["replica_lag_seconds"] = float(stats.replica_lag)
    return out


def _failure(exc: pymysql.MySQLError, connecting: bool) -> ProbeError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _AUTH_ERRORS and "password" in text.lower():
        return ProbeError(Reason.AUTH)
    if code == _REFUSED and "refused" in text.lower():
        return ProbeError(Reason.REFUSED)
    if code in _TIMEOUT_ERRORS or ("timed out" in text.lower() and code in (_REFUSED, _LOST)):
        return ProbeError(Reason.TIMEOUT)
    if connecting or code >= 2000:  # 2xxx are client-side (connection) errors
        return ProbeError(Reason.OTHER, text)
    return ProbeError(Reason.QUERY, text)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a thread's outcome as seen (an abandoned call's error is expected)."""
    if not future.cancelled():
        future.exception()


async def _in_thread(fn: Callable[[], T], on_abandon: Callable[[T], None]) -> T:
    """Run ``fn`` in a thread; if the caller is cancelled, ``on_abandon`` gets the result."""
    future = asyncio.get_running_loop().run_in_executor(None, fn)
    future.add_done_callback(_retrieve)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        def _later(done: asyncio.Future[T]) -> None:
            if not done.cancelled() and done.exception() is None:
                on_abandon(done.result())
        future.add_done_callback(_later)
        raise


def _close(conn: pymysql.connections.Connection[Any]) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _open(target: Target, timeout: float) -> pymysql.connections.Connection[Any]:
    socket_path = target.host if target.host.startswith("/") else None
    kwargs: dict[str, Any] = {
        "host": None if socket_path else target.host, "port": target.port,
        "unix_socket": socket_path, "password": target.password or "",
        "database": target.database, "connect_timeout": timeout, "read_timeout": timeout,
        "write_timeout": timeout, "autocommit": True, "charset": "utf8mb4",
        "program_name": "watchkeeper",
    }
    if target.user:
        kwargs["user"] = target.user
    conn = pymysql.connect(**kwargs)
    # A server-side limit, so a query we gave up on does not keep running there.
    limit = ("SET SESSION max_statement_time = %s" if "mariadb" in conn.get_server_info().lower()
             else "SET SESSION max_execution_time = %s")
    value = timeout if "statement_time" in limit else int(timeout * 1000)
    with contextlib.suppress(pymysql.MySQLError), conn.cursor() as cur:
        cur.execute(limit, (value,))
    return conn


async def connect(target: Target, timeout: float) -> MySqlSession:
    """Open a connection in a worker thread."""
    try:
        conn = await _in_thread(lambda: _open(target, timeout), _close)
    except pymysql.MySQLError as exc:
        raise _failure(exc, connecting=True) from None
    return MySqlSession(conn, lambda: _open(target, timeout))


class MySqlSession:
    """An open MySQL/MariaDB connection, used from one thread at a time."""

    def __init__(self, conn: pymysql.connections.Connection[Any],
                 reopen: Callable[[], pymysql.connections.Connection[Any]] | None = None
                 ) -> None:
        self._conn = conn
        #: Opens another connection to the same server (after one was dropped mid-result).
        self._reopen = reopen
        self._dropped = False
        self._busy: asyncio.Future[Any] | None = None
        self._closed = False

    async def _call(self, fn: Callable[[], T]) -> T:
        future = asyncio.get_running_loop().run_in_executor(None, fn)
        future.add_done_callback(_retrieve)
        self._busy = future
        try:
            return await asyncio.shield(future)
        except pymysql.MySQLError as exc:
            raise _failure(exc, connecting=False) from None
        finally:
            if future.done():
                self._busy = None

    def _connection(self) -> pymysql.connections.Connection[Any]:
        if self._dropped and self._reopen is not None:
            self._conn = self._reopen()
            self._dropped = False
        return self._conn

    def _fetch_one(self, sql: str) -> tuple[Any, ...] | None:
        with self._connection().cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return tuple(row) if row is not None else None

    def _first_row(self, sql: str) -> tuple[Any, ...] | None:
        """The first row of ``sql``, read unbuffered: the rest is never read into memory.

        The protocol has no way to stop a result midway but hanging up: when more rows
        follow, the connection is closed unread (the server aborts the query when it can
        no longer send) and the next call opens another.
        """
        conn = self._connection()
        cur = conn.cursor(pymysql.cursors.SSCursor)
        more = False
        try:
            cur.execute(sql)
            row = cur.fetchone()
            more = row is not None and cur.fetchone() is not None
        finally:
            if more:
                self._dropped = True
                _close(conn)  # COM_QUIT and close, without reading the rest
                # PyMySQL would still try to read the rest (when the cursor is closed or
                # collected) from the closed socket: tell it there is nothing left.
                result = getattr(cur, "_result", None)
                if result is not None:
                    result.unbuffered_active = False
            cur.close()
        return tuple(row) if row is not None else None

    async def ping(self) -> None:
        await self._call(lambda: self._fetch_one("SELECT 1"))

    async def query_value(self, query: str) -> object:
        row = await self._call(lambda: self._first_row(query))
        if not row:
            raise ProbeError(Reason.VALUE, "query returned no rows")
        return row[0]

    def _replica_lag(self) -> float | None:
        """Seconds behind the source, None on a primary (or without the privilege)."""
        for sql in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
            try:
                with self._connection().cursor(pymysql.cursors.DictCursor) as cur:
                    cur.execute(sql)
                    rows = cur.fetchall()
            except pymysql.MySQLError as exc:
                if exc.args and exc.args[0] in _DENIED:
                    return None
                continue  # older servers know only the other spelling
            lags = [row.get("Seconds_Behind_Source", row.get("Seconds_Behind_Master"))
                    for row in rows]
            known = [float(lag) for lag in lags if lag is not None]
            return max(known) if known else None
        return None

    def _stats(self) -> dict[str, float]:
        threads = self._fetch_one("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        limit = self._fetch_one("SELECT @@max_connections")
        return mysql_metrics(MySqlStats(
            threads_connected=int(threads[1]) if threads else 0,
            max_connections=int(limit[0]) if limit else 0,
            replica_lag=self._replica_lag()))

    async def stats(self) -> dict[str, float]:
        return await self._call(self._stats)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        busy = self._busy
        if busy is not None and not busy.done():
            # A thread still uses the connection: close it when that thread is done.
            busy.add_done_callback(lambda _f: _close(self._conn))
            return
        await asyncio.get_running_loop().run_in_executor(None, _close, self._conn)
