"""The store writer: a thread that applies the agent's writes, so the event loop never
waits on SQLite or the disk.

Writes are applied in the order they were submitted, as many as are waiting in ONE
transaction. When the database cannot be written (not writable, disk full, locked by
another process, corrupt), the writer keeps every write in memory, says so (``health``:
the fault, since when, how much is held; a log line at once and every minute after),
reopens the database and tries again with a growing pause, and writes everything once
the fault clears. Reopening finds a file that was moved away and replaced: then it asks
the agent (``on_replaced``) for a full copy of what it holds, since the new file lacks it.

A write that fails for a reason of its own (a constraint, never the environment) is
logged and dropped, so one bad write cannot hold back the others for good.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import StateError
from agent.store import writes
from agent.store.db import DB_NAME, Store
from agent.store.writes import Write

log = logging.getLogger("watchkeeper.store")

#: How long a write waits for another process's lock before the writer calls it a fault.
BUSY_TIMEOUT = 0.5
#: Most writes in one transaction.
BATCH = 500
#: Pauses between tries while the database cannot be written (seconds): 0.5, 1, 2, 4, 5...
RETRY_FIRST = 0.5
RETRY_CAP = 5.0
#: How often a fault that lasts is said again in the log.
REMIND_EVERY = 60.0
#: A checkpoint once this many writes were applied and none waits, or at least this often
#: (seconds) while writes come.
CHECKPOINT_AFTER = 200
CHECKPOINT_EVERY = 60.0
#: SQLite's words for a write that is wrong in itself, not a database that cannot be used.
_OWN_FAULTS = ("SQLITE_CONSTRAINT", "SQLITE_MISMATCH", "SQLITE_RANGE", "SQLITE_TOOBIG")


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the state database takes the agent's writes."""

    #: Why it does not (None: it does).
    fault: str | None = None
    #: Since when (epoch seconds) the fault lasts.
    since: float | None = None
    #: Writes waiting in memory.
    held: int = 0

    def text(self) -> str | None:
        """``cannot write the state database since ...: why; 12 changes held in memory``,
        or None when all is well."""
        if self.fault is None:
            return None
        from agent.timefmt import utc_second

        since = f" since {utc_second(self.since)}" if self.since is not None else ""
        return (f"cannot write the state database{since}: {self.fault}; {self.held} "
                f"change{'s' if self.held != 1 else ''} held in memory")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class StoreWriter:
    """Applies writes in a thread of its own; see the module's docstring."""

    def __init__(self, state_dir: Path, store: Store | None, fault: str | None = None, *,
                 on_replaced: Callable[[], None] | None = None,
                 busy_timeout: float = BUSY_TIMEOUT) -> None:
        """Write to ``store`` (a connection of the writer's own), or, when it is None,
        open ``state_dir``'s database once it can be (``fault`` says why it could not)."""
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / DB_NAME
        self.busy_timeout = busy_timeout
        self.on_replaced = on_replaced
        self._store = store
        self._file = _identity(self.path) if store is not None else None
        self._queue: deque[Write] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._fault: str | None = None
        self._since: float | None = None
        self._since_checkpoint = 0
        self._checkpointed = time.monotonic()
        if store is None:
            self._set_fault(fault or "the database is not open")
        self._thread = threading.Thread(target=self._loop, name="store writer", daemon=True)
        self._thread.start()

    # -- the loop's side -------------------------------------------------------------------

    def submit(self, write: Write) -> None:
        """Queue a write (never blocks). A waiting write with the same key is replaced."""
        with self._cond:
            if write.key is not None:
                for i, waiting in enumerate(self._queue):
                    if waiting.key == write.key:
                        del self._queue[i]
                        break
            self._queue.append(write)
            self._cond.notify()

    def health(self) -> StoreHealth:
        """The fault, if any, and how much waits."""
        with self._cond:
            return StoreHealth(self._fault, self._since, len(self._queue))

    def flush(self, timeout: float) -> bool:
        """Wait (blocking: call it in a thread) until every write so far is applied, for
        at most ``timeout`` seconds; True when none is left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify()
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def close(self, timeout: float = 5.0) -> int:
        """Apply what waits (for at most ``timeout``), stop the thread, close the
        database; returns how many writes could not be applied."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=max(timeout, 1.0))
        with self._cond:
            left = len(self._queue)
        if left:
            log.error("%d change(s) could not be written to %s and are lost: %s", left,
                      self.path, self._fault or "the writer stopped")
        if self._store is not None:
            self._store.close()
        return left

    # -- the thread --------------------------------------------------------------------

    def _loop(self) -> None:
        pause = RETRY_FIRST
        reminded = time.monotonic()
        while True:
            with self._cond:
                while not self._queue and not self._stopping and self._fault is None:
                    self._cond.wait()
                if self._stopping and (not self._queue or self._fault is not None):
                    return
                batch = [self._queue[i] for i in range(min(len(self._queue), BATCH))]
                self._busy = True
            # Nothing waits but the fault lasts: a real write tells when it is over.
            probe = not batch
            try:
                problem = self._write(batch or [writes.alive(time.time())], probe=probe)
                if problem is None:
                    self._checkpoint(len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if problem is None:
                pause = RETRY_FIRST
                continue
            now = time.monotonic()
            if now - reminded >= REMIND_EVERY:
                reminded = now
                health = self.health()
                log.error("%s", health.text())
            with self._cond:
                if not self._stopping:
                    self._cond.wait(pause)
            pause = min(pause * 2, RETRY_CAP)

    def _checkpoint(self, written: int) -> None:
        """Fold the WAL back into the database and truncate it once writes pause after a
        burst (or a minute of them), so the WAL never grows to fill the disk."""
        self._since_checkpoint += written
        with self._cond:
            idle = not self._queue
        now = time.monotonic()
        if not self._since_checkpoint or not (
                (idle and self._since_checkpoint >= CHECKPOINT_AFTER)
                or now - self._checkpointed >= CHECKPOINT_EVERY):
            return
        if self._store is not None and self._store.checkpoint():
            self._since_checkpoint, self._checkpointed = 0, now

    def _write(self, batch: list[Write], probe: bool = False) -> str | None:
        """Apply ``batch`` (``probe``: a write only to learn whether the database takes
        writes again); None when done, else the fault."""
        store = self._open()
        if store is None:
            return self._fault
        try:
            store.apply(batch)
        except StateError as exc:
            cause = exc.__cause__
            if isinstance(cause, sqlite3.Error) and getattr(
                    cause, "sqlite_errorname", "").startswith(_OWN_FAULTS) and len(batch) > 1:
                return self._one_by_one(store, batch)
            if isinstance(cause, sqlite3.Error) and getattr(
                    cause, "sqlite_errorname", "").startswith(_OWN_FAULTS):
                log.error("dropping a write the database refuses (%s): %s", batch[0].what,
                          exc)
                self._done(batch)
                return None
            self._set_fault(_words(exc))
            self._drop_connection()
            return self._fault
        if not probe:
            self._done(batch)
        self._clear_fault(0 if probe else len(batch))
        return None

    def _one_by_one(self, store: Store, batch: list[Write]) -> str | None:
        for write in batch:
            try:
                store.apply([write])
            except StateError as exc:
                cause = exc.__cause__
                if isinstance(cause, sqlite3.Error) and getattr(
                        cause, "sqlite_errorname", "").startswith(_OWN_FAULTS):
                    log.error("dropping a write the database refuses (%s): %s", write.what,
                              exc)
                else:
                    self._set_fault(_words(exc))
                    self._drop_connection()
                    return self._fault
            self._done([write])
        self._clear_fault(len(batch))
        return None

    def _done(self, batch: list[Write]) -> None:
        with self._cond:
            for write in batch:
                # Only the batch's own: a newer write of the same key may have replaced it.
                with contextlib.suppress(ValueError):
                    self._queue.remove(write)

    def _open(self) -> Store | None:
        if self._store is not None:
            return self._store
        try:
            store = Store.open(self.state_dir, busy_timeout=self.busy_timeout)
        except StateError as exc:
            self._set_fault(_words(exc))
            return None
        was, self._file = self._file, _identity(self.path)
        self._store = store
        if was != self._file and self.on_replaced is not None:
            log.warning("state database %s is a new file: writing everything the agent "
                        "holds to it", self.path)
            self.on_replaced()
        return store

    def _drop_connection(self) -> None:
        """Close the connection after a fault: the next try opens the file anew, so a
        fixed permission, a freed lock or a replaced file is seen."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def _set_fault(self, fault: str) -> None:
        with self._cond:
            first = self._fault is None
            changed = fault != self._fault
            self._fault = fault
            if first:
                self._since = time.time()
        if first or changed:
            log.error("%s", self.health().text())

    def _clear_fault(self, written: int) -> None:
        with self._cond:
            if self._fault is None:
                return
            fault, since = self._fault, self._since
            self._fault = self._since = None
        lasted = f" after {time.time() - since:.0f}s" if since is not None else ""
        log.warning("the state database takes writes again%s (it could not: %s); wrote "
                    "%d held change(s)", lasted, fault, written)


def _words(exc: StateError) -> str:
    """The fault in a user's words, without the path (the message names it)."""
    text = str(exc)
    cause = exc.__cause__
    name = getattr(cause, "sqlite_errorname", "") if cause is not None else ""
    if name.startswith("SQLITE_BUSY") or "database is locked" in text:
        return f"{text} (another process holds a write lock on it)"
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return f"{text} (the disk is full)"
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN")):
        return f"{text} (is it writable by uid {os.geteuid()}?)"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return f"{text} (the file is corrupt: move it away and the agent starts a new one)"
    return text
