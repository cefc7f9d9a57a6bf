"""Reading the state database without writing anything: for commands that only look.

A read-only open creates, migrates and changes nothing, so whoever runs it (root, say)
leaves no file behind that the agent could no longer write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.errors import StateError
from agent.store.schema import SCHEMA_VERSION, current_version


def connect(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the database at ``path``; None when there is no state
    yet (no file, or one never written).

    While the agent runs (its ``-wal`` and ``-shm`` files exist) reads see its latest
    commits; otherwise the file is read as it is, unlocked: even ``mode=ro`` would create
    those two files, owned by this user. Raises StateError when the file is not a
    watchkeeper database of this schema version, sqlite3.DatabaseError when it cannot be
    read.
    """
    if not path.exists():
        return None
    live = all(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                           timeout=10.0)
    try:
        conn.row_factory = sqlite3.Row
        version = current_version(conn)
        if version not in (SCHEMA_VERSION, 0):
            newer = version > SCHEMA_VERSION
            raise StateError(
                f"schema version {version} is {'newer' if newer else 'older'} than this "
                f"watchkeeper's ({SCHEMA_VERSION}); "
                + ("upgrade watchkeeper" if newer else "the agent upgrades it when it starts"))
    except BaseException:
        conn.close()
        raise
    if version == 0:
        conn.close()
        return None
    return conn


def written_at(path: Path) -> float:
    """When the database at ``path`` was last written (its own or its WAL's mtime)."""
    times = [p.stat().st_mtime for p in (path, Path(f"{path}-wal")) if p.exists()]
    return max(times, default=0.0)
