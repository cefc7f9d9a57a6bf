"""False alerts a day of the learned thresholds on normal data of many shapes and rates.

    .venv/bin/python tests/benchmarks/quiet_shapes.py [--days 28] [--steps 60,300,3600]
                                                     [--by-age] [--seeds 1]

Each shape is four weeks of a metric with nothing wrong in it (noise, a latency, counts
with a daily cycle, a saw-tooth, a square wave, office hours, a count that rarely moves,
heavy-tailed bursts, a slow random walk), sampled every minute, five minutes and hour,
and replayed through the default adaptive settings. Every alert after the first two days
is a false one: the line says how many a day, and of which kind. The NAB benchmark says
how well anomalies are found; this one says what a quiet metric costs, on shapes that no
labelled data set decides.

``--by-age``: the false alerts a day by how long the metric had been learned when they
came (the first week, the second, weeks 3-4, 5-8, 9-12; as far as ``--days`` reaches),
over ``--seeds`` runs of each shape and step: what a new metric costs against one that
is known.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.thresholds.adaptive import PROBLEM_CODES, AdaptiveState  # noqa: E402
from tests.benchmarks.cli_lists import positive_list  # noqa: E402

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
DAY = 86400
HOUR = 3600.0
Shape = Callable[[float, random.Random], float]


def _day_cycle(t: float) -> float:
    hod = (t % DAY) / HOUR
    return max(0.0, math.sin(math.pi * (hod - 6) / 16)) if 6 <= hod <= 22 else 0.0


def _weekday(t: float) -> bool:
    return (int(t // DAY) + 3) % 7 < 5  # 1970-01-01 was a Thursday


class Walk:
    """A slow random walk (a temperature, a queue): one step per sample."""

    def __init__(self) -> None:
        self.x = 0.0

    def __call__(self, t: float, rng: random.Random) -> float:
        self.x = 0.999 * self.x + rng.gauss(0, 0.3)
        return 20 + self.x


SHAPES: dict[str, Callable[[], Shape]] = {
    "gaussian noise": lambda: lambda t, r: 50 + r.gauss(0, 5),
    "lognormal latency": lambda: lambda t, r: 100 * math.exp(r.gauss(0, 0.4)),
    "counts, daily cycle": lambda: lambda t, r: float(
        sum(r.random() < 0.2 + 0.6 * _day_cycle(t) for _ in range(40))),
    "saw-tooth (disk)": lambda: lambda t, r: 40 + 20 * (t % DAY) / DAY + r.gauss(0, 0.1),
    "square wave": lambda: lambda t, r: 80.0 if 9 <= (t % DAY) / HOUR < 17 else 20.0,
    "office hours": lambda: lambda t, r: (
        (10 + 80 * _day_cycle(t)) if _weekday(t) else 10.0) + r.gauss(0, 2),
    "count rarely moving": lambda: lambda t, r: 12.0 + (r.random() < 0.01) * r.choice([-1, 1]),
    "heavy-tailed bursts": lambda: lambda t, r: 10 + r.paretovariate(1.5),
    "slow random walk": Walk,
}


#: Every alert before this many days is the warm-up's and the first day's, not counted.
SETTLED_DAYS = 2
#: The ages (days since the first sample) that ``--by-age`` tells apart.
AGES = (SETTLED_DAYS, 7, 14, 28, 56, 84)


def alert_days(shape: Shape, days: int, step: int, seed: int = 5) -> list[tuple[float, str]]:
    """The age in days and the kind of each alert that begins after the first two days."""
    rng = random.Random(seed)
    state = AdaptiveState(utc_offset=0.0)
    found: list[tuple[float, str]] = []
    was = False
    for i in range(int(days * DAY / step)):
        t = START + i * step
        code = state.observe(t, shape(t, rng))
        bad = code in PROBLEM_CODES
        if bad and not was and t - START > SETTLED_DAYS * DAY:
            found.append(((t - START) / DAY, code.name))
        was = bad
    return found


def false_alerts(shape: Shape, days: int, step: int, seed: int = 5) -> Counter[str]:
    """The kinds of the alerts that begin after the first two days."""
    return Counter(kind for _, kind in alert_days(shape, days, step, seed))


def by_age(shape: Callable[[], Shape], days: int, steps: list[int], seeds: int) -> str:
    """False alerts a day in each age bucket within ``days``, over every step and seed."""
    spans = [(a, min(b, days)) for a, b in pairwise(AGES) if a < days]
    counts = [0] * len(spans)
    for step in steps:
        for seed in range(seeds):
            for age, _ in alert_days(shape(), days, step, seed):
                for k, (a, b) in enumerate(spans):
                    if a <= age < b:
                        counts[k] += 1
    runs = len(steps) * seeds
    return "  ".join(f"days {a}-{b}: {n / (runs * (b - a)):.3f}"
                     for (a, b), n in zip(spans, counts, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--steps", default="60,300,3600", type=positive_list(int),
                    help="sampling steps in seconds")
    ap.add_argument("--by-age", action="store_true",
                    help="false alerts a day by the age of the metric, all steps together")
    ap.add_argument("--seeds", type=int, default=1, help="runs of each shape (--by-age)")
    args = ap.parse_args(argv)
    steps = args.steps
    if args.days <= SETTLED_DAYS or args.seeds < 1:
        ap.error(f"--days must be over {SETTLED_DAYS} and --seeds positive")
    if args.by_age:
        every = ",".join(str(s) for s in steps)
        print(f"false alerts a day by age, {args.seeds} seed(s) x steps {every}")
        for name, make in SHAPES.items():
            print(f"{name:22s}  {by_age(make, args.days, steps, args.seeds)}")
        return 0
    print(f"{'shape':22s}" + "".join(f"{f'every {s}s':>14s}" for s in steps) + "   kinds")
    for name, make in SHAPES.items():
        cells, kinds = [], Counter[str]()
        for step in steps:
            found = false_alerts(make(), args.days, step)
            kinds += found
            cells.append(f"{sum(found.values()) / (args.days - 2):10.3f}/day")
        print(f"{name:22s}" + "".join(cells) + "   " + ", ".join(f"{k} {n}" for k, n in
                                                             sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
