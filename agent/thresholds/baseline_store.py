"""The persistent form of a ``Baseline``: its hourly summaries and daily excesses.

A header (format, rank fraction, the current hour's running summary, the hours beyond),
then the ring of hours, their sample counts, lows, highs and means, and the daily
excesses, compressed. The band is not stored: it is a function of the stored hours.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from typing import Protocol

from agent.thresholds.excess import DailyExcess

_FORMAT = 5
#: Formats 4 and 3 are format 5 without the days' stretches above, and without any
#: stretch (read, and learned from there).
_QUIET_FORMAT = 4
_OLD_FORMAT = 3
_HEADER = struct.Struct("<Bdqqdddqq")
#: Bytes per hour of the ring: hour (8), count (4), low, high, mean (8 each).
_SLOT_BYTES = 36


class Baseline(Protocol):
    """What is stored of a ``baseline.Baseline``."""

    rank_fraction: float
    cur_hour: int
    cur_n: int
    cur_lo: float
    cur_hi: float
    cur_sum: float
    beyond: list[int]
    _hour: array[int]
    _count: array[int]
    _lo: array[float]
    _hi: array[float]
    _mean: array[float]
    _days: DailyExcess

    def reindex(self) -> None: ...


def pack_baseline(b: Baseline) -> bytes:
    """``b`` as compact bytes (a few KB, compressed)."""
    head = _HEADER.pack(_FORMAT, b.rank_fraction, b.cur_hour, b.cur_n, b.cur_lo, b.cur_hi,
                        b.cur_sum, *b.beyond)
    return zlib.compress(head + b._hour.tobytes() + b._count.tobytes() + b._lo.tobytes()
                         + b._hi.tobytes() + b._mean.tobytes() + b._days.to_bytes(), 6)


def unpack_baseline(b: Baseline, data: bytes) -> None:
    """Restore ``pack_baseline`` output into the fresh baseline ``b``; ValueError when
    the data is not one (a corrupt row, or one of another format or ring size)."""
    try:
        body = zlib.decompress(data)
    except zlib.error as exc:
        raise ValueError(f"stored baseline is corrupt ({exc})") from None
    slots = len(b._hour)
    sizes = {_FORMAT: DailyExcess.SIZE, _QUIET_FORMAT: DailyExcess.QUIET_SIZE,
             _OLD_FORMAT: DailyExcess.OLD_SIZE}
    excess = sizes.get(body[0]) if body else None
    if excess is None or len(body) != _HEADER.size + slots * _SLOT_BYTES + excess:
        raise ValueError("stored baseline has an unknown format or size")
    (_, frac, cur_hour, cur_n, cur_lo, cur_hi, cur_sum, above,
     below) = _HEADER.unpack_from(body)
    if not 0.0 <= frac < 0.5:
        raise ValueError("stored baseline has an unknown format or size")
    off = _HEADER.size
    step = slots * 8
    b.rank_fraction = frac
    b._hour = array("q", body[off:off + step])
    off += step
    b._count = array("I", body[off:off + slots * 4])
    off += slots * 4
    b._lo = array("d", body[off:off + step])
    b._hi = array("d", body[off + step:off + 2 * step])
    b._mean = array("d", body[off + 2 * step:off + 3 * step])
    b._days = DailyExcess.from_bytes(body[off + 3 * step:])
    b.cur_hour, b.cur_n, b.cur_lo, b.cur_hi = cur_hour, cur_n, cur_lo, cur_hi
    b.cur_sum, b.beyond = cur_sum, [above, below]
    b.reindex()
