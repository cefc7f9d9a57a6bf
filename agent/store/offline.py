"""Writing the store from a command while no agent runs on it.

A command that changes state asks the running agent first (``agent.control``); only when
none runs does it write the database itself, holding the state directory's lock, so an
agent started meanwhile waits for nothing and finds the change. What it creates belongs
to the state directory's owner, so a command run as root never leaves a file the agent
(running as its own user) cannot write.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from agent.errors import StateError
from agent.state_lock import LOCK_NAME, LockHeldError, StateLock
from agent.store.db import DB_NAME, Store

#: The files of a state directory a command may create.
_OWN_FILES = (LOCK_NAME, DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm")


@contextlib.contextmanager
def offline_store(state_dir: Path) -> Iterator[Store]:
    """The store of ``state_dir``, opened under its lock. Raises StateError when an agent
    holds the lock (it did not answer on its control socket) or the store cannot be
    used."""
    state_dir = Path(state_dir)
    try:
        lock = StateLock.acquire(state_dir)
    except LockHeldError as exc:
        raise StateError(f"{exc}, but it did not answer on its control socket; "
                         "try again, or see its log") from None
    try:
        with Store.open(state_dir) as store:
            yield store
    finally:
        lock.release()
        give_to_owner(state_dir)


def give_to_owner(state_dir: Path) -> None:
    """Make the state files root created belong to the state directory's owner."""
    if os.geteuid() != 0:
        return
    try:
        owner = os.stat(state_dir)
    except OSError:
        return
    if owner.st_uid == 0:
        return
    for name in _OWN_FILES:
        path = state_dir / name
        with contextlib.suppress(FileNotFoundError):
            st = os.lstat(path)
            if st.st_uid == 0:
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
