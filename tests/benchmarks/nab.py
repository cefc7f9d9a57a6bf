"""NAB benchmark of the learned thresholds: replay every labelled series, score the alerts.

    .venv/bin/python tests/benchmarks/nab.py [--out alerts.json] [--per-series] [--baseline]
                                             [--sensitivity low|medium|high]

Every series of the NAB AWS CloudWatch subset is replayed through ``agent.replay`` with
the DEFAULT adaptive settings (one setting for all series; the engine never sees the
labels). The rows where a NEW alert fires (FIRING events) are written as the alerts JSON
and scored with the shared NAB scorer for the ``standard`` and ``reward_low_FP_rate``
profiles. ESCALATED events are not counted: they belong to an alert that already fired,
and NAB rewards one alert at the onset of an anomaly (with default settings there are
none anyway, since learned thresholds alert at one severity).

The data is found at ``../shared/data/nab`` from the repository root, or wherever the
environment variable ``WATCHKEEPER_NAB_DIR`` points (the folder holding ``labels/`` and
the series folders); the scorer is ``tools/nab_score.py`` two levels above it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from agent.alerting.state import EventKind  # noqa: E402
from agent.replay import ReplayError, ReplaySettings, replay_csv  # noqa: E402
from agent.thresholds.adaptive import AdaptiveSettings, Sensitivity  # noqa: E402

PROFILES = "standard,reward_low_FP_rate"


def nab_dir() -> Path:
    """The NAB data folder: $WATCHKEEPER_NAB_DIR or ../shared/data/nab from the repo."""
    env = os.environ.get("WATCHKEEPER_NAB_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "nab"


def scorer(data: Path) -> Path:
    return data.parent.parent / "tools" / "nab_score.py"


def run(data: Path, out: Path, settings: ReplaySettings) -> dict[str, list[str]]:
    """Replay every labelled series with ``settings``; write and return the alerts."""
    labels = json.loads((data / "labels" / "combined_windows.json").read_text())
    alerts: dict[str, list[str]] = {}
    rows = 0
    started = time.perf_counter()
    for name in sorted(labels):
        path = data / name
        if not path.is_file():
            continue
        run_ = replay_csv(path, settings, metric=Path(name).stem)
        alerts[name] = [e.at for e in run_ if e.event is EventKind.FIRING]
        rows += run_.summary.samples
        print(f"  {name:60s} {run_.summary.samples:6d} rows {len(alerts[name]):3d} alerts "
              f"({run_.summary.alerts_per_day:.2f}/day)")
    took = time.perf_counter() - started
    out.write_text(json.dumps(alerts, indent=1) + "\n")
    print(f"{len(alerts)} series, {rows} rows, {sum(map(len, alerts.values()))} alerts, "
          f"replayed in {took:.2f}s; alerts written to {out}")
    return alerts


def score(data: Path, alerts_file: Path, *extra: str) -> int:
    cmd = [sys.executable, str(scorer(data)), "--data-dir", str(data), "--profiles", PROFILES,
           *extra]
    if alerts_file.name:
        cmd.insert(2, str(alerts_file))
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="where to write the alerts JSON "
                    "(default: a temporary file)")
    ap.add_argument("--per-series", action="store_true", help="per-series score table")
    ap.add_argument("--sensitivity", choices=[s.value for s in Sensitivity],
                    help="replay with this sensitivity instead of the default (medium)")
    ap.add_argument("--baseline", action="store_true",
                    help="also score the scorer's static/rolling reference detectors")
    args = ap.parse_args(argv)
    data = nab_dir()
    if not (data / "labels" / "combined_windows.json").is_file():
        print(f"NAB data not found at {data} (set WATCHKEEPER_NAB_DIR)", file=sys.stderr)
        return 2
    if not scorer(data).is_file():
        print(f"NAB scorer not found at {scorer(data)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "alerts.json"
        try:
            adaptive = AdaptiveSettings.model_validate(
                {"sensitivity": args.sensitivity} if args.sensitivity else {})
            run(data, out, ReplaySettings(adaptive=adaptive))
        except ReplayError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        code = score(data, out, *(["--per-series"] if args.per_series else []))
    if args.baseline:
        code = code or subprocess.call([sys.executable, str(scorer(data)), "--data-dir",
                                        str(data), "--profiles", PROFILES, "--baseline"])
        code = code or subprocess.call([sys.executable, str(scorer(data)), "--data-dir",
                                        str(data), "--profiles", PROFILES, "--baseline",
                                        "--cooldown", "288"])
    return code


if __name__ == "__main__":
    sys.exit(main())
