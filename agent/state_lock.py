"""One agent per state directory: an exclusive lock held for the process's life.

The lock is ``flock`` on ``<state_dir>/agent.lock``: the kernel releases it when the
process dies however it dies (kill -9, power cut), so a stale lock never blocks a start.
The file holds the holder's pid, for the message a second agent prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from agent.errors import StateError

LOCK_NAME = "agent.lock"


class LockHeldError(StateError):
    """Another process holds the state directory's lock."""


class StateLock:
    """The held lock of one state directory; ``release`` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        """Take the lock of ``state_dir`` (creating the directory if needed).

        Raises StateError "another agent (pid N) is running on DIR" when it is held, or
        naming the directory when the lock file cannot be made.
        """
        state_dir = Path(state_dir)
        path = state_dir / LOCK_NAME
        writable = True
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            # A lock file this user cannot write still locks (flock needs no write
            # access): an agent on a read-only state then runs and says what is wrong.
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                for where in (state_dir, *state_dir.parents):
                    if where.exists() and not where.is_dir():
                        raise StateError(f"cannot use the state directory {state_dir}: "
                                         f"{where} is not a directory") from None
                raise StateError(f"cannot create the lock {path}: "
                                 f"{exc.strerror or exc}") from None
            writable = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise LockHeldError(f"another agent{who} is running on {state_dir}") from None
        if writable:
            # The pid is only for a second agent's message: on a full disk the agent
            # still starts (and says what is wrong with its store).
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        """Free the lock (idempotent); the file stays, empty of meaning."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def holder_pid(state_dir: Path) -> int | None:
    """The pid of the agent holding ``state_dir``'s lock, or None when nobody holds it."""
    path = Path(state_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
