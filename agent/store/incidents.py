"""The incident log half of the store: one row per incident, its record as JSON.

A mixin of ``Store``: it uses the store's ``_read`` and nothing else of it; writes are
``agent.store.writes.incident`` and ``prune_incidents``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from agent.incidents.record import Incident

log = logging.getLogger("watchkeeper.store")

UPSERT = ("INSERT INTO incidents (id, check_name, opened_at, resolved_at, data) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
          "resolved_at = excluded.resolved_at, data = excluded.data")
PRUNE = "DELETE FROM incidents WHERE resolved_at IS NOT NULL AND opened_at < ?"


def to_row(incident: Incident) -> tuple[Any, ...]:
    """The row of an incident, in ``UPSERT`` order."""
    return (incident.id, incident.check, incident.opened_at, incident.resolved_at,
            incident.model_dump_json())


class IncidentQueries:
    """Reads of the ``incidents`` table."""

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def open_incidents(self) -> list[Incident]:
        """The incidents not resolved yet, oldest first."""
        return _decoded(self._read("SELECT id, data FROM incidents WHERE resolved_at IS NULL "
                                   "ORDER BY opened_at, id"))

    def incidents(self, since: float | None = None, check: str | None = None,
                  limit: int = 10_000) -> list[Incident]:
        """Incidents opened at or after ``since`` (of ``check`` when given), oldest first;
        past ``limit`` the newest ``limit`` of them (memory stays bounded, and what is left
        out is the oldest, not the latest)."""
        where = ["opened_at >= ?"]
        args: list[object] = [since if since is not None else float("-inf")]
        if check is not None:
            where.append("check_name = ?")
            args.append(check)
        newest = _decoded(self._read(
            f"SELECT id, data FROM incidents WHERE {' AND '.join(where)} "
            "ORDER BY opened_at DESC, id DESC LIMIT ?", (*args, limit)))
        return newest[::-1]

    def incident(self, incident_id: str) -> Incident | None:
        """One incident by id (or by a unique start of its id)."""
        rows = self._read("SELECT id, data FROM incidents WHERE id = ?", (incident_id,))
        if not rows:
            rows = self._read("SELECT id, data FROM incidents WHERE substr(id, 1, ?) = ? "
                              "LIMIT 2", (len(incident_id), incident_id))
            if len(rows) != 1:
                return None
        found = _decoded(rows)
        return found[0] if found else None


def _decoded(rows: Sequence[sqlite3.Row]) -> list[Incident]:
    out = []
    for r in rows:
        try:
            out.append(Incident.model_validate_json(r["data"]))
        except ValidationError as exc:
            # One unreadable record must not hide the others.
            log.error("state database holds a malformed incident %s: %s", r["id"],
                      exc.errors(include_url=False)[0]["msg"])
    return out
