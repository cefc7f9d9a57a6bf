"""PostgreSQL for the ``database`` check (psycopg 3, async). Imported only when used."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, cast

import psycopg
from psycopg import errors as pg_errors

from checks.database.check import ProbeError, Reason, Target

# One round trip for every health figure. Client backends only (max_connections counts
# those); our own backend is left out of the oldest transaction. A replica whose replay
# has caught up with what it received has no lag, however old the last transaction is.
_STATS_SQL = """
SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
  current_setting('max_connections')::int,
  CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())
  END,
  (SELECT coalesce(extract(epoch FROM max(now() - xact_start)), 0) FROM pg_stat_activity
    WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()),
  pg_database_size(current_database())
"""

_SERVER_TEXT = re.compile(r"(?:FATAL|ERROR):\s+(.*)")


@dataclass(frozen=True, slots=True)
class PgStats:
    """The raw health figures of a PostgreSQL server (None: not applicable)."""

    connections: int
    max_connections: int
    replication_lag: float | None
    oldest_xact: float | None
    database_size: int | None


def postgres_metrics(stats: PgStats) -> dict[str, float]:
    """Metrics from the figures; ``replication_lag_seconds`` only on a replica."""
    out: dict[str, float] = {}
    if stats.max_connections > 0:
        out["connections_used_percent"] = round(
            100.0 * stats.connections / stats.max_connections, 3)
    if stats.replication_lag is not None:
        out["replication_lag_seconds"] = max(float(stats.replication_lag), 0.0)
    if stats.oldest_xact is not None:
        out["oldest_xact_seconds"] = max(float(stats.oldest_xact), 0.0)
    if stats.database_size is not None:
        out["database_size_bytes"] = float(stats.database_size)
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _server_text(text: str) -> str:
    """The server's own words from a libpq message, else its last non-empty line."""
    m = _SERVER_TEXT.search(text)
    if m:
        return m.group(1).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _connect_failure(exc: psycopg.Error) -> ProbeError:
    text = str(exc)
    low = text.lower()
    if (exc.sqlstate == "28P01" or "password authentication failed" in low
            or "no password supplied" in low):
        return ProbeError(Reason.AUTH)
    if "connection refused" in low:
        return ProbeError(Reason.REFUSED)
    if "timeout expired" in low or "timed out" in low:
        return ProbeError(Reason.TIMEOUT)
    return ProbeError(Reason.OTHER, _server_text(text))


def _query_failure(exc: psycopg.Error) -> ProbeError:
    if isinstance(exc, pg_errors.QueryCanceled):
        return ProbeError(Reason.TIMEOUT)
    message = exc.diag.message_primary if exc.sqlstate else None
    if message:
        return ProbeError(Reason.QUERY, message)
    return ProbeError(Reason.OTHER, _server_text(str(exc)))


async def connect(target: Target, timeout: float) -> PostgresSession:
    """Open a connection (autocommit: no transaction is left open between statements)."""
    kwargs: dict[str, Any] = {"application_name": "watchkeeper", **dict(target.params)}
    kwargs.update(host=target.host, port=target.port,
                  connect_timeout=max(2, math.ceil(timeout)))  # libpq's minimum is 2 s
    if target.user:
        kwargs["user"] = target.user
    if target.password is not None:
        kwargs["password"] = target.password
    if target.database:
        kwargs["dbname"] = target.database
    try:
        conn = await psycopg.AsyncConnection.connect(
            autocommit=True, prepare_threshold=None, **kwargs)
    except psycopg.Error as exc:
        raise _connect_failure(exc) from None
    return PostgresSession(conn)


class PostgresSession:
    """An open PostgreSQL connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def ping(self) -> None:
        try:
            await self._conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise _query_failure(exc) from None

    async def query_value(self, query: str) -> object:
        """First column of the first row (a cancelled task cancels the query server-side).

        Row by row (libpq's single-row mode), and the query is cancelled once the first row
        is in: ``SELECT generate_series(1, 100000000)`` costs one row of memory, not all
        of them.
        """
        row = None
        try:
            stream = cast(AsyncGenerator[Any, None], self._conn.cursor().stream(query))
            async with contextlib.aclosing(stream) as rows:
                async for first in rows:
                    row = first
                    break
        except psycopg.Error as exc:
            raise _query_failure(exc) from None
        if not row:
            raise ProbeError(Reason.VALUE, "query returned no rows")
        return row[0]

    async def stats(self) -> dict[str, float]:
        """Health figures; empty when the role may not read them."""
        try:
            cur = await self._conn.execute(_STATS_SQL)
            row = await cur.fetchone()
        except (pg_errors.InsufficientPrivilege, pg_errors.UndefinedFunction,
                pg_errors.UndefinedColumn):
            return {}
        except psycopg.Error as exc:
            raise _query_failure(exc) from None
        if row is None:
            return {}
        return postgres_metrics(PgStats(
            connections=int(row[0]), max_connections=int(row[1]),
            replication_lag=None if row[2] is None else float(row[2]),
            oldest_xact=None if row[3] is None else float(row[3]),
            database_size=None if row[4] is None else int(row[4])))

    async def close(self) -> None:
        await self._conn.close()
