"""Quiet days found by the learned thresholds: a site's traffic with four weekdays at a
share of their level, over 200 days, at several sampling steps.

    .venv/bin/python tests/benchmarks/quiet_days.py [--steps 60,300,1800,3600]
                                                    [--shares 0.5,0.6,0.7]

The metric has a daily cycle (15 at night, 100 in the afternoon), a fifth less at
weekends, and noise of a few percent; days 60, 95, 130 and 170 (weekdays) are at the
given share of it all day (a holiday, traffic lost to a broken upstream). Each run is
replayed through the default adaptive settings and prints how many of the four days
alerted (an alert that begins on the day, or in the first hours after it), how many
alerts there were in all, and how many of them were elsewhere (false). NAB holds no
data of this shape; this says what the quiet-stretch check finds, at what share.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.thresholds.adaptive import PROBLEM_CODES, AdaptiveState  # noqa: E402
from tests.benchmarks.cli_lists import positive_list  # noqa: E402

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
DAY = 86400
DAYS = 200
QUIET = (60, 95, 130, 170)
#: An alert this long after a quiet day began is still about it (it ran to midnight).
AFTER = 1.3


def traffic(t: float, rng: random.Random, share: float) -> float:
    day = int((t - START) // DAY)
    hod = (t % DAY) / 3600
    level = 15 + 85 * max(0.0, math.sin(math.pi * (hod - 5) / 19)) if hod >= 5 else 15.0
    if day % 7 >= 5:  # START is a Monday
        level *= 0.8
    if day in QUIET:
        level *= share
    return level * (1 + rng.gauss(0, 0.03))


def run(step: int, share: float, seed: int = 1) -> tuple[int, int, int]:
    """(quiet days found, alerts, false alerts)."""
    rng = random.Random(seed)
    state = AdaptiveState(utc_offset=0.0)
    starts: list[float] = []
    was = False
    for i in range(int(DAYS * DAY / step)):
        t = START + i * step
        bad = state.observe(t, traffic(t, rng, share)) in PROBLEM_CODES
        if bad and not was:
            starts.append((t - START) / DAY)
        was = bad
    about = [any(q <= s < q + AFTER for q in QUIET) for s in starts]
    found = sum(any(q <= s < q + AFTER for s in starts) for q in QUIET)
    return found, len(starts), about.count(False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="60,300,1800,3600", type=positive_list(int),
                    help="sampling steps in seconds")
    ap.add_argument("--shares", default="0.5,0.6,0.7", type=positive_list(float),
                    help="the quiet days' share of normal")
    args = ap.parse_args(argv)
    print(f"{'share of normal':18s}" + "".join(f"{f'every {s}s':>22s}" for s in args.steps))
    for share in args.shares:
        cells = []
        for step in args.steps:
            found, _, false = run(step, share)
            cells.append(f"{found}/{len(QUIET)} found, {false} false")
        print(f"{share:<18.0%}" + "".join(f"{c:>22s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
