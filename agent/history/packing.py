"""Old 1-hour rollups packed a day to a row: the same hours in a fraction of the space.

A row of ``history_1h`` costs some 17 bytes of key and bookkeeping for 6 of numbers, and
most series barely change (a status, a status code, a body size). Once an hour is older
than ``COMPACT_AFTER``, the writer moves its rows into ``history_1d``: one row per series
and UTC day, its hours as (hour of the day, count, low, high, mean) records, zlib-packed.
Nothing is rounded: the numbers are the same doubles. Hours are moved oldest first, so
every hour in ``history_1d`` is older than every hour left in ``history_1h``.
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DAY = 86400
HOUR = 3600
#: Hours older than this (seconds) are packed (past the 30 days ``/metrics`` and the
#: month's error budget read, so those stay plain SQL sums).
COMPACT_AFTER = 32 * DAY
#: Most hour rows one series moves per turn (two days: bounded work per batch).
COMPACT_ROWS = 48



@dataclass(frozen=True, slots=True)
class Hour:
    """One hour's rollup: its start, count, low, high and mean."""

    start: int
    n: int
    low: float
    high: float
    mean: float


def pack(hours: Sequence[Hour]) -> bytes:
    """The hours of one UTC day as a ``history_1d.hours`` value: which hours are there (a
    bit each), then column by column the counts, lows, highs and means, so that what
    repeats from hour to hour packs small."""
    k = len(hours)
    there = sum(1 << ((h.start % DAY) // HOUR) for h in hours)
    raw = struct.pack(f"<I{k}I{3 * k}d", there, *(h.n for h in hours),
                      *(h.low for h in hours), *(h.high for h in hours),
                      *(h.mean for h in hours))
    return zlib.compress(raw, 9)


def unpack(day: int, blob: bytes) -> list[Hour]:
    """The hours of a ``history_1d`` row (``day``: its start), in time order."""
    raw = zlib.decompress(blob)
    (there,) = struct.unpack_from("<I", raw)
    at = [i for i in range(24) if there >> i & 1]
    k = len(at)
    values = struct.unpack_from(f"<{k}I{3 * k}d", raw, 4)
    n, low, high, mean = (values[i * k:(i + 1) * k] for i in range(4))
    return [Hour(day + at[i] * HOUR, n[i], low[i], high[i], mean[i]) for i in range(k)]


def merged(old: Iterable[Hour], new: Iterable[Hour]) -> list[Hour]:
    """Two sets of hours of a day as one (an hour in both is summed)."""
    out: dict[int, Hour] = {h.start: h for h in old}
    for h in new:
        was = out.get(h.start)
        if was is None:
            out[h.start] = h
        else:
            n = was.n + h.n
            out[h.start] = Hour(h.start, n, min(was.low, h.low), max(was.high, h.high),
                                (was.mean * was.n + h.mean * h.n) / n)
    return [out[k] for k in sorted(out)]


def compact(conn: sqlite3.Connection, series: int, before: float) -> int:
    """Move up to ``COMPACT_ROWS`` of the series' oldest hour rows that start before
    ``before`` into its packed days; returns how many were moved."""
    rows = conn.execute(
        "SELECT bucket, n, low, high, mean FROM history_1h WHERE series = ? AND bucket < ? "
        f"ORDER BY bucket LIMIT {COMPACT_ROWS}", (series, int(before))).fetchall()
    if not rows:
        return 0
    days: dict[int, list[Hour]] = {}
    for bucket, n, low, high, mean in rows:
        start = int(bucket)
        days.setdefault(start // DAY * DAY, []).append(
            Hour(start, int(n), float(low), float(high), float(mean)))
    for day, moved in days.items():
        found = conn.execute("SELECT hours FROM history_1d WHERE series = ? AND day = ?",
                             (series, day)).fetchone()
        hours = merged(unpack(day, bytes(found[0])), moved) if found is not None else moved
        conn.execute("INSERT INTO history_1d (series, day, hours) VALUES (?, ?, ?) "
                     "ON CONFLICT (series, day) DO UPDATE SET hours = excluded.hours",
                     (series, day, pack(hours)))
    last = int(rows[-1][0])
    conn.execute("DELETE FROM history_1h WHERE series = ? AND bucket <= ?", (series, last))
    return len(rows)
