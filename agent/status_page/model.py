"""The status page as values: what ``build`` decides and ``render`` writes out."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PageState(enum.Enum):
    """What a visitor is told about a check, a day or the whole page."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"
    NO_DATA = "no_data"

    @property
    def label(self) -> str:
        """The word shown for it."""
        return _LABELS[self]

    @property
    def rank(self) -> int:
        """How bad it is, for the page's headline (the worst check wins)."""
        return _RANKS[self]


_LABELS = {PageState.UP: "Operational", PageState.DEGRADED: "Degraded",
           PageState.DOWN: "Down", PageState.UNKNOWN: "Unknown",
           PageState.NO_DATA: "No data"}
_RANKS = {PageState.NO_DATA: 0, PageState.UP: 1, PageState.UNKNOWN: 2,
          PageState.DEGRADED: 3, PageState.DOWN: 4}


@dataclass(frozen=True, slots=True)
class UptimeFigure:
    """The share of a span of time a check was up."""

    #: ``24h``, ``30d``, ``90d``: the span's name in the page and its JSON.
    span: str
    #: 0..1; None when the history holds nothing for the span.
    fraction: float | None
    #: ``99.95%``; ``-`` without data. Never ``100%`` unless it was up all the time.
    text: str


@dataclass(frozen=True, slots=True)
class Day:
    """One box of the daily bar."""

    #: ``2025-03-01``.
    date: str
    state: PageState
    fraction: float | None
    #: The box's tooltip and accessible label: ``2025-03-01: 99.31% up``.
    label: str


@dataclass(frozen=True, slots=True)
class Sparkline:
    """A check's response time over the last hours, in equal buckets (None: no data)."""

    values: tuple[float | None, ...]
    hours: int
    #: ``Response time, last 24 h: average 120ms, highest 480ms, latest 118ms``.
    label: str
    #: ``avg 120ms · latest 118ms``: the figures shown beside the line.
    caption: str


@dataclass(frozen=True, slots=True)
class CheckView:
    """One public check."""

    name: str
    state: PageState
    #: Why it is not up, in a few words (the incident's reason); "" when it is.
    note: str
    uptime: tuple[UptimeFigure, ...]
    days: tuple[Day, ...]
    #: None when the check has no response times (a disk, a process).
    sparkline: Sparkline | None


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident of a public check, open or recently resolved."""

    id: str
    check: str
    #: The worst it got: DOWN, DEGRADED or UNKNOWN.
    state: PageState
    #: ``Outage``, ``Degraded performance``, ``Unknown state``.
    title: str
    why: str
    started_at: float
    resolved_at: float | None
    #: From its first bad sample to its resolve (or to now, while open).
    duration: float
    #: ``2025-03-01 14:00 UTC``, ``14:32 UTC`` (the same day), ``45m``.
    started_text: str
    resolved_text: str | None
    duration_text: str

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class StatusPage:
    """The whole page."""

    title: str
    generated_at: float
    #: ``2025-03-01 14:00 UTC``.
    generated_text: str
    #: The worst state of the checks shown, and the headline saying it.
    state: PageState
    headline: str
    checks: tuple[CheckView, ...]
    incidents: tuple[IncidentView, ...]
    #: How far back resolved incidents are listed (days).
    incident_days: int
    #: How many days the daily bar covers.
    bar_days: int
