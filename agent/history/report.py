"""Each check's uptime over a span, and its error budget this month: the figures of
``watchkeeper uptime`` (text and ``--json``).

Definitions (the README's too):

- uptime: the fraction of the check's runs that were up (OK or WARNING) among those up
  or down (CRITICAL); UNKNOWN runs and time without an agent are no data;
- an outage: from the first CRITICAL run to the next up one; downtime is their sum and
  the longest is the longest of them, cut to the span;
- incidents: the incident log's incidents of the check opened in the span;
- response time: the check's ``response_ms`` (else its run time), p50 and p95 of its raw
  samples in the span (kept 48 h by default: a longer span's percentiles are of those);
- error budget: ``(100 - slo)%`` of this calendar month (local time), less the downtime
  so far this month; negative when overspent.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pydantic import BaseModel

from agent.history.queries import HistoryQueries


class Budget(BaseModel):
    """A check's error budget this month."""

    target_percent: float
    #: The month, as ``2026-12`` (local time).
    month: str
    allowed_seconds: float
    used_seconds: float
    left_seconds: float
    #: Left as a percentage of allowed (negative when overspent).
    left_percent: float


class UptimeFigures(BaseModel):
    """One check's figures over the span (``--json`` prints a list of these)."""

    check: str
    #: None: no data in the span.
    uptime_percent: float | None
    #: Runs that were up or down.
    runs: int
    outages: int
    incidents: int
    downtime_seconds: float
    longest_outage_seconds: float
    #: The metric the response times are of (``response_ms`` or ``run_ms``).
    response_metric: str
    response_p50_ms: float | None
    response_p95_ms: float | None
    #: The first sample the percentiles take (they are of the raw samples, kept 48 h).
    response_from: float | None = None
    budget: Budget | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """What the figures cover: [since, until), and the month of the budget."""

    since: float
    until: float
    #: The zone of the budget's month; None: the system's local time, with its changes
    #: between summer and winter time (a fixed offset would shift the month's edges).
    tz: datetime.tzinfo | None
    #: Whether an agent records at ``until`` (else an outage left open ended at its last
    #: CRITICAL run: the time since is no data).
    live: bool = True


def month_bounds(at: float, tz: datetime.tzinfo | None) -> tuple[float, float, str]:
    """The start and end (epoch) of the calendar month of ``tz`` holding ``at`` (None: of
    the system's local time), and its name."""
    # Naive datetimes are the system's local time, each with its own offset.
    day = datetime.datetime.fromtimestamp(at, tz)
    first = datetime.datetime(day.year, day.month, 1, tzinfo=tz)
    nxt = datetime.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=tz)
    return first.timestamp(), nxt.timestamp(), f"{day.year:04d}-{day.month:02d}"


def downtime(history: HistoryQueries, check: str, since: float, until: float, *,
             live: bool = True) -> tuple[int, float, float]:
    """Outages, their total and the longest, over [since, until) (``live``: as
    ``Span.live``)."""
    found = history.outages(check, since, until, live=live)
    lasted = [o.lasted(until) for o in found]
    return len(found), sum(lasted), max(lasted, default=0.0)


def figures(history: HistoryQueries, check: str, span: Span, *, incidents: int = 0,
            slo: float | None = None) -> UptimeFigures:
    """``check``'s figures over ``span`` (``slo``: its target in percent)."""
    up, runs = history.counts(check, span.since, span.until)
    outages, total, longest = downtime(history, check, span.since, span.until,
                                       live=span.live)
    (p50, p95), response_from = history.response_percentiles(check, span.since, span.until)
    budget = None
    if slo is not None:
        start = month_bounds(span.until, span.tz)[0]
        budget = error_budget(slo, span, downtime(history, check, start, span.until,
                                                  live=span.live)[1])
    return UptimeFigures(
        check=check, uptime_percent=100.0 * up / runs if runs else None, runs=runs,
        outages=outages, incidents=incidents, downtime_seconds=round(total, 3),
        longest_outage_seconds=round(longest, 3),
        response_metric=history.response_metric(check),
        response_p50_ms=p50, response_p95_ms=p95, response_from=response_from, budget=budget)


def error_budget(slo: float, span: Span, used: float) -> Budget:
    """The budget of target ``slo`` (percent) in the month ``span`` ends in, ``used``
    seconds of it spent."""
    start, end, name = month_bounds(span.until, span.tz)
    allowed = (100.0 - slo) / 100.0 * (end - start)
    left = allowed - used
    return Budget(target_percent=slo, month=name, allowed_seconds=round(allowed, 3),
                  used_seconds=round(used, 3), left_seconds=round(left, 3),
                  left_percent=round(100.0 * left / allowed, 4))


def no_data(check: str, span: Span, slo: float | None = None) -> UptimeFigures:
    """The figures of a check without any history."""
    return UptimeFigures(
        check=check, uptime_percent=None, runs=0, outages=0, incidents=0,
        downtime_seconds=0.0, longest_outage_seconds=0.0, response_metric="response_ms",
        response_p50_ms=None, response_p95_ms=None,
        budget=error_budget(slo, span, 0.0) if slo is not None else None)
