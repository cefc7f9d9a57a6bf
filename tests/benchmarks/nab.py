"""NAB benchmark of the learned thresholds: replay every labelled series, score the alerts.

    .venv/bin/python tests/benchmarks/nab.py [--steps 5,30,60] [--per-series] [--by-age]
                                             [--sensitivity low|medium|high] [--out DIR]

Every labelled NAB series found is replayed through ``agent.replay`` with the DEFAULT
adaptive settings (one setting for all series; the engine never sees labels or file
names). The rows where a NEW alert fires (FIRING events) are scored with the shared NAB
scorer for the three NAB profiles (standard, reward_low_FP_rate, reward_low_FN_rate), per
category and pooled, with the windows found, the false alerts (alerts outside every
window) and the false alerts per day of data outside the windows (after NAB's probation).

``--steps``: the same at coarser sampling. A series is resampled to an N-minute step: the mean
of each N-minute clock bucket, stamped with the bucket's last row (a series already that
coarse is unchanged). Its alerts are rows of the original series, so they are scored
against the original windows, and the scores are comparable.

The data is found at ``../shared/data/nab`` from the repository root, or wherever the
environment variable ``WATCHKEEPER_NAB_DIR`` points (the folder holding ``labels/`` and
the series folders); the scorer is ``tools/nab_score.py`` two levels above it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.alerting.state import EventKind  # noqa: E402
from agent.replay import ReplaySettings, TimeParser, replay  # noqa: E402
from agent.thresholds.adaptive import AdaptiveSettings, Sensitivity  # noqa: E402
from tests.benchmarks.cli_lists import positive_list  # noqa: E402

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SHORT = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}
#: The categories of real data (false alerts per day are judged on them).
REAL = ("realAWSCloudwatch", "realAdExchange", "realTweets")
#: The best published standard and reward_low_FP scores per category (NAB's results at
#: its published thresholds, re-scored per category: SOURCE.md beside the data), for
#: the comparison column.
PUBLISHED = {
    "realAWSCloudwatch": "HTM 73.4/65.8",
    "realAdExchange": "HTM 76.9/67.7",
    "realTweets": "ARTime 81.8/70.1",
    "artificialWithAnomaly": "ADVec 76.7/57.4",
}


def nab_dir() -> Path:
    """The NAB data folder: $WATCHKEEPER_NAB_DIR or ../shared/data/nab from the repo."""
    env = os.environ.get("WATCHKEEPER_NAB_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "nab"


def scorer_path(data: Path) -> Path:
    return data.parent.parent / "tools" / "nab_score.py"


def load_scorer(data: Path) -> ModuleType:
    """The shared NAB scorer, imported from its file."""
    spec = importlib.util.spec_from_file_location("nab_score", scorer_path(data))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def resample(rows: list[tuple[str, float]],
             step_minutes: int) -> tuple[list[int], list[tuple[str, float]]]:
    """The series as an agent sampling every ``step_minutes`` sees it.

    Each ``step_minutes`` clock bucket becomes one sample: the mean of its rows (a rate or
    a utilisation over the step, as CloudWatch or a counter gives it), stamped with the
    bucket's last row (when it is known). Returns those rows' indexes and the samples.
    """
    parse = TimeParser()
    step = step_minutes * 60
    kept: list[int] = []
    out: list[tuple[str, float]] = []
    bucket, total, count = None, 0.0, 0
    for i, (text, value) in enumerate(rows):
        b = int(parse(text) // step)
        if b != bucket and count:
            out.append((rows[kept[-1]][0], total / count))
            total, count = 0.0, 0
        if b != bucket:
            kept.append(i)
            bucket = b
        else:
            kept[-1] = i
        total += value
        count += 1
    if count:
        out.append((rows[kept[-1]][0], total / count))
    return kept, out


def alerts_of(rows: list[tuple[str, float]], settings: ReplaySettings,
              metric: str = "value") -> list[int]:
    """Row indexes (0-based, of ``rows``) where a new alert fires."""
    return [e.row - 1 for e in replay(rows, settings, metric) if e.event is EventKind.FIRING]


@dataclass
class Tally:
    """Scores of a set of series under one profile, summed."""

    raw: float = 0.0
    null: float = 0.0
    perfect: float = 0.0
    windows: int = 0
    found: int = 0
    false_alerts: int = 0
    quiet_days: float = 0.0

    def add(self, other: Tally) -> None:
        self.raw += other.raw
        self.null += other.null
        self.perfect += other.perfect
        self.windows += other.windows
        self.found += other.found
        self.false_alerts += other.false_alerts
        self.quiet_days += other.quiet_days

    @property
    def score(self) -> float:
        denom = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / denom if denom else float("nan")

    @property
    def per_day(self) -> float:
        return self.false_alerts / self.quiet_days if self.quiet_days else 0.0


def quiet_rows(series: Any) -> Iterable[tuple[int, float]]:
    """The rows after probation and outside every window, each with the days since the
    row before (time, not rows; a gap counts at most a day)."""
    ts = series.timestamps
    for i in range(max(series.probation, 1), series.n):
        if series.window_of[i] < 0:
            yield i, max(0.0, min((ts[i] - ts[i - 1]).total_seconds(), 86400.0)) / 86400.0


def quiet_days(series: Any) -> float:
    """Days of data after probation and outside every window."""
    return sum(days for _, days in quiet_rows(series))


#: Ages of a series (days since its first row) that ``--by-age`` tells apart.
AGES = (0, 7, 28)


def by_age(corpus: dict[str, Any], alerts: dict[str, list[int]],
           names: list[str]) -> str:
    """False alerts a day outside the windows (after probation) by the age of the series
    when they came: the first week, weeks 2 to 4, after that."""
    fps = [0] * len(AGES)
    days = [0.0] * len(AGES)

    def bucket(series: Any, i: int) -> int:
        age = (series.timestamps[i] - series.timestamps[0]).total_seconds() / 86400.0
        return max(k for k, start in enumerate(AGES) if age >= start)

    for name in names:
        s = corpus[name]
        for i, quiet in quiet_rows(s):
            days[bucket(s, i)] += quiet
        for i in set(alerts[name]):
            if i >= s.probation and s.window_of[i] < 0:
                fps[bucket(s, i)] += 1
    ends = [*(f"{a}" for a in AGES[1:]), ""]
    return "  ".join(f"days {a}-{e}: {f} in {d:.0f} days = {f / d if d else 0:.3f}/day"
                     for a, e, f, d in zip(AGES, ends, fps, days, strict=True))


def evaluate(nab: ModuleType, corpus: dict[str, Any], settings: ReplaySettings,
             step: int) -> tuple[dict[str, dict[str, Tally]], dict[str, list[int]], float, int]:
    """Replay every series at ``step`` minutes and score it: per series, per profile."""
    profiles = nab.load_profiles(str(nab_dir()), PROFILES)
    per: dict[str, dict[str, Tally]] = {}
    alerts: dict[str, list[int]] = {}
    samples = 0
    took = 0.0
    for name, s in corpus.items():
        rows = [(t.strftime("%Y-%m-%d %H:%M:%S"), v) for t, v in zip(s.timestamps, s.values,
                                                                     strict=True)]
        kept, sub = resample(rows, step)
        started = time.perf_counter()
        found = [kept[i] for i in alerts_of(sub, settings)]
        took += time.perf_counter() - started
        samples += len(sub)
        alerts[name] = found
        days = quiet_days(s)
        per[name] = {}
        for p in profiles:
            r = nab.score_series(s, found, p)
            per[name][p.name] = Tally(r["raw"], r["null_raw"], r["perfect_raw"],
                                      r["windows_scored"], r["detected"], r["fp_alerts"], days)
    return per, alerts, took, samples


def category(name: str) -> str:
    return name.split("/", 1)[0]


def table(per: dict[str, dict[str, Tally]], groups: Iterable[tuple[str, list[str]]]) -> str:
    """One line per group: the three scores, windows found, false alerts, per day."""
    head = (f"{'':24s} {'std':>7s} {'lowFP':>7s} {'lowFN':>7s} {'windows':>9s} "
            f"{'false':>6s} {'/day':>6s}  best published")
    lines = [head]
    for label, names in groups:
        tallies = {p: Tally() for p in PROFILES}
        for n in names:
            for p in PROFILES:
                tallies[p].add(per[n][p])
        t = tallies["standard"]
        scores = " ".join(f"{tallies[p].score:7.1f}" if t.windows else f"{'-':>7s}"
                          for p in PROFILES)
        lines.append(f"{label:24s} {scores} {t.found:4d}/{t.windows:<4d} "
                     f"{t.false_alerts:6d} {t.per_day:6.3f}  {PUBLISHED.get(label, '')}")
    return "\n".join(lines)


def groups_of(names: list[str]) -> list[tuple[str, list[str]]]:
    cats = sorted({category(n) for n in names})
    out = [(c, [n for n in names if category(n) == c]) for c in cats]
    out.append(("pooled (all)", names))
    out.append(("real series", [n for n in names if category(n) in REAL]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="5,30,60", type=positive_list(int),
                    help="sampling steps in minutes, comma-separated (5 is the data's own)")
    ap.add_argument("--per-series", action="store_true", help="also a line per series")
    ap.add_argument("--sensitivity", choices=[s.value for s in Sensitivity],
                    help="replay with this sensitivity instead of the default (medium)")
    ap.add_argument("--include", action="append", help="only series under this category")
    ap.add_argument("--by-age", action="store_true",
                    help="also the false alerts a day on the real series by the series' age")
    ap.add_argument("--out", type=Path, help="write each step's alerts JSON in this folder")
    args = ap.parse_args(argv)
    data = nab_dir()
    if not (data / "labels" / "combined_windows.json").is_file():
        print(f"NAB data not found at {data} (set WATCHKEEPER_NAB_DIR)", file=sys.stderr)
        return 2
    if not scorer_path(data).is_file():
        print(f"NAB scorer not found at {scorer_path(data)}", file=sys.stderr)
        return 2
    nab = load_scorer(data)
    corpus = nab.load_corpus(str(data), include=args.include)
    adaptive = AdaptiveSettings.model_validate(
        {"sensitivity": args.sensitivity} if args.sensitivity else {})
    settings = ReplaySettings(adaptive=adaptive)
    names = sorted(corpus)
    for step in args.steps:
        per, alerts, took, samples = evaluate(nab, corpus, settings, step)
        print(f"\n== {step}-minute steps: {len(names)} series, {samples} samples replayed "
              f"in {took:.2f}s ({samples / took:,.0f}/s)")
        print(table(per, groups_of(names)))
        if args.per_series:
            print(table(per, [(Path(n).stem[:24], [n]) for n in names]))
        if args.by_age:
            print("false alerts by age, real series: "
                  + by_age(corpus, alerts, [n for n in names if category(n) in REAL]))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            stamp = {n: [corpus[n].timestamps[i].strftime("%Y-%m-%d %H:%M:%S") for i in a]
                     for n, a in alerts.items()}
            (args.out / f"alerts_{step}min.json").write_text(json.dumps(stamp, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
