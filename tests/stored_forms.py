"""Stored forms of a learned (adaptive) state as earlier versions wrote them.

Each format added fields after the fixed header: 3 the burst waiting and its level, 4 when
a stretch was last found and the level's hours, 5 the aftermath of the last anomaly, 6 the
least step the value moved by and whether the episode began with a level.
"""

from __future__ import annotations

import struct

_HEAD = struct.calcsize("<B23dbbIQQ?")
#: The fields each format added, in order: (format, bytes).
_ADDED = ((3, struct.calcsize("<2d")), (4, struct.calcsize("<dB")),
          (5, struct.calcsize("<3d")), (6, struct.calcsize("<d?")))


def as_format(stored: bytes, fmt: int) -> bytes:
    """``stored`` (the current format) as format ``fmt`` wrote it: without the fields
    later formats added."""
    kept, at = [bytes([fmt]) + stored[1:_HEAD]], _HEAD
    for added, size in _ADDED:
        if added <= fmt:
            kept.append(stored[at:at + size])
        at += size
    return b"".join(kept) + stored[at:]
