"""The durable state store: one SQLite file (``state.db``) in the state directory."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from agent.alerting.silences import SILENCE_KEPT, Silence, Suppressed
from agent.alerting.state import AlertState, Phase
from agent.errors import StateError
from agent.heartbeats import PINGS_KEPT, Ping, PingKind
from agent.model import AlertKey
from agent.store import learned as _learned
from agent.store import readonly as _readonly
from agent.store import silences as _silences
from agent.store import writes
from agent.store.codec import STATE_COLUMNS, state_from_row
from agent.store.incidents import IncidentQueries
from agent.store.outbox import OutboxQueries
from agent.store.outbox import decode as _decode
from agent.store.records import Delivery
from agent.store.schema import migrate
from agent.store.writes import Write

DB_NAME = "state.db"

log = logging.getLogger("watchkeeper.store")

_A = TypeVar("_A")
_R = TypeVar("_R")

class Store(OutboxQueries, IncidentQueries):
    """Alert states, the notification outbox, checks' memory, heartbeat pings, learned
    thresholds' state and silences, in one SQLite file.

    Synchronous and thread-safe (one connection behind a lock): async callers may run
    calls in a thread. Every write is a transaction of its own; ``commit`` puts new
    states and their deliveries in one.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path, busy_timeout: float = 10.0) -> Store:
        """Open (creating it and its directory if needed) ``state_dir/state.db``;
        a write waits at most ``busy_timeout`` seconds for another process's lock.

        Raises StateError when the directory cannot be created or written, or the file is
        not a usable watchkeeper database (corrupt, foreign or of a newer schema).
        """
        state_dir = Path(state_dir)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {state_dir}: "
                             f"{exc.strerror or exc}") from None
        if not state_dir.is_dir():
            raise StateError(f"state directory {state_dir} is not a directory")
        if os.statvfs(state_dir).f_flag & os.ST_RDONLY:
            # Else said as a permission problem, which no chmod or chown can solve.
            raise StateError(f"state directory {state_dir} is on a read-only filesystem")
        if not os.access(state_dir, os.W_OK | os.X_OK):
            raise StateError(f"state directory {state_dir} is not writable "
                             f"by this user (uid {os.geteuid()})")
        path = state_dir / DB_NAME
        conn: sqlite3.Connection | None = None
        try:
            # Autocommit mode: transactions are opened explicitly, so each is visible.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=busy_timeout)
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StateError(f"{path}: cannot switch to WAL journal (got {mode})")
            # FULL: a commit is fsynced before it returns, so neither kill -9 nor a power
            # cut loses a queued notification or an alert state (NORMAL may lose the last
            # commits on power loss). Commits are few, so the cost is small.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            # The WAL is folded back every ~1 MB and truncated to 4 MB after a checkpoint,
            # so it never grows to fill a small disk (the writer also checkpoints after
            # bursts).
            conn.execute("PRAGMA wal_autocheckpoint = 256")
            conn.execute("PRAGMA journal_size_limit = 4194304")
            migrate(conn, str(path))
        except StateError:
            if conn is not None:
                conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StateError(_open_error(path, exc)) from None
        return cls(conn, path)

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Store | None:
        """Open ``state_dir/state.db`` to read only (see ``readonly``); None when there is
        no state yet (not even the directory exists). Raises StateError when it cannot be
        read or is not usable, the directory included (a file, unreadable)."""
        path = Path(state_dir) / DB_NAME
        _readonly.check_state_dir(path.parent)  # its own message, naming the directory
        try:
            conn = _readonly.connect(path)
        except sqlite3.DatabaseError as exc:
            raise StateError(_open_error(path, exc)) from None
        except StateError as exc:
            raise StateError(f"{path}: {exc}") from None
        return None if conn is None else cls(conn, path)

    def written_at(self) -> float:
        """When the database was last written (epoch seconds)."""
        return _readonly.written_at(self.path)

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back whole when anything in it fails."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StateError(f"state database {self.path}: {exc}") from exc
                raise

    def apply(self, batch: Sequence[Write]) -> list[int]:
        """Run writes in ONE transaction (all or none); each one's count. An empty batch
        is an empty transaction."""
        with self._tx() as conn:
            return [w.run(conn) for w in batch]

    def submit(self, write: Write) -> None:
        """Apply one write at once (a ``WriteSink`` for one-shot commands and tests)."""
        self.apply([write])

    def checkpoint(self) -> bool:
        """Fold the WAL into the database and truncate it; False when readers kept part
        of it (or it failed: the next checkpoint tries again)."""
        with self._lock:
            try:
                busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.Error as exc:
                log.debug("checkpoint of %s failed: %s", self.path, exc)
                return False
        return not busy

    def last_ids(self) -> tuple[int, int]:
        """The highest outbox and silence ids ever given (deleted rows included), so the
        agent gives new rows ids that were never used."""
        rows = self._read("SELECT name, seq FROM sqlite_sequence "
                          "WHERE name IN ('outbox', 'silences')")
        seq = {str(r[0]): int(r[1]) for r in rows}
        top = self._read("SELECT (SELECT max(id) FROM outbox), (SELECT max(id) FROM silences)")
        outbox, silences = (int(v or 0) for v in top[0])
        return max(outbox, seq.get("outbox", 0)), max(silences, seq.get("silences", 0))

    def query(self, read: Callable[[sqlite3.Connection], _R]) -> _R:
        """What ``read`` finds through the store's connection (history reads, which take a
        connection); a database error is a StateError."""
        with self._lock:
            try:
                return read(self._conn)
            except sqlite3.Error as exc:
                raise StateError(f"state database {self.path}: {exc}") from exc

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StateError(f"state database {self.path}: {exc}") from exc

    # -- alert states ------------------------------------------------------------------

    def load_states(self) -> dict[AlertKey, AlertState]:
        """Every stored alert state, by key."""
        out: dict[AlertKey, AlertState] = {}
        for row in self._read(f"SELECT {', '.join(STATE_COLUMNS)} FROM alert_states"):
            state = _decode(row["key"], state_from_row, row)
            out[state.key] = state
        return out

    def open_alerts(self) -> list[AlertState]:
        """States that are PENDING or FIRING, oldest problem first."""
        rows = self._read(
            f"SELECT {', '.join(STATE_COLUMNS)} FROM alert_states WHERE phase IN (?, ?) "
            "ORDER BY coalesce(problem_since, updated_at), key",
            (Phase.PENDING.value, Phase.FIRING.value))
        return [_decode(r["key"], state_from_row, r) for r in rows]

    def commit(self, states: Sequence[AlertState], deliveries: Sequence[Delivery],
               suppress: Sequence[Suppressed] = (), forget: Sequence[str] = ()) -> None:
        """Upsert ``states`` and queue ``deliveries`` in ONE transaction, with the incidents
        a silence held back (``suppress``) or no longer holds (``forget``).

        A delivery is due at once (at its event's time). Queuing the same event to the
        same target twice is a no-op.
        """
        self.apply([writes.commit(states, deliveries, suppress, forget)])

    # -- check memory ------------------------------------------------------------------

    def load_memory(self, check: str) -> dict[str, Any]:
        """The check's saved memory (empty when none was saved)."""
        rows = self._read("SELECT data FROM check_memory WHERE check_name = ?", (check,))
        if not rows:
            return {}
        data = _decode(f"memory of check {check}", json.loads, rows[0]["data"])
        return data if isinstance(data, dict) else {}

    def save_memory(self, check: str, memory: Mapping[str, Any]) -> None:
        """Replace the check's saved memory (values that JSON cannot hold become text)."""
        self.apply([writes.memory(check, memory)])

    # -- heartbeat pings ---------------------------------------------------------------

    def record_ping(self, name: str, ping: Ping, keep: int = PINGS_KEPT) -> None:
        """Append a ping of heartbeat ``name``; only its newest ``keep`` pings are kept."""
        self.apply([writes.ping(name, ping, keep)])

    def heartbeat_pings(self, name: str, limit: int = PINGS_KEPT) -> list[Ping]:
        """The newest ``limit`` pings of heartbeat ``name``, oldest first (arrival order)."""
        rows = self._read("SELECT kind, at, exit_code FROM heartbeats WHERE name = ? "
                          "ORDER BY id DESC LIMIT ?", (name, limit))
        return [_decode(f"ping of heartbeat {name}", _ping, r) for r in reversed(rows)]

    # -- learned thresholds ------------------------------------------------------------

    def save_learned(self, items: Sequence[tuple[AlertKey, bytes]], now: float) -> None:
        """Store what series learned (``SeriesJudge.to_bytes``), all in ONE transaction."""
        if items:
            self.apply([writes.learned(items, now)])

    def load_learned(self, key: AlertKey) -> bytes | None:
        """What series ``key`` had learned when last saved; None when nothing was."""
        rows = self._read(_learned.SELECT_DATA, (key.as_text(),))
        return bytes(rows[0]["data"]) if rows else None

    def learned_saved_at(self, key: AlertKey) -> float | None:
        """When what series ``key`` learned was last saved; None when it never was."""
        rows = self._read("SELECT updated_at FROM learned WHERE key = ?", (key.as_text(),))
        return float(rows[0][0]) if rows else None

    def learned_keys(self, check: str | None = None) -> list[AlertKey]:
        """The series with learned state (only those of ``check`` when given), by key text."""
        if check is None:
            rows = self._read(_learned.SELECT_KEYS + " ORDER BY key")
        else:
            rows = self._read(_learned.SELECT_KEYS + " WHERE check_name = ? ORDER BY key",
                              (check,))
        return [_decode(f"learned row {r['key']}", _learned.key_from_row, r) for r in rows]

    # -- silences ----------------------------------------------------------------------

    def add_silence(self, check_glob: str, metric: str | None, starts_at: float,
                    ends_at: float, *, reason: str = "", created_at: float | None = None
                    ) -> int:
        """Store a silence (created at ``starts_at`` unless told); return its id, never
        reused."""
        created = starts_at if created_at is None else created_at
        return self.apply([writes.silence(Silence(
            id=0, check_glob=check_glob, metric=metric, starts_at=starts_at, ends_at=ends_at,
            reason=reason, created_at=created, host=""))])[0]

    def silences(self, active_at: float | None = None, *, host: str) -> list[Silence]:
        """The stored silences (only those holding at ``active_at`` when given), by id.

        ``host`` is the agent's host name, which the silences apply to.
        """
        if active_at is None:
            rows = self._read(_silences.SELECT_SILENCES + _silences.ORDER)
        else:
            rows = self._read(_silences.SELECT_SILENCES + _silences.ACTIVE_AT
                              + _silences.ORDER, (active_at, active_at))
        decode = functools.partial(_silences.silence_from_row, host=host)
        return [_decode(f"silence #{r['id']}", decode, r) for r in rows]

    def remove_silence(self, silence_id: int) -> bool:
        """Delete a silence; False when there is none with that id."""
        return self.apply([writes.remove_silence(silence_id)])[0] > 0

    def expire_silences(self, now: float, kept: float = SILENCE_KEPT) -> int:
        """Delete the silences that ended more than ``kept`` seconds ago; return how many."""
        return self.apply([writes.expire_silences(now, kept)])[0]

    def suppressed(self) -> list[Suppressed]:
        """The incidents whose FIRING a silence held back, oldest first."""
        return [_decode(f"suppressed incident {r['incident']}",
                        _silences.suppressed_from_row, r)
                for r in self._read(_silences.SELECT_SUPPRESSED)]

    def record_suppressed(self, items: Sequence[Suppressed]) -> None:
        """Remember held-back incidents (one already remembered is kept as it was)."""
        with self._tx() as conn:
            _silences.write_suppressed(conn, items, ())

    def forget_suppressed(self, incidents: Sequence[str]) -> None:
        """Forget held-back incidents (unknown ids are ignored)."""
        with self._tx() as conn:
            _silences.write_suppressed(conn, (), incidents)


def _open_error(path: Path, exc: sqlite3.DatabaseError) -> str:
    """Words for a failure to open the database, with what to do about it."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_IOERR",
                        "SQLITE_FULL", "SQLITE_AUTH")):
        return (f"cannot open or write state database {path}: {exc} (is the directory "
                f"writable by uid {os.geteuid()}, and the disk not full?)")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return (f"state database {path} is corrupt: {exc} (move it away to start afresh; "
                "the alert states and queued notifications in it are lost)")
    return f"cannot use state database {path}: {exc}"


def _ping(r: sqlite3.Row) -> Ping:
    code = r["exit_code"]
    return Ping(PingKind(r["kind"]), float(r["at"]), None if code is None else int(code))
