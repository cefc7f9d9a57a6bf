"""What writing the history costs in CPU: 1,000 http checks at a 1-minute interval.

    .venv/bin/python tests/benchmarks/history_cpu.py [--checks 1000] [--minutes 30]
        [--interval 60] [--json report.json]

Runs the agent's own ``HistoryRecorder`` and ``StoreWriter`` (its thread, a real state
database with the agent's settings: WAL, ``synchronous = FULL``) over ``--minutes`` of
simulated time, as fast as they go, with history on and with it off
(``agent.history.enabled: false``: the same runs, nothing recorded). Each run reports
what the http check reports (``up``, ``response_ms``, ``status_code``, ``body_bytes``)
and its status: 5 series. Each flush waits until the writer applied it, so there is one
transaction per flush as in the agent (the loop never outruns the writer into bigger
batches). CPU is the process's (every thread), and is given per minute of agent time
and as a share of one core.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.config.models import HistorySettings  # noqa: E402
from agent.history.recorder import FLUSH_EVERY, HistoryRecorder  # noqa: E402
from agent.history.writes import load_series  # noqa: E402
from agent.model import Sample, Status  # noqa: E402
from agent.store import Store  # noqa: E402
from agent.store.writer import StoreWriter  # noqa: E402

START = 1_790_000_000.0


def run(state: Path, checks: int, minutes: int, interval: float, enabled: bool
        ) -> dict[str, Any]:
    rng = random.Random(7)
    store = Store.open(state)
    writer = StoreWriter(state, store)
    settings = HistorySettings(enabled=enabled)
    recorder = HistoryRecorder(lambda: settings, writer, store.query(load_series), START)
    names = [f"web{c:04d}" for c in range(checks)]
    runs = int(minutes * 60 / interval)
    flushed = START
    cpu0, wall0 = time.process_time(), time.monotonic()
    for turn in range(runs):
        base = START + turn * interval
        for c, name in enumerate(names):
            at = base + c * interval / checks
            samples = (Sample("up", 1.0), Sample("response_ms", round(rng.uniform(20, 200), 1)),
                       Sample("status_code", 200.0), Sample("body_bytes", 5120.0))
            recorder.record(name, Status.OK, samples, 0.05, at)
            if at - flushed >= FLUSH_EVERY:
                recorder.flush_due(at)
                flushed = at
                writer.flush(30.0)  # one transaction per flush, as in the agent
    recorder.flush(START + runs * interval, everything=True)
    writer.flush(60.0)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    writer.close()
    size = (state / "state.db").stat().st_size
    return {"enabled": enabled, "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 2),
            "runs": runs * checks, "file_bytes": size}


def memory_per_series(checks: int) -> float:
    """Bytes the recorder holds per series once every series has an open bucket (its
    ids, names and two buckets; the samples waiting for a flush not counted)."""
    import tracemalloc

    class Nowhere:
        def submit(self, write: object) -> None:
            pass

    settings = HistorySettings()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    recorder = HistoryRecorder(lambda: settings, Nowhere(), (), START)
    for c in range(checks):
        samples = (Sample("up", 1.0), Sample("response_ms", 20.5),
                   Sample("status_code", 200.0), Sample("body_bytes", 5120.0))
        recorder.record(f"web{c:04d}", Status.OK, samples, 0.05, START + 3000 + c * 0.01)
    recorder.flush(START + 3000 + checks, everything=False)
    for c in range(checks):  # a second bucket: the first one is folded into its hour
        samples = (Sample("up", 1.0), Sample("response_ms", 20.5),
                   Sample("status_code", 200.0), Sample("body_bytes", 5120.0))
        recorder.record(f"web{c:04d}", Status.OK, samples, 0.05, START + 3400 + c * 0.01)
    recorder.flush(START + 3400 + checks, everything=False)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / recorder.series_count


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checks", type=int, default=1000)
    p.add_argument("--minutes", type=int, default=30)
    p.add_argument("--interval", type=float, default=60.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    results = {}
    for enabled in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            results["on" if enabled else "off"] = run(
                Path(tmp) / "state", args.checks, args.minutes, args.interval, enabled)
    agent_seconds = args.minutes * 60.0
    extra = results["on"]["cpu_seconds"] - results["off"]["cpu_seconds"]
    report = {"checks": args.checks, "interval": args.interval, "minutes": args.minutes,
              **results, "history_cpu_seconds": round(extra, 3),
              "cpu_seconds_per_agent_minute": round(extra / args.minutes, 4),
              "percent_of_one_core": round(100 * extra / agent_seconds, 3),
              "microseconds_per_run": round(1e6 * extra / results["on"]["runs"], 1),
              "bytes_per_series": round(memory_per_series(args.checks))}
    print(f"{args.checks} checks every {args.interval:g}s for {args.minutes} minutes of agent "
          f"time ({results['on']['runs']:,} runs, 5 series each)")
    for key in ("off", "on"):
        r = results[key]
        print(f"  history {key:<3}: {r['cpu_seconds']:.2f} s CPU ({r['wall_seconds']:.1f} s "
              f"wall)")
    print(f"history costs {report['cpu_seconds_per_agent_minute']:.3f} s CPU per minute of "
          f"agent time: {report['percent_of_one_core']:.2f} % of one core "
          f"({report['microseconds_per_run']:.0f} us per run)")
    print(f"memory: {report['bytes_per_series']} bytes per series "
          f"({report['bytes_per_series'] * 5 * args.checks / 2**20:.1f} MiB for "
          f"{5 * args.checks:,} series)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
