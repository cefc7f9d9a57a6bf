"""What a year of history costs on disk: 100 http checks at a 1-minute interval.

    .venv/bin/python tests/benchmarks/history_size.py [--checks 100] [--days 365]
        [--detail-days 9] [--json report.json]

Writes into a real state database (``Store.open``, the agent's schema) in a temporary
directory. Each check reports what the http check reports (``up``, ``response_ms`` with a
decimal, ``status_code``, ``body_bytes``) and its status, so 5 series per check; one
check in twenty has a 10-minute outage a week.

The last ``--detail-days`` (more than the 5-minute rollups are kept) run through the
agent's own ``HistoryRecorder``, sample by sample, flushing every 15 s of simulated time
and pruning as the agent does. The days before them are what is left of them once the
raw samples and the 5-minute rollups are pruned: their 1-hour rollups, written with the
same write the recorder uses, and packed a day to a row past 32 days (``packing.pack``,
as the writer packs them). ``--detail-days`` equal to ``--days`` runs the whole span
sample by sample (slow: about a minute per simulated week). The report gives the file's
size, the rows per table and the free pages pruning left for SQLite to reuse.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.config.models import HistorySettings  # noqa: E402
from agent.history.packing import COMPACT_AFTER, Hour, pack  # noqa: E402
from agent.history.recorder import FLUSH_EVERY, HistoryRecorder  # noqa: E402
from agent.history.rollup import HOUR, Rollup  # noqa: E402
from agent.history.writes import Flush, load_series  # noqa: E402
from agent.history.writes import flush as flush_write  # noqa: E402
from agent.model import Sample, Status  # noqa: E402
from agent.store import Store  # noqa: E402

DAY = 86400
INTERVAL = 60.0
#: Where the simulated year ends (a fixed time, so runs compare).
END = 1_790_000_000.0 // HOUR * HOUR


def run_sample(rng: random.Random, check: int, at: float) -> tuple[Status, list[Sample]]:
    """One http-like run of check number ``check`` at ``at``."""
    down = check % 20 == 0 and (at % (7 * DAY)) < 600
    response = round(rng.lognormvariate(4.6, 0.35), 1)
    samples = [Sample("up", 0.0 if down else 1.0), Sample("response_ms", response),
               Sample("status_code", 503.0 if down else 200.0),
               Sample("body_bytes", 5120.0 + (check % 7))]
    return (Status.CRITICAL if down else Status.OK), samples


def _hours(rng: random.Random, c: int, hour: float) -> list[float]:
    """The rollup (n, low, high, mean) of each of a check's five series in one hour."""
    times = [rng.lognormvariate(4.6, 0.35) for _ in range(60)]
    size = 5120.0 + c % 7
    return [60, 1.0, 1.0, 1.0, 60, 1.0, 1.0, 1.0,
            60, round(min(times), 1), round(max(times), 1), sum(times) / 60,
            60, 200.0, 200.0, 200.0, 60, size, size, size]


def early_hours(store: Store, recorder: HistoryRecorder, rng: random.Random, checks: int,
                *, since: float, until: float, packed_until: float) -> None:
    """The 1-hour rollups of [since, until), as the recorder leaves them once pruned:
    packed a day to a row before ``packed_until``, plain rows after."""
    ids = [[recorder.series_id(f"web{c:03d}", m) or 0 for m in
            ("status", "up", "response_ms", "status_code", "body_bytes")]
           for c in range(checks)]
    day = since // DAY * DAY
    while day < packed_until:
        rows: list[tuple[int, int, bytes]] = []
        for c, series in enumerate(ids):
            hours: list[list[Hour]] = [[] for _ in series]
            for h in range(24):
                at = day + h * HOUR
                if since <= at < packed_until:
                    v = _hours(rng, c, at)
                    for k in range(5):
                        hours[k].append(Hour(int(at), int(v[4 * k]), v[4 * k + 1],
                                             v[4 * k + 2], v[4 * k + 3]))
            rows += [(s, int(day), pack(hs)) for s, hs in zip(series, hours, strict=True) if hs]
        def insert(conn: sqlite3.Connection, rows: list[tuple[int, int, bytes]] = rows
                   ) -> None:
            conn.executemany("INSERT INTO history_1d (series, day, hours) VALUES (?, ?, ?)",
                             rows)

        store.query(insert)
        day += DAY
    hour = packed_until // HOUR * HOUR
    while hour < until:
        out: list[Rollup] = []
        for c, series in enumerate(ids):
            v = _hours(rng, c, hour)
            out += [Rollup(s, HOUR, int(hour), int(v[4 * k]), v[4 * k + 1], v[4 * k + 2],
                           v[4 * k + 3]) for k, s in enumerate(series)]
        store.apply([flush_write(Flush(rollups=out))])
        hour += HOUR


def simulate(state: Path, checks: int, days: float, detail_days: float) -> dict[str, Any]:
    rng = random.Random(12)
    store = Store.open(state)
    store.query(lambda conn: conn.execute("PRAGMA synchronous = OFF"))
    settings = HistorySettings()
    start = END - days * DAY
    detail_from = END - detail_days * DAY
    recorder = HistoryRecorder(lambda: settings, store, store.query(load_series), start)
    # Every series is known before the early hours are written (ids as the agent gives).
    for c in range(checks):
        status, samples = run_sample(rng, c, start)
        recorder.record(f"web{c:03d}", status, samples, 0.1, start)
    recorder.flush(start, everything=True)
    began = time.monotonic()
    early_hours(store, recorder, rng, checks, since=start + HOUR, until=detail_from,
                packed_until=min(detail_from, END - COMPACT_AFTER))
    t = max(detail_from, start + HOUR)
    runs = 0
    while t < END:
        for c in range(checks):
            at = t + c * INTERVAL / checks
            status, samples = run_sample(rng, c, at)
            recorder.record(f"web{c:03d}", status, samples, 0.1, at)
            recorder.flush_due(at)
            runs += 1
        t += INTERVAL
    recorder.flush(END, everything=True)
    spent = time.monotonic() - began

    def facts(conn: Any) -> dict[str, int]:
        out = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
               for t in ("history_series", "history_raw", "history_5m", "history_1h",
                         "history_1d", "history_outages")}
        out["page_size"] = int(conn.execute("PRAGMA page_size").fetchone()[0])
        out["pages"] = int(conn.execute("PRAGMA page_count").fetchone()[0])
        out["free_pages"] = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        return out

    store.checkpoint()
    found = store.query(facts)
    store.close()
    size = (state / "state.db").stat().st_size
    return {"checks": checks, "series": found["history_series"], "days": days,
            "detail_days": detail_days, "runs_simulated": runs, "seconds": round(spent, 1),
            "file_bytes": size, "file_mib": round(size / 2**20, 1),
            "free_mib": round(found["free_pages"] * found["page_size"] / 2**20, 1),
            "rows": {k: v for k, v in found.items() if k.startswith("history")},
            "settings": {"raw": settings.raw, "five_minutes": settings.five_minutes,
                         "keep": settings.keep}, "flush_every": FLUSH_EVERY}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checks", type=int, default=100)
    p.add_argument("--days", type=float, default=365.0)
    p.add_argument("--detail-days", type=float, default=9.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = simulate(Path(tmp) / "state", args.checks, args.days,
                          min(args.detail_days, args.days))
    print(f"{report['checks']} checks ({report['series']} series), {report['days']:g} days "
          f"at a {INTERVAL:g}s interval ({report['detail_days']:g} of them sample by "
          f"sample, {report['runs_simulated']:,} runs, {report['seconds']}s)")
    print(f"state.db: {report['file_mib']} MiB ({report['file_bytes']:,} bytes), of which "
          f"{report['free_mib']} MiB free pages left by pruning")
    for table, rows in report["rows"].items():
        print(f"  {table:<16} {rows:>12,} rows")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
