"""From the agent's states, incidents and history to the status page's view model.

Pure: the moment is passed in, the history is only read. Only the public checks are
looked at; the names of the others are taken out of every text shown (an incident's
reason may name a dependency), so a page never tells what a check not shown is called,
and so are the config's secrets (the log scrubber's safety net: checks mask them already).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Sequence

from agent import logs
from agent.alerting.state import AlertState, Phase
from agent.incidents.record import Incident
from agent.model import Status
from agent.status_page.defaults import DEFAULT_TITLE
from agent.status_page.model import (
    CheckView,
    Day,
    IncidentView,
    PageState,
    Sparkline,
    StatusPage,
    UptimeFigure,
)
from agent.status_page.sources import HistorySource, Snapshot
from agent.timefmt import same_utc_day, utc_clock, utc_minute
from agent.units import format_duration

DAY = 86400.0
#: The spans uptime is given for: name and seconds.
SPANS = (("24h", DAY), ("30d", 30 * DAY), ("90d", 90 * DAY))
BAR_DAYS = 90
#: Resolved incidents listed: those of the last ``INCIDENT_DAYS``, at most ``MAX_INCIDENTS``.
INCIDENT_DAYS = 30
MAX_INCIDENTS = 25
#: The sparkline: the last ``SPARK_HOURS`` in ``SPARK_POINTS`` buckets (30 minutes each).
SPARK_HOURS = 24
SPARK_POINTS = 48
#: A day up at least this share of its time is "degraded", below it "down"; only a day up
#: all the time is "up".
DAY_DEGRADED_FROM = 0.95
#: What a name not shown reads as in a text shown.
HIDDEN_NAME = "another check"

_BY_SEVERITY = {Status.CRITICAL: PageState.DOWN, Status.WARNING: PageState.DEGRADED,
                Status.UNKNOWN: PageState.UNKNOWN, Status.OK: PageState.UP}
_INCIDENT_TITLES = {PageState.DOWN: "Outage", PageState.DEGRADED: "Degraded performance",
                    PageState.UNKNOWN: "Unknown state", PageState.UP: "Problem"}
_HEADLINES = {PageState.UP: "All systems operational",
              PageState.DEGRADED: "Some systems degraded",
              PageState.DOWN: "Some systems down",
              PageState.UNKNOWN: "Some systems cannot be checked",
              PageState.NO_DATA: "No data yet"}


def build_page(snapshot: Snapshot, history: HistorySource, now: float, *,
               title: str = DEFAULT_TITLE, tz: datetime.tzinfo = datetime.UTC) -> StatusPage:
    """The page as of ``now``; its daily bars follow the calendar days of ``tz``."""
    hide = _Hider(snapshot.private, snapshot.public)
    states: dict[str, list[AlertState]] = {}
    for s in snapshot.states:
        if s.key.host == snapshot.host:
            states.setdefault(s.key.check, []).append(s)
    checks = tuple(_check(name, states.get(name, []), ran=snapshot.ran, history=history,
                          now=now, tz=tz, hide=hide) for name in snapshot.public)
    worst = max((c.state for c in checks), key=lambda s: s.rank, default=PageState.NO_DATA)
    headline = _HEADLINES[worst]
    if worst is PageState.DOWN and len(checks) > 1 and \
            all(c.state is PageState.DOWN for c in checks):
        headline = "All systems down"
    return StatusPage(
        title=title, generated_at=now, generated_text=utc_minute(now), state=worst,
        headline=headline, checks=checks,
        incidents=incident_views(snapshot.incidents, snapshot.public, now, hide),
        incident_days=INCIDENT_DAYS, bar_days=BAR_DAYS)


def current_state(states: Iterable[AlertState], ran: bool) -> tuple[PageState, str]:
    """A check's state from its alerts' states, and the reason of the worst one firing:
    only a firing alert makes it anything but up (a pending one is not decided yet);
    NO_DATA when it has not run."""
    firing = [s for s in states if s.phase is Phase.FIRING]
    if not firing:
        return (PageState.UP if ran else PageState.NO_DATA), ""
    worst = max(firing, key=lambda s: _BY_SEVERITY[s.severity].rank)
    return _BY_SEVERITY[worst.severity], worst.why


def uptime_text(fraction: float | None) -> str:
    """``99.95%``, cut (not rounded) to two decimals so a check down for a moment never
    reads ``100%``; ``-`` without data."""
    if fraction is None or not math.isfinite(fraction):
        return "-"
    fraction = min(max(fraction, 0.0), 1.0)
    if fraction == 1.0:
        return "100%"
    # The small nudge keeps 0.9999 (stored as 0.99989999...) at 99.99, not 99.98.
    return f"{math.floor(fraction * 10_000 + 1e-6) / 100:.2f}%"


def day_state(fraction: float | None) -> PageState:
    """A day's box: up all day, degraded (up at least ``DAY_DEGRADED_FROM``), down, or
    no data."""
    if fraction is None or not math.isfinite(fraction):
        return PageState.NO_DATA
    if fraction >= 1.0 - 1e-9:
        return PageState.UP
    return PageState.DEGRADED if fraction >= DAY_DEGRADED_FROM else PageState.DOWN


def days(history: HistorySource, check: str, now: float, tz: datetime.tzinfo,
         count: int = BAR_DAYS) -> tuple[Day, ...]:
    """The daily bar: the last ``count`` calendar days of ``tz``, oldest first."""
    given = list(history.daily_up(check, count, now, tz))[-count:]
    fractions: list[float | None] = [None] * (count - len(given))
    fractions += given
    today = datetime.datetime.fromtimestamp(now, tz).date()
    out = []
    for n, fraction in enumerate(fractions):
        date = (today - datetime.timedelta(days=count - 1 - n)).isoformat()
        text = "no data" if fraction is None else f"{uptime_text(fraction)} up"
        out.append(Day(date, day_state(fraction), fraction, f"{date}: {text}"))
    return tuple(out)


def sparkline(history: HistorySource, check: str, now: float) -> Sparkline | None:
    """The response time of the last ``SPARK_HOURS``; None when there is none."""
    values = tuple(v if v is not None and math.isfinite(v) and v >= 0 else None
                   for v in history.response_ms(check, now - SPARK_HOURS * 3600.0, now,
                                                SPARK_POINTS))
    known = [v for v in values if v is not None]
    if not known:
        return None
    mean, latest = sum(known) / len(known), known[-1]
    label = (f"Response time, last {SPARK_HOURS} h: average {_ms(mean)}, highest "
             f"{_ms(max(known))}, latest {_ms(latest)}")
    return Sparkline(values, SPARK_HOURS, label, f"avg {_ms(mean)} · latest {_ms(latest)}")


def incident_views(incidents: Iterable[Incident], public: Sequence[str], now: float,
                   hide: _Hider | None = None) -> tuple[IncidentView, ...]:
    """The public checks' incidents to list: every open one, and those resolved in the last
    ``INCIDENT_DAYS``; open ones first, then the latest resolved, ``MAX_INCIDENTS`` in all."""
    shown, hide = set(public), hide or _Hider((), public)
    since = now - INCIDENT_DAYS * DAY
    picked = {i.id: i for i in incidents
              if i.check in shown and (i.resolved_at is None or i.resolved_at >= since)}
    ordered = sorted(picked.values(), key=lambda i: (
        i.resolved_at is not None, -(i.resolved_at or 0.0), -i.opened_at, i.id))
    return tuple(_incident(i, now, hide) for i in ordered[:MAX_INCIDENTS])


# -- the parts -------------------------------------------------------------------------


def _check(name: str, states: list[AlertState], *, ran: frozenset[str] | None,
           history: HistorySource, now: float, tz: datetime.tzinfo, hide: _Hider) -> CheckView:
    uptime = []
    for span, seconds in SPANS:
        fraction = history.uptime(name, now - seconds, now)
        if fraction is not None and not math.isfinite(fraction):
            fraction = None
        uptime.append(UptimeFigure(span, fraction, uptime_text(fraction)))
    has_run = name in ran if ran is not None else bool(states) or uptime[0].fraction is not None
    state, why = current_state(states, has_run)
    return CheckView(name=name, state=state, note=hide(why), uptime=tuple(uptime),
                     days=days(history, name, now, tz), sparkline=sparkline(history, name, now))


def _incident(i: Incident, now: float, hide: _Hider) -> IncidentView:
    state = _BY_SEVERITY[i.worst]
    end = i.resolved_at if i.resolved_at is not None else now
    duration = max(end - i.first_bad_at, 0.0)
    resolved = None
    if i.resolved_at is not None:
        resolved = (utc_clock(i.resolved_at) if same_utc_day(i.first_bad_at, i.resolved_at)
                    else utc_minute(i.resolved_at))
    return IncidentView(
        id=i.id, check=i.check, state=state if state is not PageState.UP else PageState.UNKNOWN,
        title=_INCIDENT_TITLES[state], why=hide(i.why), started_at=i.first_bad_at,
        resolved_at=i.resolved_at, duration=duration, started_text=utc_minute(i.first_bad_at),
        resolved_text=resolved, duration_text=_span(duration))


def _span(seconds: float) -> str:
    """An incident's length in whole seconds (``45s``, ``2m 30s``, ``1h 5m``)."""
    return format_duration(round(seconds))


def _ms(value: float) -> str:
    return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"


class _Hider:
    """Takes the names of the checks not shown out of a text (a whole name, not a part of
    a longer word), and any secret of the config."""

    def __init__(self, private: Iterable[str], public: Iterable[str]) -> None:
        names = sorted({n for n in private if n} - set(public), key=len, reverse=True)
        self._pattern = re.compile(
            r"(?<![\w.-])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w-]|\.\w)"
        ) if names else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None and text:
            text = self._pattern.sub(HIDDEN_NAME, text)
        return logs.scrubber.scrub(text)
