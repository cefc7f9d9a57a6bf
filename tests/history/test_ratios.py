"""Uptime ratios on /metrics: one family in base units, read from the store at most every
few minutes, never a query per scrape."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from agent.agent_metrics import OutboxCounts, exposition
from agent.config.models import HistorySettings
from agent.errors import StateError
from agent.history.ratios import REFRESH, Ratios, UptimeRatios, read_ratios, store_query
from agent.history.recorder import HistoryRecorder
from agent.history.writes import load_series
from agent.model import Status
from agent.store import DB_NAME, Store
from tests.promtool import lint

T0 = 1_800_000_000.0


def test_uptime_ratios_are_one_family_by_check_and_window() -> None:
    page = exposition([], [], {}, OutboxCounts(0, 0), version="9",
                      uptime={"web": {"24h": 0.5, "30d": 0.99}, "db": {"30d": 1.0}})
    (family,) = [f for f in text_string_to_metric_families(page)
                 if f.name == "watchkeeper_check_uptime_ratio"]
    assert family.type == "gauge"
    assert [(s.labels, s.value) for s in family.samples] == [
        ({"check": "db", "window": "30d"}, 1.0),
        ({"check": "web", "window": "24h"}, 0.5),
        ({"check": "web", "window": "30d"}, 0.99)]
    assert lint(page) == ""


def test_ratios_cover_the_last_day_and_the_last_30_days(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        rec = HistoryRecorder(HistorySettings, store, store.query(load_series), T0)
        # Down all of 10 days ago, up all of today (an hour of runs each).
        for i in range(60):
            rec.record("web", Status.CRITICAL, (), 0.1, T0 - 10 * 86400 + i * 60)
        for i in range(60):
            rec.record("web", Status.OK, (), 0.1, T0 - 3600 + i * 60)
        rec.flush(T0, everything=True)
        found = store_query(tmp_path / DB_NAME)(lambda c: read_ratios(c, T0))
    assert found == {"web": {"24h": 1.0, "30d": 0.5}}


class Counting:
    """A Query that counts how often it reads, and fails when told."""

    def __init__(self) -> None:
        self.reads = 0
        self.fail = False

    def __call__(self, read: Callable[[sqlite3.Connection], Ratios]) -> Ratios:
        self.reads += 1
        if self.fail:
            raise StateError("state database gone")
        return {"web": {"24h": float(self.reads)}}


def test_a_scrape_reads_the_store_at_most_every_refresh_period() -> None:
    query, mono = Counting(), [0.0]
    ratios = UptimeRatios(query, lambda: T0, lambda: mono[0])

    async def scrapes() -> list[object]:
        out: list[object] = []
        for step in (0.0, 10.0, REFRESH - 11.0, 1.0, 5.0):
            mono[0] += step
            out.append(dict(await ratios.current()))
        return out

    assert asyncio.run(scrapes()) == [{"web": {"24h": 1.0}}] * 3 + [{"web": {"24h": 2.0}}] * 2
    assert query.reads == 2


def test_a_store_that_cannot_be_read_keeps_the_last_ratios() -> None:
    query, mono = Counting(), [0.0]
    ratios = UptimeRatios(query, lambda: T0, lambda: mono[0])

    async def scrapes() -> list[object]:
        first = dict(await ratios.current())
        query.fail = True
        mono[0] += REFRESH
        return [first, dict(await ratios.current())]

    assert asyncio.run(scrapes()) == [{"web": {"24h": 1.0}}] * 2
