"""Repeated problems get serious: an alert that opens for the ``count``-th time within
``within`` fires at ``severity``, and its message says so ("3rd time in 24h").

Pure: the earlier incidents come in as values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from agent.alerting.state import AlertEvent, EventKind
from agent.incidents.record import Incident
from agent.model import Status
from agent.units import format_duration


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``."""
    suffixes = {1: "st", 2: "nd", 3: "rd"}
    suffix = "th" if n % 100 in (11, 12, 13) else suffixes.get(n % 10, "th")
    return f"{n}{suffix}"


def raised(event: AlertEvent, earlier: Iterable[Incident], count: int, within: float,
           severity: Status) -> AlertEvent:
    """``event`` (a FIRING), raised when it is at least the ``count``-th opening of its
    alert within ``within`` of it (``earlier``: the incidents known, any alert)."""
    if event.kind is not EventKind.FIRING:
        return event
    key = event.key.as_text()
    times = {i.opened_at for i in earlier
             if i.key == key and i.id != event.incident and event.at - within <= i.opened_at
             <= event.at}
    n = len(times) + 1
    if n < count:
        return event
    worse = Status.worst([event.severity, severity])
    note = f"{ordinal(n)} time in {format_duration(within)}"
    return replace(event, severity=worse, why=f"{event.why} ({note})" if event.why else note)
