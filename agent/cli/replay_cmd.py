"""``watchkeeper replay``: a recorded trace through the real thresholds and alert machine."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from typing import Any

from agent.alerting.policy import Policy
from agent.cli.progress import Progress
from agent.errors import WatchkeeperError
from agent.model import Status
from agent.replay import CsvRows, ReplaySettings, replay
from agent.thresholds.adaptive import AdaptiveSettings
from agent.units import format_value


def add_parser(sub: Any) -> None:
    """Register the ``replay`` subcommand."""
    p = sub.add_parser(
        "replay", help="replay a timestamp,value CSV through the thresholds; print events",
        description="Replay a CSV trace (timestamp,value) through the same thresholds and "
                    "alert code the agent runs, on the trace's own clock. Events go to "
                    "standard output as JSON lines, the summary to standard error. Without "
                    "--config the default learned (adaptive) thresholds are used.")
    p.add_argument("csv", metavar="FILE.csv", help="the trace: header timestamp,value")
    p.add_argument("--metric", help="metric name (default: value, or the check's only "
                                    "thresholded metric)")
    p.add_argument("-c", "--config", help="take the thresholds from this config file ...")
    p.add_argument("--check", help="... from this check's thresholds for --metric")
    p.add_argument("--sensitivity", choices=["low", "medium", "high"],
                   help="without --config: the adaptive sensitivity (default medium)")
    p.add_argument("--direction", choices=["above", "below", "both"],
                   help="without --config: which deviations alert (default both)")
    p.add_argument("--every-sample", action="store_true",
                   help="also print each row's judged status (JSON lines with \"status\")")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> int:
    """Replay and print; 0 on success, 2 on bad input."""
    with Progress("rows") as progress:  # on a terminal's stderr only
        return _replay(args, progress)


def _replay(args: argparse.Namespace, progress: Progress) -> int:
    metric, settings = _settings(args)
    out = progress.above(sys.stdout)

    def sample(row: int, at: str, value: float, status: Status) -> None:
        out.write(json.dumps({"at": at, "row": row, "value": _json_number(value),
                              "shown": format_value(metric, value),
                              "status": status.value}, allow_nan=False) + "\n")

    rep = replay(_CountedRows(args.csv, progress), settings, metric,
                 sample if args.every_sample else None)
    for ev in rep:
        out.write(json.dumps({"at": ev.at, "event": ev.event.value,
                              "severity": ev.severity.value, "why": ev.why,
                              "value": _json_number(ev.value), "shown": ev.shown},
                             allow_nan=False) + "\n")
    out.flush()
    print(rep.summary.as_text(), file=sys.stderr)
    return 0


def _json_number(value: float) -> float | None:
    """``value`` for a JSON line: JSON has no NaN or infinity, so those are null (the
    ``shown`` text beside it says which it was)."""
    return value if math.isfinite(value) else None


def _settings(args: argparse.Namespace) -> tuple[str, ReplaySettings]:
    if args.config is None:
        if args.check:
            raise WatchkeeperError("--check needs --config")
        overrides = {k: v for k, v in (("sensitivity", args.sensitivity),
                                       ("direction", args.direction)) if v}
        return args.metric or "value", ReplaySettings(adaptive=AdaptiveSettings(**overrides))
    if args.sensitivity or args.direction:
        raise WatchkeeperError("--sensitivity and --direction apply only without --config "
                               "(the config's adaptive settings are used)")
    from pathlib import Path

    from agent.config import load_config

    config = load_config(Path(args.config))
    if not args.check:
        raise WatchkeeperError("--config needs --check NAME (the check whose thresholds apply)")
    check = config.check(args.check)
    if check is None:
        names = ", ".join(c.name for c in config.checks) or "none"
        raise WatchkeeperError(f"no check named {args.check!r} in {args.config} "
                               f"(checks: {names})")
    rules = {m: r for m, r in check.thresholds.items() if m != "status"}
    metric = args.metric
    if metric is None:
        if len(rules) != 1:
            raise WatchkeeperError(f"check {check.name} has thresholds for "
                                   f"{', '.join(rules) or 'no metric'}; choose one with --metric")
        metric = next(iter(rules))
    rule = rules.get(metric)
    if rule is None:
        raise WatchkeeperError(f"check {check.name} has no thresholds for {metric!r} "
                               f"(it has: {', '.join(rules) or 'none'})")
    return metric, ReplaySettings(adaptive=rule.adaptive, rule=rule, forecast=rule.forecast,
                                  policy=Policy.build(rule, check.policy))


class _CountedRows(CsvRows):
    """The trace's rows, counted on the progress line as they are read."""

    def __init__(self, path: str, progress: Progress) -> None:
        super().__init__(path)
        self.progress = progress

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return self.progress.track(super().__iter__())
