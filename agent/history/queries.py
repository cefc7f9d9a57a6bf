"""Reading the history back: uptime, daily states, response times, outages.

Each read of a series takes the finest rows there are for each stretch of time: packed
1-hour rollups (``packing``) before the plain ones, 1-hour rollups before the 5-minute
ones start, 5-minute rollups after, and raw samples past the last 5-minute bucket
written (the minutes whose bucket is still open in the agent). A rollup counts in a span
when its bucket starts in it, so a span's edges are exact to the bucket. Uptime is the
fraction of the check's runs that were up (OK or WARNING) among those that were up or
down (CRITICAL): UNKNOWN runs, and time no agent ran, are no data.
"""

from __future__ import annotations

import datetime
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from agent.history.outages import Outage
from agent.history.packing import DAY, unpack
from agent.history.recorder import RESPONSE_METRIC, RUN_METRIC
from agent.history.rollup import FIVE_MINUTES, HOUR
from agent.model import STATUS_METRIC
from agent.store.codec import labels_to_json

_NO_LABELS = labels_to_json(())


@dataclass(frozen=True, slots=True)
class Point:
    """``n`` samples starting at ``start`` (a raw sample, or a rollup) and their mean."""

    start: float
    n: int
    mean: float


class HistoryQueries:
    """Reads of the history tables through ``conn`` (read-only is enough)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- the status page's interface ------------------------------------------------------

    def uptime(self, check: str, since: float, until: float) -> float | None:
        """Fraction (0..1) of the time in [since, until) the check was up; None: no data."""
        up, n = self.counts(check, since, until)
        return up / n if n else None

    def daily_up(self, check: str, days: int, until: float, tz: datetime.tzinfo
                 ) -> list[float | None]:
        """Per local calendar day, oldest first, the last ``days`` days up to ``until``:
        fraction up, None where no data."""
        if days <= 0:
            return []
        bounds = day_bounds(days, until, tz)
        points = self.points(check, STATUS_METRIC, bounds[0], until)
        bins: list[list[Point]] = [[] for _ in range(days)]
        for p in points:
            i = _bin(bounds, p.start)
            if i is not None:
                bins[i].append(p)
        return [_fraction(b) for b in bins]

    def response_ms(self, check: str, since: float, until: float, points: int
                    ) -> list[float | None]:
        """The check's response time in ms, averaged into ``points`` equal buckets over
        [since, until)."""
        if points <= 0 or until <= since:
            return []
        width = (until - since) / points
        sums = [0.0] * points
        counts = [0] * points
        for p in self.points(check, self.response_metric(check), since, until):
            i = min(int((p.start - since) / width), points - 1)
            sums[i] += p.mean * p.n
            counts[i] += p.n
        return [s / n if n else None for s, n in zip(sums, counts, strict=True)]

    # -- more, for ``watchkeeper uptime`` --------------------------------------------------

    def response_metric(self, check: str) -> str:
        """The metric taken as the check's response time: its own ``response_ms`` when it
        reports one, else its run time."""
        found = self.conn.execute(
            "SELECT 1 FROM history_series WHERE check_name = ? AND metric = ? AND labels = ?",
            (check, RESPONSE_METRIC, _NO_LABELS)).fetchone()
        return RESPONSE_METRIC if found else RUN_METRIC

    def response_percentiles(self, check: str, since: float, until: float,
                             quantiles: Sequence[float] = (0.5, 0.95)
                             ) -> tuple[list[float | None], float | None]:
        """The response time's quantiles over [since, until), of the raw samples (the
        rollups' means would hide the slow tail), and the time of the first sample they
        take (None: none): a span longer than the raw samples' is cut to them."""
        points = self.points(check, self.response_metric(check), since, until,
                             raw_only=True)
        first = points[0].start if points else None
        return [weighted_quantile(points, q) for q in quantiles], first

    def outages(self, check: str, since: float, until: float, *, live: bool = True
                ) -> list[Outage]:
        """The check's outages that overlap [since, until), cut to it, oldest first.

        ``live``: an agent records now, so an outage left open goes on. Else one left open
        ended at its last CRITICAL run, as the next start will end it: the time no agent
        watched is no data, not downtime."""
        open_end = "?" if live else "last_down_at"
        args = (check, until, math.inf, since) if live else (check, until, since)
        rows = self.conn.execute(
            "SELECT started_at, last_down_at, ended_at FROM history_outages "
            f"WHERE check_name = ? AND started_at < ? AND coalesce(ended_at, {open_end}) > ? "
            "ORDER BY started_at", args).fetchall()
        out = []
        for started, last_down, ended in rows:
            stop = last_down if ended is None and not live else ended
            end = min(float(stop), until) if stop is not None else None
            out.append(Outage(check, max(float(started), since), float(last_down), end))
        return out

    def checks(self) -> list[str]:
        """The checks with a status history, by name."""
        rows = self.conn.execute("SELECT DISTINCT check_name FROM history_series "
                                 "WHERE metric = ? ORDER BY check_name", (STATUS_METRIC,))
        return [str(r[0]) for r in rows]

    # -- one series -------------------------------------------------------------------

    def points(self, check: str, metric: str, since: float, until: float,
               labels: str = _NO_LABELS, *, raw_only: bool = False) -> list[Point]:
        """The series' rows over [since, until), in time order: for each stretch of time
        the rollups, then the raw samples past them (``raw_only``: only raw samples)."""
        out: list[Point] = []
        for table, lo, hi, series in self._stretches(check, metric, labels, since, until,
                                                     raw_only=raw_only):
            if table == "history_1d":
                out += self._packed(series, lo, hi)
                continue
            column = "at, 1, value" if table == "history_raw" else "bucket, n, mean"
            time = "at" if table == "history_raw" else "bucket"
            out += [Point(float(t), int(n), float(m)) for t, n, m in self.conn.execute(
                f"SELECT {column} FROM {table} WHERE series = ? AND {time} >= ? "
                f"AND {time} < ? ORDER BY {time}", (series, lo, hi))]
        return out

    def counts(self, check: str, since: float, until: float) -> tuple[float, int]:
        """Up runs and runs that were up or down, over [since, until) (summed in SQL)."""
        up, n = 0.0, 0
        for table, lo, hi, series in self._stretches(check, STATUS_METRIC, _NO_LABELS,
                                                     since, until):
            if table == "history_1d":
                points = self._packed(series, lo, hi)
                up += sum(p.mean * p.n for p in points)
                n += sum(p.n for p in points)
                continue
            sums = ("sum(value), count(*)" if table == "history_raw"
                    else "sum(n * mean), sum(n)")
            time = "at" if table == "history_raw" else "bucket"
            got_up, got_n = self.conn.execute(
                f"SELECT {sums} FROM {table} WHERE series = ? AND {time} >= ? "
                f"AND {time} < ?", (series, lo, hi)).fetchone()
            up += float(got_up or 0.0)
            n += int(got_n or 0)
        return up, n

    def _stretches(self, check: str, metric: str, labels: str, since: float, until: float,
                   *, raw_only: bool = False) -> list[tuple[str, float, float, int]]:
        """Which table covers which part of [since, until): (table, from, until, series)."""
        row = self.conn.execute(
            "SELECT id FROM history_series WHERE check_name = ? AND metric = ? AND labels = ?",
            (check, metric, labels)).fetchone()
        if row is None or until <= since:
            return []
        series = int(row[0])
        if raw_only:
            return [("history_raw", math.floor(since), until, series)]
        first5, end5 = self._span("history_5m", series, FIVE_MINUTES)
        first1, end1 = self._span("history_1h", series, HOUR)
        # 1-hour rollups up to the first whole hour the 5-minute ones cover (an hour's row
        # holds every 5-minute bucket closed in it, so the hour they begin in is whole
        # there), 5-minute rollups from there, raw samples past the last rollup.
        raw_from = end5 if end5 is not None else end1
        rollups_until = until if raw_from is None else min(until, raw_from)
        hours_until = min(-(-first5 // HOUR) * HOUR if first5 is not None else rollups_until,
                          rollups_until)
        lo = math.ceil(since)
        if first5 is not None and first5 // HOUR * HOUR < lo:
            # The hour the 5-minute rows begin in began before the span: its row does not
            # count here, so its 5-minute rows do (a fresh agent's first hour).
            hours_until = min(hours_until, lo)
        out: list[tuple[str, float, float, int]] = []
        # Packed days hold the hours before the first one left in ``history_1h``.
        days_until = hours_until if first1 is None else min(first1, hours_until)
        if days_until > lo:
            out.append(("history_1d", lo, days_until, series))
        if hours_until > max(lo, days_until):
            out.append(("history_1h", max(lo, days_until), hours_until, series))
        if first5 is not None and rollups_until > max(lo, hours_until):
            out.append(("history_5m", max(lo, hours_until), rollups_until, series))
        out.append(("history_raw", max(math.floor(since), raw_from or 0), until, series))
        return out

    def _packed(self, series: int, since: float, until: float) -> list[Point]:
        """The packed hours of a series starting in [since, until)."""
        out = []
        for day, blob in self.conn.execute(
                "SELECT day, hours FROM history_1d WHERE series = ? AND day > ? AND day < ? "
                "ORDER BY day", (series, since - DAY, until)):
            out += [Point(float(h.start), h.n, h.mean) for h in unpack(int(day), bytes(blob))
                    if since <= h.start < until]
        return out

    def _span(self, table: str, series: int, width: int) -> tuple[int | None, int | None]:
        low, high = self.conn.execute(
            f"SELECT min(bucket), max(bucket) FROM {table} WHERE series = ?",
            (series,)).fetchone()
        return (None if low is None else int(low),
                None if high is None else int(high) + width)


def _fraction(points: Sequence[Point]) -> float | None:
    n = sum(p.n for p in points)
    return sum(p.mean * p.n for p in points) / n if n else None


def weighted_quantile(points: Sequence[Point], q: float) -> float | None:
    """The ``q`` quantile of the points' means, each counted ``n`` times (nearest rank)."""
    total = sum(p.n for p in points)
    if not total:
        return None
    rank = max(math.ceil(q * total), 1)
    seen = 0
    for p in sorted(points, key=lambda p: p.mean):
        seen += p.n
        if seen >= rank:
            return p.mean
    return None  # not reached: the ranks add up to ``total``


def day_bounds(days: int, until: float, tz: datetime.tzinfo) -> list[float]:
    """The starts of the last ``days`` local calendar days up to ``until``, oldest first,
    and the end of the last (``days + 1`` epoch times)."""
    last = datetime.datetime.fromtimestamp(until, tz).date()
    first = last - datetime.timedelta(days=days - 1)
    out = []
    for i in range(days + 1):
        day = first + datetime.timedelta(days=i)
        out.append(datetime.datetime.combine(day, datetime.time(), tz).timestamp())
    return out


def _bin(bounds: Sequence[float], at: float) -> int | None:
    if at < bounds[0] or at >= bounds[-1]:
        return None
    lo, hi = 0, len(bounds) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bounds[mid] <= at:
            lo = mid
        else:
            hi = mid
    return lo
