"""The outbox half of the store: queued deliveries, their attempts, and their pruning.

A mixin of ``Store``: it uses the store's ``_read`` (a read) and ``_tx`` (a write
transaction) and nothing else of it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from agent.errors import StateError
from agent.store import writes
from agent.store.codec import event_from_json
from agent.store.records import PENDING, OutboxRow
from agent.store.writes import Write

log = logging.getLogger("watchkeeper.store")

_A = TypeVar("_A")
_R = TypeVar("_R")



class OutboxQueries:
    """Reads and writes of the ``outbox`` table."""

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def _tx(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def apply(self, batch: Sequence[Write]) -> list[int]:
        raise NotImplementedError

    def due(self, now: float, limit: int = 100) -> list[OutboxRow]:
        """Unsent, live deliveries whose next attempt is at or before ``now``, oldest first."""
        rows = self._read(
            f"SELECT * FROM outbox WHERE {PENDING} AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT ?", (now, limit))
        out: list[OutboxRow] = []
        for r in rows:
            try:
                out.append(decode(f"outbox row {r['id']}", _outbox_row, r))
            except StateError as exc:
                # One unreadable row must not block every later notification.
                log.error("%s; it will not be sent", exc)
                self.mark_failed(int(r["id"]), now, str(exc), None)
        return out

    def queued_rows(self) -> list[OutboxRow]:
        """Every undelivered, live row in id order (the order they were decided), for the
        agent's outbox at start; an unreadable row is given up on (logged), not loaded."""
        out: list[OutboxRow] = []
        for r in self._read(f"SELECT * FROM outbox WHERE {PENDING} ORDER BY id"):
            try:
                out.append(decode(f"outbox row {r['id']}", _outbox_row, r))
            except StateError as exc:
                log.error("%s; it will not be sent", exc)
                with contextlib.suppress(StateError):
                    self.mark_failed(int(r["id"]), float(r["created_at"] or 0), str(exc), None)
        return out

    def outbox_row(self, row_id: int) -> OutboxRow | None:
        """One outbox row by id, whatever its state (for status output and tests)."""
        rows = self._read("SELECT * FROM outbox WHERE id = ?", (row_id,))
        return decode(f"outbox row {row_id}", _outbox_row, rows[0]) if rows else None

    def mark_sent(self, row_id: int, now: float) -> None:
        """Record a successful delivery (it is never sent again)."""
        self.apply([writes.sent([row_id], now)])

    def mark_failed(self, row_id: int, now: float, error: str,
                    retry_at: float | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or give up (dead) when None."""
        with self._tx() as conn:
            if retry_at is None:
                conn.execute("UPDATE outbox SET dead = 1, last_attempt_at = ?, "
                             "attempts = attempts + 1, last_error = ? WHERE id = ?",
                             (now, error, row_id))
            else:
                conn.execute("UPDATE outbox SET next_attempt_at = ?, last_attempt_at = ?, "
                             "attempts = attempts + 1, last_error = ? WHERE id = ?",
                             (retry_at, now, error, row_id))

    def pending(self, limit: int = 1000) -> list[OutboxRow]:
        """The deliveries still to be sent, the next due first (for status output)."""
        rows = self._read(f"SELECT * FROM outbox WHERE {PENDING} "
                          "ORDER BY next_attempt_at, id LIMIT ?", (limit,))
        return [decode(f"outbox row {r['id']}", _outbox_row, r) for r in rows]

    def pending_count(self) -> int:
        """How many deliveries are still to be sent (due now or later)."""
        return int(self._read(f"SELECT count(*) FROM outbox WHERE {PENDING}")[0][0])

    def dead_count(self) -> int:
        """How many deliveries were given up on (kept until pruned)."""
        return int(self._read("SELECT count(*) FROM outbox WHERE dead = 1")[0][0])

    def next_due_at(self, after: float | None = None) -> float | None:
        """When the earliest pending delivery is due (None when nothing is pending);
        with ``after``, the earliest due later than that."""
        if after is None:
            rows = self._read(f"SELECT min(next_attempt_at) FROM outbox WHERE {PENDING}")
        else:
            rows = self._read(f"SELECT min(next_attempt_at) FROM outbox WHERE {PENDING} "
                              "AND next_attempt_at > ?", (after,))
        value = rows[0][0]
        return None if value is None else float(value)

    def prune_outbox(self, older_than: float) -> int:
        """Delete sent and dead rows created before ``older_than``; return how many."""
        return self.apply([writes.prune_outbox(older_than)])[0]



def _outbox_row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=int(r["id"]), event=event_from_json(r["event"]), channel=r["channel"],
        target=int(r["target"]), dedup_key=r["dedup_key"], created_at=float(r["created_at"]),
        attempts=int(r["attempts"]), next_attempt_at=float(r["next_attempt_at"]),
        last_attempt_at=r["last_attempt_at"], sent_at=r["sent_at"],
        last_error=r["last_error"], dead=bool(r["dead"]),
    )



def decode(what: str, fn: Callable[[_A], _R], arg: _A) -> _R:
    """Run a decoder, turning a malformed stored value into a StateError naming it."""
    try:
        return fn(arg)
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"state database holds a malformed {what}: {exc}") from None

