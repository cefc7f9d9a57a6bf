"""Reading a text file the config names (the config itself, ``${file:...}`` secrets) safely.

Only regular files are read, and only up to a size limit: ``/dev/zero`` would be read
forever and a FIFO without a writer would block forever. The file is opened without
blocking (a FIFO's open would wait for a writer) and judged by ``fstat`` on the opened
descriptor, so what is read is what was judged.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.units import format_bytes

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileRefusedError(Exception):
    """The file cannot be read, or is not one to read; ``reason`` says why, in words
    (``No such file or directory``, ``not a regular file (a FIFO)``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_text_file(path: Path, limit: int) -> str:
    """The UTF-8 text of the regular file at ``path``, at most ``limit`` bytes.

    Raises FileRefusedError (missing, unreadable, not a regular file, too large, a path with a
    NUL byte) or UnicodeDecodeError (not UTF-8).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileRefusedError(e.strerror or str(e)) from None
    except ValueError:  # a NUL byte in the path
        raise FileRefusedError("the path holds a NUL byte") from None
    try:
        return _read(fd, limit).decode("utf-8")
    finally:
        os.close(fd)


def _read(fd: int, limit: int) -> bytes:
    try:
        info = os.fstat(fd)
    except OSError as e:
        raise FileRefusedError(e.strerror or str(e)) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileRefusedError("Is a directory")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        raise FileRefusedError(f"not a regular file ({kind})")
    too_large = f"larger than {format_bytes(limit)}"
    if info.st_size > limit:
        raise FileRefusedError(too_large)
    chunks: list[bytes] = []
    size = 0
    # The size said by fstat may be stale (a growing file, /proc): read to the limit + 1.
    while size <= limit:
        try:
            chunk = os.read(fd, limit + 1 - size)
        except OSError as e:
            raise FileRefusedError(e.strerror or str(e)) from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise FileRefusedError(too_large)
    return b"".join(chunks)
