"""Each check's outages: runs of CRITICAL, from the first CRITICAL run to the next up one.

Pure: runs come in with their time. What counts (``up_of``): OK and WARNING are up (a
warning serves, degraded); CRITICAL is down; UNKNOWN (the check could not tell: it
crashed or its result was nonsense) is no data: it neither starts nor ends an outage and
counts in no uptime. An outage the agent stopped in the middle of ends, at the next
start, at the last CRITICAL run it wrote: what the agent did not watch is no data.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.model import Status


def up_of(status: Status) -> bool | None:
    """Whether a run with this judged status counts as up (None: no data)."""
    if status is Status.UNKNOWN:
        return None
    return status is not Status.CRITICAL


@dataclass(slots=True)
class Outage:
    """One check's outage: a row of ``history_outages``."""

    check: str
    started_at: float
    last_down_at: float
    ended_at: float | None = None

    def lasted(self, now: float) -> float:
        """How long it lasted (up to ``now`` while it goes on)."""
        end = self.ended_at if self.ended_at is not None else max(now, self.last_down_at)
        return max(end - self.started_at, 0.0)


class OutageBook:
    """The outages going on, and those changed since they were last written."""

    def __init__(self) -> None:
        self._open: dict[str, Outage] = {}
        self._changed: dict[str, Outage] = {}
        self._ended: list[Outage] = []

    def observe(self, check: str, up: bool | None, at: float) -> None:
        """Count one run of ``check`` (``up`` as ``up_of`` says)."""
        if up is None:
            return
        outage = self._open.get(check)
        if up:
            if outage is not None:
                outage.ended_at = at
                del self._open[check]
                self._changed.pop(check, None)
                self._ended.append(outage)
            return
        if outage is None:
            outage = self._open[check] = Outage(check, at, at)
        else:
            outage.last_down_at = max(outage.last_down_at, at)
        self._changed[check] = outage

    def going_on(self, check: str) -> Outage | None:
        return self._open.get(check)

    def take_changed(self) -> list[Outage]:
        """The outages that started, went on or ended since the last call (as copies)."""
        out = [Outage(o.check, o.started_at, o.last_down_at, o.ended_at)
               for o in (*self._ended, *self._changed.values())]
        self._ended.clear()
        self._changed.clear()
        return out
