"""Reading the state database without writing anything: for commands that only look.

A read-only open creates, migrates and changes nothing, so whoever runs it (root, say)
leaves no file behind that the agent could no longer write.
"""

from __future__ import annotations

import os
import sqlite3
import stat
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
    check_state_dir(path.parent)
    try:
        if not path.exists():
            return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
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


def check_state_dir(state_dir: Path) -> None:
    """Raise StateError when ``state_dir`` exists but cannot hold a state to read: it (or
    a directory above it) is a file, or this user may not read it. One that does not
    exist yet is fine: there is no state yet.
    """
    try:
        mode = os.stat(state_dir).st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        above = next((p for p in state_dir.parents if p.exists() and not p.is_dir()), None)
        where = f": {above} is not a directory" if above is not None else ""
        raise StateError(f"cannot use the state directory {state_dir}{where}") from None
    except OSError as exc:
        raise StateError(f"cannot read the state directory {state_dir}: "
                         f"{exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        raise StateError(f"the state directory {state_dir} is not a directory")
    if not os.access(state_dir, os.R_OK | os.X_OK):
        raise StateError(f"the state directory {state_dir} is not readable by this user "
                         f"(uid {os.geteuid()})")


def written_at(path: Path) -> float:
    """When the database at ``path`` was last written (its own or its WAL's mtime)."""
    times = [p.stat().st_mtime for p in (path, Path(f"{path}-wal")) if p.exists()]
    return max(times, default=0.0)
