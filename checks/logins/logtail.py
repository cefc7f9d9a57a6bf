"""Following a growing log file across runs, restarts and log rotation (blocking I/O).

The position is the file's inode, the offset of the next unread byte, and a fingerprint of
the file's first bytes (a file truncated and refilled past the old offset between two runs
keeps its inode and size, but not its first line). It round-trips through plain JSON, so a
check keeps it in ``ctx.memory``.

Rotation, as logrotate does it:

* rename + new file (the default): the path now has another inode. The rest of the old
  file is read from ``PATH.1`` if that file still has the old inode, then the new file
  from its start. A compressed ``PATH.1.gz``, or a ``PATH.1`` written by gzip, is a new
  file (another inode, or the old inode reused but other first bytes) and is never read.
* ``copytruncate``: same inode, but the file is shorter than the offset (or its first bytes
  changed): it is read from its start. Lines written between the last read and the copy
  are in ``PATH.1``, a copy with a new inode, and are not read.

Only whole lines are returned: a line still being written stays for the next read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

#: Bytes at the start of a file whose hash tells one file's content from another's.
HEAD_BYTES = 256


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where to go on reading: inode, offset, and the hash of the first ``head_len``
    bytes of that file (``head_len`` is less than HEAD_BYTES while the file is short)."""

    inode: int
    offset: int
    head: str = ""
    head_len: int = 0

    def to_memory(self) -> dict[str, Any]:
        return {"inode": self.inode, "offset": self.offset, "head": self.head,
                "head_len": self.head_len}

    @classmethod
    def from_memory(cls, data: Any) -> LogPosition | None:
        """The position kept in memory, or None when there is none (or it is malformed)."""
        if not isinstance(data, Mapping):
            return None
        inode, offset = data.get("inode"), data.get("offset")
        head, head_len = data.get("head", ""), data.get("head_len", 0)
        if not (isinstance(inode, int) and isinstance(offset, int) and offset >= 0
                and isinstance(head, str) and isinstance(head_len, int) and head_len >= 0):
            return None
        return cls(inode, offset, head, head_len)


@dataclass(frozen=True, slots=True)
class TailRead:
    """What one read found.

    ``data`` holds whole lines only. ``first_run``: there was no position, so nothing was
    read and the position is the end of the file. ``rotated`` / ``truncated``: the file was
    replaced or cut since the last read; ``rotated_lost``: it was replaced but the old file
    was not found as ``PATH.1``, so its last lines may be missed. ``left`` is how many
    bytes were left unread because of the cap (they are read next time).
    """

    data: bytes
    position: LogPosition
    first_run: bool = False
    rotated: bool = False
    rotated_lost: bool = False
    truncated: bool = False
    left: int = 0

    @property
    def capped(self) -> bool:
        return self.left > 0


def rotated_path(path: Path) -> Path:
    """Where logrotate moves the previous file: ``auth.log`` -> ``auth.log.1``."""
    return path.with_name(path.name + ".1")


def read_new(path: Path, position: LogPosition | None, cap: int) -> TailRead:
    """The whole lines added to ``path`` since ``position``, at most ``cap`` bytes.

    Raises FileNotFoundError when ``path`` does not exist (and no rotated file is being
    finished), PermissionError when it cannot be read.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        # Rotated away and not yet re-created: finish the old file if it is there.
        if position is None:
            raise
        old = _open_same(rotated_path(path), position)
        if old is None:
            raise
        with old:
            data, offset, left = _read_lines(old, position.offset, cap, whole=True)
        return TailRead(data, LogPosition(position.inode, offset, position.head,
                                          position.head_len), rotated=True, left=left)
    with fh:
        st = os.fstat(fh.fileno())
        if position is None:
            return TailRead(b"", _position(fh, st.st_ino, st.st_size), first_run=True)
        if st.st_ino == position.inode:
            truncated = st.st_size < position.offset or not _same_head(fh, position)
            start = 0 if truncated else position.offset
            data, offset, left = _read_lines(fh, start, cap, whole=False)
            return TailRead(data, _position(fh, st.st_ino, offset), truncated=truncated,
                            left=left)
        # Another file under the name: finish the old one, then read the new from the start.
        old_data = b""
        old = _open_same(rotated_path(path), position)
        if old is not None:
            with old:
                old_data, old_offset, old_left = _read_lines(old, position.offset, cap,
                                                             whole=True)
            if old_left:
                # Not even the old file fits: stay on it, the new one waits its turn.
                return TailRead(old_data, LogPosition(position.inode, old_offset,
                                                      position.head, position.head_len),
                                rotated=True, left=old_left + st.st_size)
        data, offset, left = _read_lines(fh, 0, cap - len(old_data), whole=False)
        return TailRead(old_data + data, _position(fh, st.st_ino, offset), rotated=True,
                        rotated_lost=old is None, left=left)


def _open_same(path: Path, position: LogPosition) -> BinaryIO | None:
    """``path`` opened, if it is the file the position was taken on: same inode and same
    first bytes (a freed inode is soon reused, by a compressed copy for instance)."""
    try:
        fh = path.open("rb")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    if os.fstat(fh.fileno()).st_ino != position.inode or not _same_head(fh, position):
        fh.close()
        return None
    return fh


def _read_lines(fh: BinaryIO, start: int, cap: int, *, whole: bool) -> tuple[bytes, int, int]:
    """Bytes from ``start`` up to the last newline, at most ``cap``; with ``whole`` a last
    line without a newline is taken too (the file will not grow any more).

    Returns the data, the offset after it and how many bytes were left (0 unless capped).
    """
    size = os.fstat(fh.fileno()).st_size
    if start >= size:
        return b"", start, 0
    fh.seek(start)
    data = fh.read(max(cap, 0))
    end = start + len(data)
    left = max(size - end, 0)
    if left == 0 and whole:
        return data, end, 0
    cut = data.rfind(b"\n") + 1
    if cut == 0 and left:
        # One line longer than the cap: take it in pieces rather than stall on it.
        return data, end, left
    return data[:cut], start + cut, left + (len(data) - cut) if left else 0


def _hash_head(fh: BinaryIO, length: int) -> str:
    fh.seek(0)
    return hashlib.sha256(fh.read(length)).hexdigest()


def _same_head(fh: BinaryIO, position: LogPosition) -> bool:
    """Whether the file still starts with the bytes the position was taken on."""
    if position.head_len == 0 or not position.head:
        return True
    return _hash_head(fh, position.head_len) == position.head


def _position(fh: BinaryIO, inode: int, offset: int) -> LogPosition:
    size = os.fstat(fh.fileno()).st_size
    length = min(size, HEAD_BYTES)
    return LogPosition(inode, offset, _hash_head(fh, length) if length else "", length)
