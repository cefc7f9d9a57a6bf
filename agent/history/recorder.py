"""The running agent's history: every series' samples, rollups and outages, written in
batches through the store writer.

On the event loop, ``record`` takes each judged run: the check's status (as the series
``status``: 1 up, 0 down; UNKNOWN is no data and not recorded), each of its samples, and,
for a check that reports no ``response_ms`` of its own, its run time (``run_ms``). Raw
samples wait in memory and go out as ONE write at most every ``FLUSH_EVERY`` seconds;
rollups are summed up in memory (one small bucket per series) and go out in the flush
after their bucket closed. Each flush also prunes the old rows of a few series, in turn,
so pruning is spread thin and every series is pruned every few minutes.

While the database cannot be written (``fault`` says why), the samples and rollups are
dropped at each flush rather than held, so a long fault costs no memory: the history has
a gap there (no data, which counts neither for nor against uptime). Outages are kept and
written once the database takes writes again.

What a crash (kill -9, power cut) loses: the samples of the last ``FLUSH_EVERY`` seconds
and the open 5-minute bucket (the raw samples of those minutes are kept, but are not
rolled up again). A clean stop writes the open bucket, partial as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from agent.config.models import HistorySettings
from agent.history.outages import OutageBook, up_of
from agent.history.packing import COMPACT_AFTER
from agent.history.rollup import Rollup, SeriesRollups
from agent.history.writes import Cutoffs, Flush, SeriesRow, all_series, end_open_outages, flush
from agent.model import STATUS_METRIC, Labels, Sample, Status
from agent.store.codec import labels_from_json, labels_to_json
from agent.store.writes import WriteSink

log = logging.getLogger("watchkeeper.store")

#: Seconds between flushes.
FLUSH_EVERY = 15.0
#: Series pruned per flush.
PRUNE_PER_FLUSH = 50
#: The pseudo-metric of a check's run time, kept for checks without a ``response_ms``.
RUN_METRIC = "run_ms"
#: The metric taken as a check's response time when it reports it (unlabelled).
RESPONSE_METRIC = "response_ms"

_SeriesKey = tuple[str, str, Labels]


class HistoryRecorder:
    """See the module docstring. ``settings`` gives ``agent.history`` as configured now
    (a reload may change it); ``known`` are the series the store holds already."""

    def __init__(self, settings: Callable[[], HistorySettings], sink: WriteSink,
                 known: Iterable[SeriesRow], now: float,
                 fault: Callable[[], str | None] = lambda: None) -> None:
        self.settings = settings
        self.sink = sink
        self.fault = fault
        #: Samples dropped since the database last took writes.
        self.dropped = 0
        #: Each series' id; ``_order`` holds the ids in the order given (for pruning).
        self._ids: dict[_SeriesKey, int] = {}
        self._order: list[int] = []
        top = 0
        for row in known:
            top = max(top, row.id)
            try:
                labels = labels_from_json(row.labels)
            except ValueError:
                continue  # never matched again; pruned by age with the others
            self._ids[(row.check, row.metric, labels)] = row.id
            self._order.append(row.id)
        self._order.sort()
        self._next_id = top + 1
        self._rollups: dict[int, SeriesRollups] = {}
        self.outages = OutageBook()
        self._pending = Flush()
        #: Series first seen while the database could not be written.
        self._unwritten: list[SeriesRow] = []
        self._faulted = False
        self._flushed_at = now
        self._prune_at = 0
        self.sink.submit(end_open_outages())

    def record(self, check: str, status: Status, samples: Sequence[Sample], duration: float,
               at: float) -> None:
        """One judged run of ``check``, finished at ``at`` (the agent's decision time)."""
        if not self.settings().enabled:
            return
        up = up_of(status)
        self.outages.observe(check, up, at)
        if up is not None:
            self._add(check, STATUS_METRIC, (), 1.0 if up else 0.0, at)
        has_response = False
        for sample in samples:
            if sample.metric in (STATUS_METRIC, RUN_METRIC):
                continue  # the pseudo-series' names are the agent's
            has_response = has_response or (sample.metric == RESPONSE_METRIC
                                            and not sample.labels)
            self._add(check, sample.metric, sample.labels, sample.value, at)
        if not has_response and up is not None:
            self._add(check, RUN_METRIC, (), round(duration * 1000, 1), at)

    def _add(self, check: str, metric: str, labels: Labels, value: float, at: float) -> None:
        key = (check, metric, labels)
        series = self._ids.get(key)
        if series is None:
            series = self._id_of(key)
        self._pending.raw.append((series, int(at), value))
        rollups = self._rollups.get(series)
        if rollups is None:
            rollups = self._rollups[series] = SeriesRollups(series)
        rollups.add(at, value, self._pending.rollups)

    def _id_of(self, key: _SeriesKey) -> int:
        check, metric, labels = key
        series = self._next_id
        self._next_id += 1
        self._ids[key] = series
        self._order.append(series)
        self._pending.series.append(SeriesRow(series, check, metric, labels_to_json(labels)))
        return series

    def flush_due(self, now: float) -> None:
        """Flush when ``FLUSH_EVERY`` seconds passed since the last one."""
        if now - self._flushed_at >= FLUSH_EVERY:
            self.flush(now)

    def flush(self, now: float, everything: bool = False) -> None:
        """Hand the writer what waits: the samples, the closed buckets (all open ones too
        when ``everything``: at shutdown), the changed outages and a turn of pruning."""
        self._flushed_at = now
        pending, self._pending = self._pending, Flush()
        closed: list[Rollup] = pending.rollups
        stopped = []
        for series, rollups in self._rollups.items():
            if everything:
                rollups.close_all(closed)
            else:
                rollups.close_before(now, closed)
            if rollups.empty:
                stopped.append(series)
        for series in stopped:
            del self._rollups[series]
        fault = self.fault()
        if fault is not None:
            if not self._faulted:
                log.warning("history: the state database cannot be written (%s): its "
                            "samples are dropped until it can", fault)
                self._faulted = True
            self.dropped += len(pending.raw)
            # Series first seen now are written with their next samples.
            self._unwritten += pending.series
            return
        if self._faulted:
            log.warning("history: written again; %d samples were dropped meanwhile",
                        self.dropped)
            self._faulted, self.dropped = False, 0
        pending.series[:0] = self._unwritten
        self._unwritten = []
        pending.outages = self.outages.take_changed()
        pending.prune = self._prune_turn()
        s = self.settings()
        pending.cutoffs = Cutoffs(now - s.raw, now - s.five_minutes, now - s.keep,
                                  now - max(COMPACT_AFTER, s.five_minutes))
        if pending:
            self.sink.submit(flush(pending))

    def _prune_turn(self) -> list[int]:
        ids = self._order
        if not ids:
            return []
        start = self._prune_at % len(ids)
        turn = ids[start:start + PRUNE_PER_FLUSH]
        self._prune_at = start + len(turn)
        return turn

    def resubmit(self) -> None:
        """Write every known series again (the database file was replaced)."""
        self.sink.submit(all_series([SeriesRow(series, check, metric, labels_to_json(labels))
                                     for (check, metric, labels), series in self._ids.items()]))

    def series_id(self, check: str, metric: str, labels: Labels = ()) -> int | None:
        return self._ids.get((check, metric, labels))

    @property
    def series_count(self) -> int:
        return len(self._order)
