"""Old hours packed a day to a row: nothing changes in what is read, a few rows move per
turn, and packed days are pruned whole."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from agent.config.models import HistorySettings
from agent.history.packing import COMPACT_AFTER, COMPACT_ROWS, DAY, Hour, merged, pack, unpack
from agent.history.queries import HistoryQueries
from agent.history.recorder import FLUSH_EVERY, HistoryRecorder
from agent.history.rollup import HOUR, Rollup
from agent.history.writes import Flush, flush, load_series
from agent.model import Status
from agent.store import Store

NOW = 1_800_000_000.0 // DAY * DAY + 12 * HOUR


def test_a_packed_day_gives_back_the_same_numbers() -> None:
    day = int(NOW // DAY * DAY)
    hours = [Hour(day + 3 * HOUR, 60, 0.1, 912.25, 1 / 3), Hour(day + 23 * HOUR, 1, 5.0,
                                                                  5.0, 5.0)]
    assert unpack(day, pack(hours)) == hours
    assert len(pack([Hour(day + h * HOUR, 60, 1.0, 1.0, 1.0) for h in range(24)])) < 30


def test_hours_in_both_halves_of_a_day_are_summed() -> None:
    a = [Hour(0, 2, 1.0, 3.0, 2.0), Hour(HOUR, 1, 0.0, 0.0, 0.0)]
    b = [Hour(0, 2, 0.0, 9.0, 4.0)]
    assert merged(a, b) == [Hour(0, 4, 0.0, 9.0, 3.0), Hour(HOUR, 1, 0.0, 0.0, 0.0)]


def _store_with_hours(tmp_path: Path, days: int) -> tuple[Store, HistoryRecorder]:
    store = Store.open(tmp_path / "state")
    settings = HistorySettings()
    rec = HistoryRecorder(lambda: settings, store, store.query(load_series), NOW)
    rec.record("web", Status.OK, (), 0.1, NOW)
    rec.flush(NOW + 1, everything=True)
    series = rec.series_id("web", "status")
    assert series is not None
    start = int(NOW) - days * DAY
    rows = [Rollup(series, HOUR, start + h * HOUR, 60, 0.0, 1.0, (h % 7) / 7)
            for h in range(days * 24)]
    store.submit(flush(Flush(rollups=rows)))
    return store, rec


def _table(store: Store, name: str) -> int:
    return int(store.query(lambda c: c.execute(f"SELECT count(*) FROM {name}").fetchone()[0]))


def test_hours_older_than_a_month_are_packed_and_read_the_same(tmp_path: Path) -> None:
    store, rec = _store_with_hours(tmp_path, 40)
    history = store.query(HistoryQueries)

    def reads() -> object:
        return (history.counts("web", NOW - 41 * DAY, NOW + 1),
                history.uptime("web", NOW - 39.5 * DAY, NOW - 35 * DAY),
                history.daily_up("web", 45, NOW, datetime.UTC),
                history.points("web", "status", NOW - 40 * DAY, NOW))

    before = reads()
    rec.flush(NOW + FLUSH_EVERY)
    # One turn moves at most COMPACT_ROWS hours of a series.
    assert _table(store, "history_1h") == 40 * 24 + 2 - COMPACT_ROWS
    for turn in range(10):
        rec._prune_at = 0
        rec.flush(NOW + (turn + 2) * FLUSH_EVERY)
    packed_hours = (40 * DAY - COMPACT_AFTER) // HOUR + 1  # to the hour 32 days ago
    assert _table(store, "history_1h") == 40 * 24 + 2 - packed_hours
    assert _table(store, "history_1d") in (8, 9)
    assert reads() == before
    store.close()


def test_packed_days_are_pruned_whole_past_keep(tmp_path: Path) -> None:
    store, rec = _store_with_hours(tmp_path, 40)
    for turn in range(10):
        rec._prune_at = 0
        rec.flush(NOW + turn * FLUSH_EVERY)
    days = _table(store, "history_1d")
    later = HistoryRecorder(lambda: HistorySettings(keep=38 * DAY), store,
                            store.query(load_series), NOW)
    later.flush(NOW + HOUR)
    assert _table(store, "history_1d") == days - 2
    history = store.query(HistoryQueries)
    assert history.uptime("web", NOW - 40 * DAY, NOW - 38.5 * DAY) is None
    assert history.uptime("web", NOW - 37 * DAY, NOW - 36 * DAY) == pytest.approx(
        sum((h % 7) / 7 for h in range(72, 96)) / 24)
    store.close()
