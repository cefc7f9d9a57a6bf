"""Maintenance windows: planned work, recurring, declared in the config.

A window is a start (a cron expression, or weekdays and a time of day) and a length, read
in a time zone, over the checks it names (by name or glob) or tags. While it lasts it
holds back the alerts of those checks exactly as a silence does (``agent.alerting
.silences``): checks keep running, and what still fails when it ends is announced then.

Pure: every function takes the moment (wall-clock epoch seconds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from fnmatch import fnmatchcase

from agent.alerting.silences import Silence
from agent.cron import CronExpr


@dataclass(frozen=True, slots=True)
class Window:
    """One recurring maintenance window."""

    name: str
    starts: CronExpr
    duration: float
    tz: tzinfo | None
    checks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    reason: str = ""

    def covers(self, check: str, tags: Sequence[str]) -> bool:
        """Whether the window holds back the alerts of ``check`` (tagged ``tags``)."""
        return (any(fnmatchcase(check, glob) for glob in self.checks)
                or any(t in self.tags for t in tags))

    def current(self, at: float) -> tuple[float, float] | None:
        """The occurrence holding at ``at`` (start, end), or None."""
        start = self.starts.previous_time(at, self.tz)
        end = start + self.duration
        return (start, end) if start <= at < end else None

    def upcoming(self, after: float, count: int) -> list[tuple[float, float]]:
        """The occurrence holding at ``after`` (if any), then the next ones, ``count`` in
        all."""
        found = [c] if (c := self.current(after)) is not None else []
        at = after
        while len(found) < count:
            at = self.starts.next_time(at, self.tz)
            found.append((at, at + self.duration))
        return found


def window_silences(windows: Sequence[Window], at: float,
                    checks: Mapping[str, Sequence[str]], host: str) -> list[Silence]:
    """One silence per configured check (``checks``: name -> tags) that a window holding
    at ``at`` covers, named after the window."""
    out: list[Silence] = []
    for window in windows:
        now = window.current(at)
        if now is None:
            continue
        start, end = now
        reason = window.reason or "planned work"
        out.extend(Silence(id=0, check_glob=check, metric=None, starts_at=start, ends_at=end,
                           reason=reason, created_at=start, host=host, window=window.name)
                   for check, tags in checks.items() if window.covers(check, tags))
    return out
