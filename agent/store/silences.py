"""Rows of the ``silences`` and ``suppressed`` tables.

``silences`` holds what ``watchkeeper silence add`` asked for; ``suppressed`` the incidents
whose FIRING a silence held back (so their resolve is held back too, and they are
announced when the silence ends while they still fire).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from agent.alerting.silences import Silence, Suppressed
from agent.store.codec import event_from_json, event_to_json

INSERT_SILENCE = (
    "INSERT INTO silences (check_glob, metric, starts_at, ends_at, reason, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
SELECT_SILENCES = ("SELECT id, check_glob, metric, starts_at, ends_at, reason, created_at "
                   "FROM silences")
ACTIVE_AT = " WHERE starts_at <= ? AND ends_at > ?"
ORDER = " ORDER BY id"
DELETE_SILENCE = "DELETE FROM silences WHERE id = ?"
EXPIRE_SILENCES = "DELETE FROM silences WHERE ends_at < ?"

INSERT_SUPPRESSED = (
    "INSERT INTO suppressed (incident, key, event, at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (incident) DO NOTHING"
)
SELECT_SUPPRESSED = "SELECT incident, key, event, at FROM suppressed ORDER BY at, incident"
DELETE_SUPPRESSED = "DELETE FROM suppressed WHERE incident = ?"


def silence_from_row(row: sqlite3.Row, host: str) -> Silence:
    """The Silence of a ``silences`` row, for the agent of ``host``."""
    metric = row["metric"]
    return Silence(id=int(row["id"]), check_glob=str(row["check_glob"]),
                   metric=None if metric is None else str(metric),
                   starts_at=float(row["starts_at"]), ends_at=float(row["ends_at"]),
                   reason=str(row["reason"] or ""), created_at=float(row["created_at"]),
                   host=host)


def suppressed_to_row(item: Suppressed) -> tuple[Any, ...]:
    """The ``suppressed`` row of an item, in ``INSERT_SUPPRESSED`` order."""
    return (item.incident, item.key.as_text(), event_to_json(item.event), item.at)


def suppressed_from_row(row: sqlite3.Row) -> Suppressed:
    """The Suppressed of a row; ValueError when its event is not that incident's."""
    item = Suppressed(event_from_json(row["event"]), float(row["at"]))
    if item.incident != row["incident"]:
        raise ValueError(f"event of incident {item.incident!r} stored under "
                         f"{row['incident']!r}")
    return item


def write_suppressed(conn: sqlite3.Connection, suppress: Sequence[Suppressed],
                     forget: Sequence[str]) -> None:
    """Record ``suppress`` and delete ``forget`` (incident ids) inside the open transaction."""
    if suppress:
        conn.executemany(INSERT_SUPPRESSED, [suppressed_to_row(s) for s in suppress])
    if forget:
        conn.executemany(DELETE_SUPPRESSED, [(i,) for i in forget])
