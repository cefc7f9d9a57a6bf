"""The history's writes to the state database, as ``Write`` values for the store writer.

A flush is ONE write (so one transaction with whatever else waits): the series first
seen, the raw samples, the rollups that closed, the outages that changed, and the
pruning of a few series' old rows. A rollup row that exists already (a restart within its
bucket) takes the new samples in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.history.outages import Outage
from agent.history.packing import DAY, compact
from agent.history.rollup import FIVE_MINUTES, Rollup
from agent.store.writes import Write

_INSERT_SERIES = ("INSERT INTO history_series (id, check_name, metric, labels) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
_INSERT_RAW = ("INSERT INTO history_raw (series, at, value) VALUES (?, ?, ?) "
               "ON CONFLICT (series, at) DO UPDATE SET value = excluded.value")


def _upsert_rollup(table: str) -> str:
    return (f"INSERT INTO {table} (series, bucket, n, low, high, mean) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (series, bucket) DO UPDATE SET "
            "mean = (mean * n + excluded.mean * excluded.n) / (n + excluded.n), "
            "n = n + excluded.n, low = min(low, excluded.low), "
            "high = max(high, excluded.high)")


_UPSERT_5M = _upsert_rollup("history_5m")
_UPSERT_1H = _upsert_rollup("history_1h")
_UPSERT_OUTAGE = (
    "INSERT INTO history_outages (check_name, started_at, last_down_at, ended_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (check_name, started_at) DO UPDATE SET "
    "last_down_at = max(last_down_at, excluded.last_down_at), ended_at = excluded.ended_at")
#: Most rows one pruning deletes from one table of one series (bounded work per batch).
PRUNE_ROWS = 2000


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A series as stored: the id the agent gave it, its check, metric and labels (JSON)."""

    id: int
    check: str
    metric: str
    labels: str


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows older than these (epoch seconds) are pruned; hours older than ``pack`` are
    packed a day to a row."""

    raw: float
    five_minutes: float
    hour: float
    pack: float


@dataclass(slots=True)
class Flush:
    """What one flush writes."""

    series: list[SeriesRow] = field(default_factory=list)
    #: (series, at in whole seconds, value)
    raw: list[tuple[int, int, float]] = field(default_factory=list)
    rollups: list[Rollup] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    #: The series whose old rows are pruned, and how old is old.
    prune: Sequence[int] = ()
    cutoffs: Cutoffs | None = None

    def __bool__(self) -> bool:
        return bool(self.series or self.raw or self.rollups or self.outages or self.prune)


def flush(item: Flush) -> Write:
    """One write for a whole flush."""
    series = [(s.id, s.check, s.metric, s.labels) for s in item.series]
    raw = list(item.raw)
    five = [(r.series, r.start, r.n, r.low, r.high, r.mean) for r in item.rollups
            if r.width == FIVE_MINUTES]
    hour = [(r.series, r.start, r.n, r.low, r.high, r.mean) for r in item.rollups
            if r.width != FIVE_MINUTES]
    outages = [(o.check, o.started_at, o.last_down_at, o.ended_at) for o in item.outages]
    prune, cutoffs = tuple(item.prune), item.cutoffs

    def run(conn: sqlite3.Connection) -> int:
        conn.executemany(_INSERT_SERIES, series)
        conn.executemany(_INSERT_RAW, raw)
        conn.executemany(_UPSERT_5M, five)
        conn.executemany(_UPSERT_1H, hour)
        conn.executemany(_UPSERT_OUTAGE, outages)
        pruned = prune_series(conn, prune, cutoffs) if cutoffs is not None else 0
        return len(raw) + len(five) + len(hour) + len(outages) + pruned

    return Write(f"history: {len(raw)} samples, {len(five) + len(hour)} rollups", run)


def prune_series(conn: sqlite3.Connection, series: Sequence[int], cutoffs: Cutoffs) -> int:
    """Delete the rows of ``series`` older than ``cutoffs`` (at most ``PRUNE_ROWS`` per
    table and series), pack a few of their old hours, and delete the outages that ended
    before the hour rollups' cutoff."""
    deleted = 0
    for table, column, cutoff in (("history_raw", "at", cutoffs.raw),
                                  ("history_5m", "bucket", cutoffs.five_minutes),
                                  ("history_1h", "bucket", cutoffs.hour)):
        sql = (f"DELETE FROM {table} WHERE series = ?1 AND {column} IN (SELECT {column} "
               f"FROM {table} WHERE series = ?1 AND {column} < ?2 ORDER BY {column} "
               f"LIMIT {PRUNE_ROWS})")
        for s in series:
            deleted += conn.execute(sql, (s, int(cutoff))).rowcount
    # Packed days go whole: once their last hour is past the cutoff.
    last_day = int(cutoffs.hour) // DAY * DAY - DAY
    for s in series:
        deleted += conn.execute("DELETE FROM history_1d WHERE series = ? AND day <= ?",
                                (s, last_day)).rowcount
        if cutoffs.pack > cutoffs.hour:
            compact(conn, s, cutoffs.pack)
    if series:
        deleted += conn.execute(
            "DELETE FROM history_outages WHERE rowid IN (SELECT rowid FROM history_outages "
            f"WHERE ended_at < ? LIMIT {PRUNE_ROWS})", (cutoffs.hour,)).rowcount
    return deleted


def load_series(conn: sqlite3.Connection) -> list[SeriesRow]:
    """Every series the store holds."""
    return [SeriesRow(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in conn.execute(
        "SELECT id, check_name, metric, labels FROM history_series ORDER BY id")]


def end_open_outages() -> Write:
    """At start: the outages the last run left open end at their last CRITICAL run (what
    happened while no agent watched is not known)."""
    def run(conn: sqlite3.Connection) -> int:
        return conn.execute("UPDATE history_outages SET ended_at = last_down_at "
                            "WHERE ended_at IS NULL").rowcount

    return Write("history: outages left open by the last run", run)


def all_series(rows: Sequence[SeriesRow]) -> Write:
    """Every series the agent knows (for a database file that replaced the old one)."""
    values = [(s.id, s.check, s.metric, s.labels) for s in rows]

    def run(conn: sqlite3.Connection) -> int:
        conn.executemany(_INSERT_SERIES, values)
        return len(values)

    return Write(f"history: {len(values)} series", run)
