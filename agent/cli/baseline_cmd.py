"""``watchkeeper baseline [CHECK [METRIC]]``: what the learned thresholds have learned.

Per series: the warm-up, the normal range now and by hour of the week, and the trend with
the time until the forecast limit. Asked of the running agent (what it knows now, through
its control socket), else read from the state database as last saved (the output says
so); judged with the config's current rules (state that no longer fits them is shown as
such).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.cli.status_cmd import age
from agent.cli.usage import UsageError
from agent.config.models import Config
from agent.model import AlertKey
from agent.reports import BaselineReport, SeriesState
from agent.thresholds.baseline import MIN_SLOTS, SLOT_SECONDS
from agent.thresholds.describe import DAY_NAMES, Learning, SeriesDescription, Trend, describe
from agent.thresholds.forecast import Heading
from agent.thresholds.rules import ThresholdRule
from agent.thresholds.series import SeriesJudge
from agent.units import format_duration, format_range, format_value

if TYPE_CHECKING:
    from agent.store import Store

#: Hours of the day shown per weekday in the compact table.
COMPACT_HOURS = (0, 4, 8, 12, 16, 20)


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add the ``baseline`` subcommand to the ``watchkeeper`` parser."""
    p = sub.add_parser(
        "baseline", parents=[common], help="show what learned thresholds have learned",
        description="Show what the agent has learned for metrics with adaptive: or "
                    "forecast: thresholds: the normal range now and by hour of the week, "
                    "the trend and the time until the forecast limit.")
    p.add_argument("check", nargs="?", metavar="CHECK", help="only this check's series")
    p.add_argument("metric", nargs="?", metavar="METRIC", help="only this metric's series")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--hours", action="store_true",
                   help="show every hour of the week (default: every fourth hour)")


@dataclass(frozen=True, slots=True)
class Shown:
    """One stored series as shown: its description, or why there is none."""

    key: AlertKey
    configured: bool
    restored: bool = False
    description: SeriesDescription | None = None
    #: When the series last got a sample, as the answerer knows it (the agent's latest
    #: run); None: as far as the learned state tells.
    last_sample_at: float | None = None
    #: When the state shown was saved to the store; None: the agent's live state.
    saved_at: float | None = None

    @property
    def last_sample(self) -> float | None:
        """The latest sample time known of this series."""
        learned = self.description.last_sample_at if self.description else None
        return max((t for t in (self.last_sample_at, learned) if t is not None), default=None)


def learned_rules(config: Config) -> dict[str, dict[str, ThresholdRule]]:
    """The rules that learn, by check and metric (checks without any left out)."""
    out: dict[str, dict[str, ThresholdRule]] = {}
    for check in config.checks:
        rules = {m: r for m, r in check.thresholds.items() if r.learns}
        if rules:
            out[check.name] = rules
    return out


def run(args: argparse.Namespace) -> int:
    """The ``baseline`` subcommand: 0 when shown, a usage error for an unknown check or
    metric."""
    from agent.cli.status_cmd import agent_line, ask_or_read
    from agent.config.full import load
    from agent.control import BaselineRequest
    from agent.reports import stored_series

    config = load(args)
    state_dir = config.agent.state_dir

    def read(store: Store) -> BaselineReport:
        return BaselineReport(agent=None, as_of=store.written_at(),
                              series=stored_series(store))

    found = ask_or_read(config, BaselineRequest(), BaselineReport, read)
    if found is None:
        print(f"no state yet in {state_dir} (has the agent run?)")
        return 0
    report, absent = found
    rules = learned_rules(config)
    problem = _unknown(args.check, args.metric, rules, [s.key.key for s in report.series])
    if problem:
        raise UsageError(problem)
    series = [s for s in report.series if (args.check is None or s.key.check == args.check)
              and (args.metric is None or s.key.metric == args.metric)]
    shown = [_restore(s, rules, config.agent.host) for s in series]
    now = time.time()
    if args.json:
        agent = report.agent.model_dump(mode="json") if report.agent is not None else None
        print(json.dumps({"state_dir": str(state_dir), "agent": agent,
                          "source": "store" if report.agent is None else "agent",
                          "as_of": report.as_of, "series": [_json(s) for s in shown]},
                         indent=2))
    else:
        print(agent_line(report.agent, report.as_of, now, absent))
        print(render(shown, now, hours=args.hours, what=_what(args)))
    return 0


def _unknown(check: str | None, metric: str | None,
             rules: dict[str, dict[str, ThresholdRule]], keys: Sequence[AlertKey]) -> str:
    """Why CHECK or METRIC names nothing there is to show (empty when they do)."""
    if check is None:
        return ""
    checks = sorted(set(rules) | {k.check for k in keys})
    if check not in checks:
        known = ", ".join(checks) or "none; configure adaptive: or forecast: thresholds"
        return f"no learned thresholds for check {check!r} (checks with learned thresholds: " \
               f"{known})"
    if metric is None:
        return ""
    metrics = sorted(set(rules.get(check, {})) | {k.metric for k in keys if k.check == check})
    if metric not in metrics:
        return (f"check {check} has no learned thresholds for metric {metric!r} "
                f"(it has: {', '.join(metrics)})")
    return ""


def _restore(s: SeriesState, rules: dict[str, dict[str, ThresholdRule]], host: str) -> Shown:
    """The series judged with its current rule, restored from what it knows."""
    key = s.key.key
    rule = rules.get(key.check, {}).get(key.metric)
    if rule is None or key.host != host:
        return Shown(key, configured=False, saved_at=s.saved_at)
    judge = SeriesJudge(rule.metric, rule=rule, adaptive=rule.adaptive, forecast=rule.forecast)
    restored = bool(s.data) and judge.restore(s.data)
    return Shown(key, True, restored, describe(judge) if restored else None,
                 last_sample_at=s.last_sample_at, saved_at=s.saved_at)


def _what(args: argparse.Namespace) -> str:
    if args.check is None:
        return ""
    return f" for {args.check}" + (f" {args.metric}" if args.metric else "")


# -- text ------------------------------------------------------------------------------


def render(shown: Sequence[Shown], now: float, hours: bool = False, what: str = "") -> str:
    """Every series as text, separated by blank lines."""
    if not shown:
        return (f"nothing learned yet{what} (series with adaptive: or forecast: thresholds "
                "appear once the agent has judged them)")
    return "\n\n".join(render_one(s, now, hours) for s in shown)


def render_one(s: Shown, now: float, hours: bool = False) -> str:
    """One series: a header line, then its learned range, trend and hour table."""
    head = s.key.as_text()
    if not s.configured:
        return f"{head} (no longer configured)"
    d = s.description
    if d is None:
        return (f"{head}\n  stored state does not fit the current settings; the agent "
                "learns afresh")
    notes = []
    if s.last_sample is not None:
        notes.append(f"last sample {_ago(s.last_sample, now)}")
    if s.saved_at is not None:
        notes.append(f"as saved {_ago(s.saved_at, now)}")
    if notes:
        head += f" ({'; '.join(notes)})"
    lines = [head]
    if d.learning is not None:
        n = d.normal_now
        if not d.learning.ready or n is None:
            lines.append(f"  {learning_text(d.learning)}")
        else:
            lines.append(f"  normal now ({n.at}): {format_range(d.metric, n.lo, n.hi)}"
                         f"{_limits(d.metric, n.alert_below, n.alert_above)}")
    if d.trend is not None:
        lines.append(f"  trend: {_trend(d.metric, d.trend)}")
    if d.by_hour:
        lines.extend("  " + row for row in (_full_table(d) if hours else _compact_table(d)))
    return "\n".join(lines)


def _ago(t: float, now: float) -> str:
    return f"{age(now - t)} ago"


#: The unit a warm-up is counted in, by how long it is in all: (up to seconds, name, size).
_WARMUP_UNITS = ((3 * 3600, "minutes", 60), (3 * 86400, "hours", 3600))


def learning_text(w: Learning) -> str:
    """``learning: 12 of 163 minutes (7%; ...)``, in the unit that fits the warm-up."""
    name, size = next(((n, s) for limit, n, s in _WARMUP_UNITS if w.needed <= limit),
                      ("days", 86400))
    tenths = size == 86400  # else "0 of 7 days" would stand for a whole day
    scale = 10 if tenths else 1
    needed = round(w.needed / size * scale) / scale
    done = min(math.floor(w.elapsed / size * scale) / scale, needed)
    why = ""
    if w.warmup < MIN_SLOTS * SLOT_SECONDS:
        why = (f"; warmup {format_duration(w.warmup)}, but a normal range needs "
               f"{MIN_SLOTS} full hours of data")
    elif w.needed - w.warmup >= 60:
        why = f"; warmup {format_duration(w.warmup)}, then from the next full hour"
    return f"learning: {done:g} of {needed:g} {name} ({w.percent}%{why})"


def _limits(metric: str, below: float | None, above: float | None) -> str:
    parts = [f"{word} {format_value(metric, v)}" for word, v in (("below", below),
                                                                  ("above", above))
             if v is not None]
    return f"; alerts {' or '.join(parts)}" if parts else ""


def _rate(metric: str, slope: float) -> str:
    """``+0.8%/h``, ``-1.5 GiB/h``, ``+12ms/h``: a slope per hour in the metric's unit."""
    return f"{'+' if slope >= 0 else '-'}{format_value(metric, abs(slope))}/h"


def _trend(metric: str, t: Trend) -> str:
    limit = f"(limit {format_value(metric, t.limit)})"
    if t.slope_per_hour is None:
        return f"not enough history yet {limit}"
    rate = _rate(metric, t.slope_per_hour) + (" day over day" if t.cyclic else "")
    if t.hours_to_full is None:
        return f"{rate}, not heading for the limit {limit}"
    if t.hours_to_full <= 0:
        return f"{rate}, at the limit now {limit}"
    word = "full" if t.heading is Heading.RISING else "at the limit"
    return f"{rate}, {word} in about {format_duration(t.hours_to_full * 3600)} {limit}"


def _cells(d: SeriesDescription) -> dict[tuple[int, int], str]:
    return {(h.weekday, h.hour): format_range(d.metric, h.lo, h.hi) for h in d.by_hour}


def _compact_table(d: SeriesDescription) -> list[str]:
    """Per weekday one line: the normal range at 00, 04, ... 20 h."""
    cells = _cells(d)
    w = max([5, *(len(c) for c in cells.values())])
    out = ["normal by hour " + "".join(f"{h:02d}:00".rjust(w + 2) for h in COMPACT_HOURS)]
    for day, name in enumerate(DAY_NAMES):
        out.append(f"{name:<15}" + "".join(cells.get((day, h), "-").rjust(w + 2)
                                           for h in COMPACT_HOURS))
    return out


def _full_table(d: SeriesDescription) -> list[str]:
    """Per hour of the day one line, a column per weekday."""
    cells = _cells(d)
    w = max([5, *(len(c) for c in cells.values())])
    out = ["normal by hour " + "".join(name.rjust(w + 2) for name in DAY_NAMES)]
    for h in range(24):
        out.append(f"{h:02d}:00".ljust(15) + "".join(cells.get((day, h), "-").rjust(w + 2)
                                                     for day in range(7)))
    return out


# -- JSON ------------------------------------------------------------------------------


def _json(s: Shown) -> dict[str, Any]:
    k = s.key
    out: dict[str, Any] = {"key": k.as_text(), "host": k.host, "check": k.check,
                           "metric": k.metric, "labels": dict(k.labels),
                           "configured": s.configured}
    if s.configured:
        out["restored"] = s.restored
    if s.description is not None:
        out.update(s.description.as_dict())
    out["last_sample_at"] = s.last_sample
    out["saved_at"] = s.saved_at
    return out
