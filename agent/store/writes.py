"""Writes to the state database as values: made on the event loop, applied elsewhere.

A ``Write`` is one change (queue these deliveries, save this check's memory, mark these
rows sent). ``Store.apply`` runs a batch of them in ONE transaction; the agent hands them
to ``agent.store.writer.StoreWriter``, which applies them in a thread of its own, in the
order they were made, and keeps them in memory while the database cannot be written.

Writes with the same ``key`` replace each other while both wait: only the newest memory
of a check needs to reach the disk.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agent.alerting.silences import SILENCE_KEPT, Silence, Suppressed
from agent.alerting.state import AlertState
from agent.heartbeats import PINGS_KEPT, Ping
from agent.incidents.record import Incident
from agent.model import AlertKey
from agent.store import incidents as _incidents
from agent.store import learned as _learned
from agent.store import silences as _silences
from agent.store.codec import STATE_COLUMNS, event_to_json, state_to_row
from agent.store.records import PENDING, Delivery, OutboxRow

_UPSERT_STATE = (
    f"INSERT INTO alert_states ({', '.join(STATE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in STATE_COLUMNS)}) "
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS if c != "key")
)
_OUTBOX_COLUMNS = ("event, channel, target, dedup_key, created_at, next_attempt_at, "
                   "attempts, last_attempt_at, last_error")
#: A queued row with the id the agent gave it (ids are the order deliveries were decided).
_INSERT_ROW = (f"INSERT INTO outbox (id, {_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?) ON CONFLICT DO NOTHING")
_INSERT_DELIVERY = (
    "INSERT INTO outbox (event, channel, target, dedup_key, created_at, next_attempt_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key, channel, target) DO NOTHING"
)
_INSERT_SILENCE_WITH_ID = (
    "INSERT INTO silences (id, check_glob, metric, starts_at, ends_at, reason, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


class WriteSink(Protocol):
    """Where writes go: the agent's ``StoreWriter``, or a ``Store`` (applied at once)."""

    def submit(self, write: Write) -> None: ...


@dataclass(frozen=True, slots=True)
class Write:
    """One change to the database: ``run`` executes it inside an open transaction and
    returns a count (rows changed, or the new row's id)."""

    what: str
    run: Callable[[sqlite3.Connection], int]
    #: Writes of one key replace each other while they wait (None: never replaced).
    key: Hashable | None = None


def commit(states: Sequence[AlertState], deliveries: Sequence[Delivery] = (),
           suppress: Sequence[Suppressed] = (), forget: Sequence[str] = (),
           rows: Sequence[OutboxRow] = ()) -> Write:
    """New alert states, their deliveries (``rows`` keep the ids the agent gave them;
    ``deliveries`` get the database's), and the incidents a silence holds or let go."""
    state_rows = [state_to_row(s) for s in states]
    delivery_rows = [(event_to_json(d.event), d.channel, d.target, d.event.dedup_key,
                      d.event.at, d.event.at) for d in deliveries]
    queued = [_row_values(r) for r in rows]

    def run(conn: sqlite3.Connection) -> int:
        if state_rows:
            conn.executemany(_UPSERT_STATE, state_rows)
        if delivery_rows:
            conn.executemany(_INSERT_DELIVERY, delivery_rows)
        if queued:
            conn.executemany(_INSERT_ROW, queued)
        _silences.write_suppressed(conn, suppress, forget)
        return len(state_rows) + len(delivery_rows) + len(queued)

    return Write(f"{len(states)} alert states and {len(deliveries) + len(rows)} "
                 "notifications", run)


def _row_values(r: OutboxRow) -> tuple[Any, ...]:
    return (r.id, event_to_json(r.event), r.channel, r.target, r.dedup_key, r.created_at,
            r.next_attempt_at, r.attempts, r.last_attempt_at, r.last_error)


def memory(check: str, data: Mapping[str, Any]) -> Write:
    """Replace a check's saved memory (values that JSON cannot hold become text)."""
    text = json.dumps(dict(data), sort_keys=True, default=str)

    def run(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO check_memory (check_name, data) VALUES (?, ?) "
                     "ON CONFLICT (check_name) DO UPDATE SET data = excluded.data",
                     (check, text))
        return 1

    return Write(f"memory of check {check}", run, key=("memory", check))


def ping(name: str, item: Ping, keep: int = PINGS_KEPT) -> Write:
    """Append a ping of heartbeat ``name``; only its newest ``keep`` pings are kept."""
    def run(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO heartbeats (name, kind, at, exit_code) VALUES (?, ?, ?, ?)",
                     (name, item.kind.value, item.at, item.exit_code))
        conn.execute("DELETE FROM heartbeats WHERE name = ? AND id <= (SELECT id FROM "
                     "heartbeats WHERE name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                     (name, name, keep))
        return 1

    return Write(f"ping of heartbeat {name}", run)


def learned(items: Sequence[tuple[AlertKey, bytes]], now: float) -> Write:
    """What series learned (``SeriesJudge.to_bytes``)."""
    rows = [_learned.to_row(key, data, now) for key, data in items]

    def run(conn: sqlite3.Connection) -> int:
        conn.executemany(_learned.UPSERT, rows)
        return len(rows)

    return Write(f"learned thresholds of {len(rows)} series", run)


def silence(item: Silence) -> Write:
    """Store a silence under the id it was given (``item.id``; 0: the database picks)."""
    values = (item.check_glob, item.metric, item.starts_at, item.ends_at, item.reason,
              item.created_at)

    def run(conn: sqlite3.Connection) -> int:
        if item.id:
            conn.execute(_INSERT_SILENCE_WITH_ID, (item.id, *values))
            return item.id
        return int(conn.execute(_silences.INSERT_SILENCE, values).lastrowid or 0)

    return Write(f"silence #{item.id}" if item.id else "a silence", run)


def remove_silence(silence_id: int) -> Write:
    """Delete a silence (counts 0 when there is none with that id)."""
    def run(conn: sqlite3.Connection) -> int:
        return conn.execute(_silences.DELETE_SILENCE, (silence_id,)).rowcount

    return Write(f"removal of silence #{silence_id}", run)


def expire_silences(now: float, kept: float = SILENCE_KEPT) -> Write:
    """Delete the silences that ended more than ``kept`` seconds before ``now``."""
    def run(conn: sqlite3.Connection) -> int:
        return conn.execute(_silences.EXPIRE_SILENCES, (now - kept,)).rowcount

    return Write("expiry of old silences", run)


def sent(row_ids: Sequence[int], at: float) -> Write:
    """Rows delivered at ``at``: never sent again."""
    ids = [(at, at, i) for i in row_ids]

    def run(conn: sqlite3.Connection) -> int:
        conn.executemany("UPDATE outbox SET sent_at = ?, last_attempt_at = ?, "
                         "attempts = attempts + 1, last_error = NULL WHERE id = ?", ids)
        return len(ids)

    return Write(f"{len(ids)} notifications sent", run)


def attempted(rows: Sequence[OutboxRow]) -> Write:
    """Failed attempts as the rows now stand (their attempts, error, next try; dead when
    given up)."""
    values = [(r.next_attempt_at, r.last_attempt_at, r.attempts, r.last_error, int(r.dead),
               r.id) for r in rows]

    def run(conn: sqlite3.Connection) -> int:
        conn.executemany("UPDATE outbox SET next_attempt_at = ?, last_attempt_at = ?, "
                         "attempts = ?, last_error = ?, dead = ? WHERE id = ?", values)
        return len(values)

    return Write(f"{len(values)} failed notification attempts", run)


def prune_outbox(older_than: float) -> Write:
    """Delete sent and dead rows created before ``older_than``."""
    def run(conn: sqlite3.Connection) -> int:
        return conn.execute(f"DELETE FROM outbox WHERE NOT ({PENDING}) AND created_at < ?",
                            (older_than,)).rowcount

    return Write("pruning of old notifications", run)


def alive(at: float) -> Write:
    """Note when the agent last wrote: a real write, so it proves the file takes writes
    (at start, and while a fault lasts)."""
    def run(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO meta (key, value) VALUES ('agent_alive_at', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (repr(at),))
        return 1

    return Write("a note of the agent's activity", run, key="alive")


def incident(record: Incident) -> Write:
    """An incident's record as it now stands."""
    row = _incidents.to_row(record)

    def run(conn: sqlite3.Connection) -> int:
        conn.execute(_incidents.UPSERT, row)
        return 1

    return Write(f"incident {record.id}", run, key=("incident", record.id))


def prune_incidents(opened_before: float) -> Write:
    """Forget resolved incidents opened before ``opened_before``."""
    def run(conn: sqlite3.Connection) -> int:
        return conn.execute(_incidents.PRUNE, (opened_before,)).rowcount

    return Write("pruning of old incidents", run)
