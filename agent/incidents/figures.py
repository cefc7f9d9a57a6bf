"""The figures of a set of incidents: how many, how fast they were detected, acknowledged
and resolved, and how much noise they stood for. Pure: the incidents come in as values.

- Time to detect: first bad sample to the first notification delivered.
- Time to acknowledge: the alert firing to its acknowledgement.
- Time to resolve: first bad sample to the resolve.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from agent.incidents.record import Incident


class Spread(BaseModel):
    """Mean and 90th percentile of some durations (seconds); None when there are none."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    count: int = 0
    mean: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls()
        ordered = sorted(values)
        # Nearest rank: the smallest value at or above 90 % of them.
        rank = max(math.ceil(0.9 * len(ordered)), 1)
        return cls(count=len(ordered), mean=sum(ordered) / len(ordered),
                   p90=ordered[rank - 1])


class Figures(BaseModel):
    """The figures of one check's incidents (or of all of them: ``check`` None)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    check: str | None
    incidents: int
    open: int
    detect: Spread
    acknowledge: Spread
    resolve: Spread
    notifications: int
    #: Bad samples while incidents were open: what paging on every breach would send.
    breaches: int
    #: Incidents held back (their FIRING not sent on its own), in all and by why:
    #: ``silence``, ``maintenance``, ``dependency`` (under a failing parent) and
    #: ``grouping`` (under the first alert of the host that opened with it).
    silenced: int
    held: dict[str, int] = {}
    #: Spells of flapping (each announced once instead of at every flip).
    flapping: int = 0

    @property
    def noise_reduction(self) -> float | None:
        """Breaches per notification sent (None when nothing was sent)."""
        return self.breaches / self.notifications if self.notifications else None


def figures(incidents: Sequence[Incident], check: str | None = None) -> Figures:
    """The figures of ``incidents`` (all of them, labelled ``check``)."""
    detect = [i.first_notified_at - i.first_bad_at for i in incidents
              if i.first_notified_at is not None]
    ack = [i.acked_at - i.opened_at for i in incidents if i.acked_at is not None]
    resolve = [i.resolved_at - i.first_bad_at for i in incidents if i.resolved_at is not None]
    return Figures(check=check, incidents=len(incidents),
                   open=sum(1 for i in incidents if i.open),
                   detect=Spread.of([max(d, 0.0) for d in detect]),
                   acknowledge=Spread.of([max(d, 0.0) for d in ack]),
                   resolve=Spread.of([max(d, 0.0) for d in resolve]),
                   notifications=sum(i.notifications for i in incidents),
                   breaches=sum(i.breaches for i in incidents),
                   silenced=sum(1 for i in incidents if i.silenced),
                   held=dict(Counter(i.held_by or "silence" for i in incidents if i.silenced)),
                   flapping=sum(i.flapped for i in incidents))


def by_check(incidents: Sequence[Incident]) -> list[Figures]:
    """The figures of each check, by name, then of all of them."""
    checks = sorted({i.check for i in incidents})
    return [*(figures([i for i in incidents if i.check == c], c) for c in checks),
            figures(incidents)]
