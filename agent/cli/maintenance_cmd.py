"""``watchkeeper maintenance [--count N] [--json]``: the config's maintenance windows, each
with its next occurrences and the checks it covers."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from agent.alerting.maintenance import Window
from agent.config.models import Config
from agent.timefmt import utc_minute
from agent.units import format_duration

#: The most occurrences ``--count`` shows per window.
MAX_COUNT = 50


def _count(value: str) -> int:
    """``--count``: a whole number from 1 to ``MAX_COUNT`` (one line when it is not)."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {MAX_COUNT}, "
                                         f"got {value!r}")
    return n


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add ``maintenance`` to the ``watchkeeper`` parser."""
    p = sub.add_parser("maintenance", parents=[common],
                       help="list the maintenance windows and when they next hold",
                       description="List the config's maintenance windows: the one holding "
                                   "now, the next occurrences, and the checks each covers.")
    p.add_argument("--count", type=_count, default=3, metavar="N",
                   help=f"occurrences shown per window (1-{MAX_COUNT}, default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def covered(window: Window, config: Config) -> list[str]:
    """The configured checks a window covers, by name."""
    return sorted(c.name for c in config.checks if window.covers(c.name, c.tags))


def run(args: argparse.Namespace) -> int:
    """``maintenance``: 0 (also when there are none)."""
    from agent.config.full import load

    config = load(args)
    now = time.time()
    windows: list[Window] = list(config.maintenance)
    if args.json:
        print(json.dumps({"windows": [{
            "name": w.name, "reason": w.reason, "checks": covered(w, config),
            "holding_now": w.current(now) is not None,
            "occurrences": [{"start": s, "end": e} for s, e in w.upcoming(now, args.count)],
        } for w in windows]}, indent=2))
        return 0
    if not windows:
        print("no maintenance windows configured")
        return 0
    for w in windows:
        checks = ", ".join(covered(w, config)) or "no check"
        reason = f" ({w.reason})" if w.reason else ""
        print(f"{w.name}{reason}: {format_duration(w.duration)} over {checks}")
        for start, end in w.upcoming(now, args.count):
            state = "  holding now, until" if start <= now < end else "  next"
            print(f"{state} {utc_minute(start)} - {utc_minute(end)}"
                  if start > now else f"{state} {utc_minute(end)}")
    return 0
