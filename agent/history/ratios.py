"""Uptime ratios for ``/metrics``: every check's over the last 24 hours and 30 days.

Read from the store in a thread and kept for ``REFRESH`` seconds, so a scrape costs a
dictionary, not a query: the ratios are as of the last refresh (at most five minutes
old) and of the history's last flush.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from agent.errors import StateError

log = logging.getLogger("watchkeeper.http")

#: The windows shown, by the label Prometheus gets.
WINDOWS: tuple[tuple[str, float], ...] = (("24h", 86400.0), ("30d", 30 * 86400.0))
#: Seconds a reading is kept.
REFRESH = 300.0

#: Runs a read through the store's connection (``Store.query``).
Query = Callable[[Callable[[sqlite3.Connection], "Ratios"]], "Ratios"]
#: Each check's ratio per window label (a check without data in a window has none).
Ratios = dict[str, dict[str, float]]


def read_ratios(conn: sqlite3.Connection, now: float,
                windows: tuple[tuple[str, float], ...] = WINDOWS) -> Ratios:
    """Every check's uptime ratio over each window ending at ``now``."""
    # Here, not at the top: an agent that is never scraped never loads the read side.
    from agent.history.queries import HistoryQueries

    history = HistoryQueries(conn)
    out: Ratios = {}
    for check in history.checks():
        for label, span in windows:
            ratio = history.uptime(check, now - span, now + 1)
            if ratio is not None:
                out.setdefault(check, {})[label] = ratio
    return out


def store_query(path: Path) -> Query:
    """A ``Query`` on a read-only connection of its own to the database at ``path`` (so a
    refresh holds no lock the agent's other reads wait on)."""
    from agent.store import readonly

    def query(read: Callable[[sqlite3.Connection], Ratios]) -> Ratios:
        try:
            conn = readonly.connect(path)
            if conn is None:
                return {}
            try:
                return read(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StateError(f"state database {path}: {exc}") from exc

    return query


class UptimeRatios:
    """The ratios as last read (``current`` reads them again when they are stale)."""

    def __init__(self, query: Query, now: Callable[[], float],
                 monotonic: Callable[[], float]) -> None:
        self._query = query
        self._now = now
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._ratios: Ratios = {}
        self._lock = asyncio.Lock()

    async def current(self) -> Mapping[str, Mapping[str, float]]:
        """The ratios, read again in a thread when older than ``REFRESH``."""
        async with self._lock:
            mono = self._monotonic()
            if self._read_at is None or mono - self._read_at >= REFRESH:
                now = self._now()
                self._read_at = mono
                try:
                    self._ratios = await asyncio.to_thread(
                        self._query, lambda conn: read_ratios(conn, now))
                except StateError as exc:  # the page goes on with the last ratios
                    log.error("reading uptime ratios failed: %s", exc)
        return self._ratios
