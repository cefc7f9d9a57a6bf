"""``watchkeeper uptime``: each check's uptime, outages, response times and error budget.

Read from the history in the state database, opened read-only (as the agent last
flushed it: up to a quarter of a minute behind a running agent). The definitions are in
``agent.history.report``; ``--json`` prints::

    {"since": 1764547200.0, "until": 1767139200.0,
     "checks": [{"check": "web", "uptime_percent": 99.95, "runs": 43200,
                 "outages": 2, "incidents": 1, "downtime_seconds": 1260.0,
                 "longest_outage_seconds": 900.0, "response_metric": "response_ms",
                 "response_p50_ms": 120.5, "response_p95_ms": 340.0,
                 "response_from": 1766966400.0,
                 "budget": {"target_percent": 99.9, "month": "2026-12",
                            "allowed_seconds": 2678.4, "used_seconds": 1260.0,
                            "left_seconds": 1418.4, "left_percent": 52.96}}]}

``uptime_percent``, the response times and ``budget`` are null when there is no data (or
no ``slo``); ``response_from`` is the first raw sample the percentiles take (raw samples
are kept ``agent.history.raw``, 48 h by default).
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from agent.cli.incidents_cmd import _since
from agent.cli.usage import UsageError
from agent.config.models import Config
from agent.history.report import Span, UptimeFigures, figures, no_data
from agent.state_lock import holder_pid
from agent.units import format_duration


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add ``uptime`` to the ``watchkeeper`` parser."""
    p = sub.add_parser(
        "uptime", parents=[common], help="uptime, outages, response times and error budgets",
        description="Per check over a span: uptime (runs OK or WARNING among those OK, "
                    "WARNING or CRITICAL; UNKNOWN is no data), outages, downtime, the "
                    "longest outage, response time p50/p95 and, for a check with an "
                    "slo, the error budget left this month. Read from the history.")
    p.add_argument("--since", type=_since, default=30 * 86400.0, metavar="SPAN",
                   help="how far back (default 30d)")
    p.add_argument("--check", metavar="NAME", help="only this check")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """``uptime``: 0 when shown (also without history); 2 for a check not configured."""
    from agent.config.full import load

    config = load(args)
    names = [c.name for c in config.checks]
    if args.check is not None:
        if args.check not in names:
            raise UsageError(f"no check is named {args.check!r} in {config.source}")
        names = [args.check]
    span = span_of(args.since, time.time(), config.agent.state_dir)
    found = read(config, names, span)
    if args.json:
        print(json.dumps({"since": span.since, "until": span.until,
                          "checks": [f.model_dump() for f in found]}, indent=2))
    else:
        print(f"uptime over the last {format_duration(args.since)}:")
        print("\n".join(table(found)))
        raw = config.agent.history.raw
        if args.since > raw:
            print(f"(P50 and P95 are of the last {format_duration(raw)}: the raw samples "
                  "kept; rollups' means would hide the slow tail)")
    return 0


def span_of(seconds: float, now: float, state_dir: Path) -> Span:
    """The last ``seconds`` up to ``now``, its budget of the local month, live while an
    agent holds ``state_dir``."""
    # The local zone itself (None), not the offset it has now: a month that starts in
    # summer time and ends in winter time is an hour longer.
    return Span(now - seconds, now, None, live=holder_pid(state_dir) is not None)


def read(config: Config, names: list[str], span: Span) -> list[UptimeFigures]:
    """The figures of the checks ``names`` from the store (no data without one)."""
    from agent.history.queries import HistoryQueries
    from agent.store import Store

    slo = {c.name: c.slo for c in config.checks}
    store = Store.open_readonly(config.agent.state_dir)
    if store is None:
        return [no_data(name, span, slo.get(name)) for name in names]
    with store:
        out = []
        for name in names:
            incidents = len(store.incidents(since=span.since, check=name))

            def one(conn: sqlite3.Connection, name: str = name, incidents: int = incidents
                    ) -> UptimeFigures:
                return figures(HistoryQueries(conn), name, span, incidents=incidents,
                               slo=slo.get(name))

            out.append(store.query(one))
        return out


def percent(value: float | None) -> str:
    """``99.952%``: cut (never rounded up) at three decimals, so a single outage never
    reads 100%."""
    if value is None:
        return "no data"
    return f"{math.floor(value * 1000) / 1000:.3f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else format_duration(value / 1000)


def table(rows: list[UptimeFigures]) -> list[str]:
    """One line per check."""
    head = ("CHECK", "UPTIME", "OUTAGES", "DOWNTIME", "LONGEST", "INCIDENTS", "P50", "P95",
            "SLO", "BUDGET LEFT")
    lines = []
    for f in rows:
        budget = f.budget
        lines.append((
            f.check, percent(f.uptime_percent), str(f.outages),
            format_duration(f.downtime_seconds) if f.outages else "-",
            format_duration(f.longest_outage_seconds) if f.outages else "-",
            str(f.incidents), _ms(f.response_p50_ms), _ms(f.response_p95_ms),
            f"{budget.target_percent:g}%" if budget else "-",
            (f"{format_duration(budget.left_seconds)} ({budget.left_percent:.0f}%) of "
             f"{format_duration(budget.allowed_seconds)} in {budget.month}")
            if budget else "-"))
    widths = [max(len(r[n]) for r in (head, *lines)) for n in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (head, *lines)]
