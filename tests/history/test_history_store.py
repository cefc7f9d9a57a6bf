"""The history in a real state database: written in batches, kept across restarts,
pruned by age with bounded work, read back from the finest rows there are."""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config.models import HistorySettings
from agent.history.outages import Outage
from agent.history.queries import HistoryQueries
from agent.history.recorder import FLUSH_EVERY, PRUNE_PER_FLUSH, HistoryRecorder
from agent.history.rollup import FIVE_MINUTES, HOUR, Rollup
from agent.history.writes import PRUNE_ROWS, Flush, flush, load_series
from agent.model import Sample, Status
from agent.store import Store

T0 = 1_800_000_000.0 // 86400 * 86400  # a UTC midnight
SETTINGS = HistorySettings()


class Sink:
    """A WriteSink that counts the writes it applies to a real store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes = 0

    def submit(self, write: object) -> None:
        self.writes += 1
        self.store.submit(write)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state") as found:
        yield found


def recorder(store: Store, now: float = T0,
             settings: HistorySettings = SETTINGS) -> tuple[HistoryRecorder, Sink]:
    sink = Sink(store)
    return HistoryRecorder(lambda: settings, sink, store.query(load_series), now), sink


def run_minutes(rec: HistoryRecorder, start: float, minutes: int, down: range = range(0),
                check: str = "web") -> float:
    at = start
    for i in range(minutes):
        at = start + i * 60
        status = Status.CRITICAL if i in down else Status.OK
        rec.record(check, status, (Sample("response_ms", 100.0 + i % 10),), 0.2, at)
        rec.flush_due(at)
    return at


def read(store: Store) -> HistoryQueries:
    return store.query(HistoryQueries)


def test_runs_are_written_in_batches_not_one_transaction_each(store: Store) -> None:
    rec, sink = recorder(store)
    started = sink.writes
    run_minutes(rec, T0, 60)
    # One write per flush (every FLUSH_EVERY seconds), never one per run.
    assert sink.writes - started <= 60 * 60 / FLUSH_EVERY / 4 + 1
    assert sink.writes - started < 60


def test_history_survives_a_restart(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state") as first:
        rec, _ = recorder(first)
        end = run_minutes(rec, T0, 120, down=range(30, 40))
        rec.flush(end + 1, everything=True)
    with Store.open(tmp_path / "state") as second:
        rec, _ = recorder(second, now=T0 + 3 * HOUR)
        end = run_minutes(rec, T0 + 3 * HOUR, 60)
        rec.flush(end + 1, everything=True)
        history = read(second)
        assert history.uptime("web", T0, T0 + 4 * HOUR) == pytest.approx(170 / 180)
        assert history.outages("web", T0, T0 + 4 * HOUR) == [
            Outage("web", T0 + 30 * 60, T0 + 39 * 60, T0 + 40 * 60)]
        # The same series kept their ids: no second row for any of them.
        assert sorted(s.metric for s in second.query(load_series)) == \
            ["response_ms", "status"]


def test_a_restart_in_the_middle_of_a_bucket_adds_to_its_row(store: Store) -> None:
    rec, _ = recorder(store)
    rec.record("web", Status.OK, (), 0.1, T0 + 10)
    rec.flush(T0 + 20, everything=True)
    rec, _ = recorder(store, now=T0 + 30)
    rec.record("web", Status.CRITICAL, (), 0.1, T0 + 60)
    rec.flush(T0 + FIVE_MINUTES, everything=False)
    rows = store.query(lambda c: c.execute(
        "SELECT n, mean FROM history_5m JOIN history_series s ON s.id = series "
        "WHERE s.metric = 'status'").fetchall())
    assert [tuple(r) for r in rows] == [(2, 0.5)]


def test_an_outage_the_agent_stopped_in_ends_at_its_last_critical_run(store: Store) -> None:
    rec, _ = recorder(store)
    run_minutes(rec, T0, 10, down=range(5, 10))
    rec.flush(T0 + 10 * 60)  # then kill -9: no clean stop
    recorder(store, now=T0 + HOUR)
    assert read(store).outages("web", T0, T0 + 2 * HOUR) == [
        Outage("web", T0 + 5 * 60, T0 + 9 * 60, T0 + 9 * 60)]


def test_a_crash_loses_only_what_was_not_flushed(store: Store) -> None:
    rec, _ = recorder(store)
    run_minutes(rec, T0, 30)  # flushed every FLUSH_EVERY seconds; no clean stop
    found = store.query(lambda c: c.execute(
        "SELECT count(*) FROM history_raw r JOIN history_series s ON s.id = r.series "
        "WHERE s.metric = 'status'").fetchone()[0])
    assert found >= 29


def test_unknown_runs_are_no_data(store: Store) -> None:
    rec, _ = recorder(store)
    for i, status in enumerate([Status.OK, Status.UNKNOWN, Status.UNKNOWN, Status.CRITICAL]):
        rec.record("web", status, (), 0.1, T0 + i * 60)
    rec.flush(T0 + HOUR, everything=True)
    assert read(store).uptime("web", T0, T0 + HOUR) == 0.5


def _rows(store: Store, table: str) -> int:
    return int(store.query(lambda c: c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]))


def test_old_rows_are_pruned_by_age_a_few_series_at_a_time(store: Store) -> None:
    settings = HistorySettings(raw=3600.0, five_minutes=7200.0, keep=3 * 3600.0)
    rec, _ = recorder(store, settings=settings)
    for c in range(PRUNE_PER_FLUSH + 10):
        rec.record(f"c{c}", Status.OK, (), 0.1, T0)
    rec.flush(T0 + 1, everything=True)
    series = 2 * (PRUNE_PER_FLUSH + 10)  # status and run_ms of each
    assert _rows(store, "history_raw") == series
    rec.flush(T0 + 4 * HOUR)  # everything is old now: the first turn prunes 50 series
    assert _rows(store, "history_raw") == series - PRUNE_PER_FLUSH
    assert _rows(store, "history_1h") == series - PRUNE_PER_FLUSH
    rec.flush(T0 + 4 * HOUR + FLUSH_EVERY)
    rec.flush(T0 + 4 * HOUR + 2 * FLUSH_EVERY)
    assert _rows(store, "history_raw") == _rows(store, "history_5m") == 0
    assert _rows(store, "history_1h") == 0


def test_one_pruning_deletes_a_bounded_number_of_rows(store: Store) -> None:
    rec, _ = recorder(store)
    rec.record("web", Status.OK, (), 0.1, T0)
    rec.flush(T0, everything=True)
    status = rec.series_id("web", "status")
    assert status is not None
    old = [(status, int(T0) - 10 * 86400 + i, 1.0) for i in range(PRUNE_ROWS + 500)]
    store.submit(flush(Flush(raw=old)))
    rec.flush(T0 + 1)
    assert _rows(store, "history_raw") == 2 + 500  # today's two, and what is left
    rec._prune_at = 0  # its turn again
    rec.flush(T0 + 2)
    assert _rows(store, "history_raw") == 2


# -- reading back ------------------------------------------------------------------------


def _conn_with(rows: list[Rollup], raw: list[tuple[float, float]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    from agent.store.schema import migrate

    migrate(conn, ":memory:")
    conn.execute("INSERT INTO history_series VALUES (1, 'web', 'status', '[]')")
    conn.execute("INSERT INTO history_series VALUES (2, 'web', 'response_ms', '[]')")
    flush(Flush(rollups=rows, raw=[(s, int(at), v) for s, at, v in
                                   [(1, at, v) for at, v in raw]])).run(conn)
    return conn


def test_each_stretch_of_time_is_read_from_the_finest_rows_there_are() -> None:
    conn = _conn_with(
        # The day before: hours only (its 5-minute rows pruned); 1 hour down of 24.
        [Rollup(1, HOUR, int(T0 - 86400 + h * HOUR), 60, 0.0 if h == 3 else 1.0,
                0.0 if h == 3 else 1.0, 0.0 if h == 3 else 1.0) for h in range(24)]
        # Today, first hour: 5-minute rows, and its hour row (not read twice).
        + [Rollup(1, FIVE_MINUTES, int(T0 + i * 300), 5, 1.0, 1.0, 1.0) for i in range(12)]
        + [Rollup(1, HOUR, int(T0), 60, 1.0, 1.0, 1.0)],
        # Then raw samples the 5-minute rows do not cover yet: 4 up of 5.
        [(T0 + HOUR + i * 60, 0.0 if i == 2 else 1.0) for i in range(5)])
    history = HistoryQueries(conn)
    assert history.counts("web", T0 - 86400, T0 + 2 * HOUR) == (23 * 60 + 60 + 4,
                                                               24 * 60 + 60 + 5)
    assert history.uptime("web", T0, T0 + 2 * HOUR) == pytest.approx(64 / 65)
    assert history.daily_up("web", 3, T0 + 2 * HOUR, datetime.UTC) == \
        [None, pytest.approx(23 / 24), pytest.approx(64 / 65)]
    assert history.uptime("web", T0 + 3 * HOUR, T0 + 4 * HOUR) is None


def test_days_are_local_calendar_days() -> None:
    conn = _conn_with([Rollup(1, HOUR, int(T0 + h * HOUR), 60, v, v, v)
                       for h, v in ((0, 0.0), (1, 0.0), (5, 1.0))], [])
    tz = datetime.timezone(datetime.timedelta(hours=3))  # 00:00 UTC is 03:00 there
    history = HistoryQueries(conn)
    assert history.daily_up("web", 2, T0 + 6 * HOUR, datetime.UTC) == [None, 1 / 3]
    tz_minus = datetime.timezone(datetime.timedelta(hours=-2))  # 00:00 UTC: 22:00 before
    assert history.daily_up("web", 2, T0 + 6 * HOUR, tz_minus) == [0.0, 1.0]
    assert history.daily_up("web", 1, T0 + 6 * HOUR, tz) == [1 / 3]


def test_response_times_are_averaged_into_equal_buckets() -> None:
    conn = _conn_with([Rollup(2, FIVE_MINUTES, int(T0 + i * 300), 5, 1.0, 9.0, m)
                       for i, m in enumerate((100.0, 200.0, 300.0, 500.0))], [])
    history = HistoryQueries(conn)
    assert history.response_ms("web", T0, T0 + 1200, 2) == [150.0, 400.0]
    assert history.response_ms("web", T0, T0 + 2400, 4) == [150.0, 400.0, None, None]
    # Percentiles are of raw samples only: the means would hide the slow tail.
    assert history.response_percentiles("web", T0, T0 + 1200) == ([None, None], None)


def test_percentiles_are_of_the_raw_samples(store: Store) -> None:
    rec, _ = recorder(store)
    for i in range(100):  # 100 minutes: 1..100 ms
        rec.record("web", Status.OK, (Sample("response_ms", float(i + 1)),), 0.1,
                   T0 + i * 60)
    rec.flush(T0 + 2 * HOUR, everything=True)
    history = read(store)
    assert history.response_percentiles("web", T0, T0 + 2 * HOUR) == ([50.0, 95.0], T0)
    assert history.response_percentiles("web", T0 + HOUR, T0 + 2 * HOUR) == \
        ([80.0, 98.0], T0 + HOUR)


def test_the_minutes_not_rolled_up_yet_are_read_from_the_raw_samples(store: Store) -> None:
    rec, _ = recorder(store)
    for i in range(3):  # the agent runs; its first 5-minute bucket is still open
        rec.record("web", Status.CRITICAL if i == 1 else Status.OK,
                   (Sample("response_ms", 10.0 * (i + 1)),), 0.1, T0 + i * 60)
    rec.flush(T0 + 3 * 60)
    history = read(store)
    assert history.uptime("web", T0, T0 + HOUR) == pytest.approx(2 / 3)
    assert history.response_percentiles("web", T0, T0 + HOUR) == ([20.0, 30.0], T0)
    assert history.response_ms("web", T0, T0 + 180, 3) == [10.0, 20.0, 30.0]


def test_the_hour_the_5_minute_rollups_were_pruned_in_is_read_whole_from_its_hour() -> None:
    conn = _conn_with(
        [Rollup(1, HOUR, int(T0), 60, 0.0, 1.0, 0.5)]  # all of the hour: 30 up of 60
        # Its second half is still in 5-minute rows (the first half pruned).
        + [Rollup(1, FIVE_MINUTES, int(T0 + 1800 + i * 300), 5, 1.0, 1.0, 1.0)
           for i in range(6)]
        + [Rollup(1, FIVE_MINUTES, int(T0 + HOUR + i * 300), 5, 1.0, 1.0, 1.0)
           for i in range(12)], [])
    assert HistoryQueries(conn).counts("web", T0, T0 + 2 * HOUR) == (30 + 60, 60 + 60)


def test_while_the_database_cannot_be_written_samples_are_dropped_not_held(
        store: Store) -> None:
    sink = Sink(store)
    fault: list[str | None] = [None]
    rec = HistoryRecorder(lambda: SETTINGS, sink, (), T0, fault=lambda: fault[0])
    fault[0] = "disk full"
    before = sink.writes
    run_minutes(rec, T0, 30, down=range(10, 20))  # an outage while nothing can be written
    assert sink.writes == before and rec.dropped >= 29
    assert not rec._pending.raw  # nothing piles up in memory
    fault[0] = None
    rec.record("web", Status.OK, (), 0.1, T0 + 31 * 60)
    rec.flush(T0 + 32 * 60, everything=True)
    history = read(store)
    # The outage is kept; the dropped minutes are no data (the 5 minutes still open when
    # the fault ended are kept, with the run after it).
    assert history.outages("web", T0, T0 + HOUR) == [
        Outage("web", T0 + 10 * 60, T0 + 19 * 60, T0 + 20 * 60)]
    assert history.counts("web", T0, T0 + HOUR) == (6.0, 6)


#: A fresh agent's first half hour (T0 + 30m on), 5-minute rows and their hour row: the
#: first 10 minutes down. (span, expected (up, runs))
SPAN_IN_THE_FIRST_HOUR = [
    ("from before the history began", (T0, T0 + 2 * HOUR), (20, 30)),
    ("from inside the hour it began in", (T0 + 600, T0 + 2 * HOUR), (20, 30)),
    ("from inside its first 5 minutes", (T0 + 1900, T0 + 2 * HOUR), (20, 25)),
    ("from a later hour", (T0 + HOUR, T0 + 2 * HOUR), (0, 0)),
]


@pytest.mark.parametrize(("span", "expected"), [c[1:] for c in SPAN_IN_THE_FIRST_HOUR],
                         ids=[c[0] for c in SPAN_IN_THE_FIRST_HOUR])
def test_a_span_starting_in_the_hour_the_history_began_reads_its_5_minute_rows(
        span: tuple[float, float], expected: tuple[float, int]) -> None:
    conn = _conn_with(
        [Rollup(1, HOUR, int(T0), 30, 0.0, 1.0, 2 / 3)]
        + [Rollup(1, FIVE_MINUTES, int(T0 + 1800 + i * 300), 5, v, v, v)
           for i, v in enumerate((0.0, 0.0, 1.0, 1.0, 1.0, 1.0))], [])
    assert HistoryQueries(conn).counts("web", *span) == expected
