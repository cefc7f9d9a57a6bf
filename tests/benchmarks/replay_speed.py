"""Replay speed: samples per second of one metric through thresholds and the alert machine.

    .venv/bin/python tests/benchmarks/replay_speed.py [--samples 1000000]

A synthetic minute-by-minute series (a daily cycle, noise, a nightly backup spike and a
few real anomalies, so the alert machine does work too) is replayed with the default
adaptive settings plus a static rule, three ways: from rows in memory (the engine alone),
from a CSV file (with parsing), and with the alert machine stepped on every sample
(``ReplaySettings.exact``). The target is 200,000 samples per second; the last way is
for reference only: stepping the machine costs about 15 us a sample, so the replay skips
the samples where everything is quiet and stays so (tests prove the events identical).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.replay import ReplaySettings, replay, replay_csv  # noqa: E402
from agent.thresholds.rules import Op, parse_comparison  # noqa: E402
from agent.thresholds.rules import ThresholdRule as Rule  # noqa: E402

TARGET = 200_000


def series(n: int, seed: int = 7) -> list[tuple[str, float]]:
    """``n`` minutes from 2024-01-01: cycle, noise, 02:00 backup, about one spike a week."""
    rng = random.Random(seed)
    start = 1_704_067_200  # 2024-01-01 00:00:00 UTC
    spikes = {rng.randrange(n) for _ in range(max(1, n // 10_080))}
    rows = []
    for i in range(n):
        t = start + 60 * i
        minute = i % 1440
        v = 40 + 15 * math.sin(2 * math.pi * minute / 1440) + rng.gauss(0, 2)
        if 120 <= minute < 135:
            v += 40  # the nightly backup
        if i in spikes:
            v += 80  # an unusual spike, about once a week at any time
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
        rows.append((stamp, v))
    return rows


def measure(label: str, count: int, run: object, judged: bool = True) -> float:
    started = time.perf_counter()
    events = list(run)  # type: ignore[call-overload]
    took = time.perf_counter() - started
    rate = count / took
    print(f"{label:44s} {count:9d} samples in {took:6.2f}s = {rate:10,.0f}/s "
          f"({len(events)} events) "
          f"{'(reference)' if not judged else 'ok' if rate >= TARGET else 'BELOW TARGET'}")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    rows = series(args.samples)
    rule = Rule("value", crit=parse_comparison("> 500", "value", Op.GT))
    plain = ReplaySettings()
    both = ReplaySettings(rule=rule)
    measure("adaptive, rows in memory", len(rows), replay(rows, plain))
    rate = measure("adaptive + static rule, rows in memory", len(rows), replay(rows, both))
    measure("adaptive + static, machine on every sample", len(rows),
            replay(rows, ReplaySettings(rule=rule, exact=True)), judged=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        with path.open("w") as fh:
            fh.write("timestamp,value\n")
            fh.writelines(f"{ts},{v:.3f}\n" for ts, v in rows)
        csv_rate = measure("adaptive + static rule, from CSV", len(rows),
                           replay_csv(path, both))
    return 0 if min(rate, csv_rate) >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
