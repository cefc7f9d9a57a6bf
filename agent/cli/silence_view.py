"""How silences are shown: the ``silence list`` table, the lines ``status`` prints, JSON.

Apart from the ``silence`` command so that ``status`` shows silences without importing
the command module (which imports the CLI's config loading).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agent.alerting.silences import Silence
from agent.alerting.state import AlertState
from agent.textsafe import visible
from agent.timefmt import utc_minute
from agent.units import format_duration


def until_text(ends_at: float, now: float) -> str:
    """``2024-05-02 14:00 UTC (in 2h)``."""
    return f"{utc_minute(ends_at)} (in {format_duration(ends_at - now)})"


def silenced_alerts(s: Silence, alerts: Sequence[AlertState], now: float) -> list[AlertState]:
    """The open alerts the silence holds back at ``now``."""
    return [a for a in alerts if s.matches(a.key, now)]


def _holding(s: Silence, alerts: Sequence[AlertState], now: float) -> str:
    n = len(silenced_alerts(s, alerts, now))
    return f"{n} open alert{'s' if n != 1 else ''}" if n else "no open alerts"


def table(silences: Sequence[Silence], alerts: Sequence[AlertState], now: float) -> list[str]:
    """One line per silence under a header: id, match, until, open alerts held, reason."""
    rows = [(f"#{s.id}", visible(s.match_text), until_text(s.ends_at, now),
             _holding(s, alerts, now), visible(s.reason) or "-") for s in silences]
    head = ("ID", "MATCH", "UNTIL", "SILENCING", "REASON")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + "  "
            + r[4] for r in [head, *rows]]


def status_lines(silences: Sequence[Silence], alerts: Sequence[AlertState],
                 now: float) -> list[str]:
    """The short section ``watchkeeper status`` shows after the alerts."""
    if not silences:
        return []
    lines = [f"{len(silences)} active silence{'s' if len(silences) != 1 else ''}:"]
    for s in silences:
        reason = f" ({visible(s.reason)})" if s.reason else ""
        lines.append(f"  #{s.id} {visible(s.match_text)} until {until_text(s.ends_at, now)}, "
                     f"silencing {_holding(s, alerts, now)}{reason}")
    return lines


def silence_json(s: Silence, alerts: Sequence[AlertState], now: float) -> dict[str, Any]:
    """A silence as JSON, with the keys of the open alerts it holds back."""
    return {
        "id": s.id, "match": s.match_text, "check": s.check_glob, "metric": s.metric,
        "starts_at": s.starts_at, "ends_at": s.ends_at,
        "until": datetime.fromtimestamp(s.ends_at, UTC).isoformat(timespec="seconds"),
        "reason": s.reason, "created_at": s.created_at,
        "silencing": [a.key.as_text() for a in silenced_alerts(s, alerts, now)],
    }
