"""Grouping an alert storm into one message per target: which targets group, and when a
held group goes out. Pure: the dispatcher passes the rows and reads the clock itself.

A target of a channel with ``group_wait`` holds its due rows until ``group_wait`` has
passed since the oldest of them became due, then sends them all as one message. Nothing
of this is stored: after a restart the rows are due as before and group again.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.notify.incident_keys import opens_incidents
from agent.notify.native_urls import is_alertmanager
from agent.store import OutboxRow


def groups_target(url: str, group_wait: float) -> bool:
    """Whether rows for ``url`` are grouped: ``group_wait`` is on and the service does
    not open one incident per alert (PagerDuty and Opsgenie always get one per row) nor
    group alerts itself (Alertmanager)."""
    return group_wait > 0 and not opens_incidents(url) and not is_alertmanager(url)


def release_at(rows: Sequence[OutboxRow], group_wait: float) -> float:
    """When a grouped target's due ``rows`` go out: ``group_wait`` after the oldest
    became due. A retry among them goes at once (it waited before its first attempt),
    taking the others along."""
    if not rows:
        raise ValueError("release_at needs at least one row")
    oldest = min(r.next_attempt_at for r in rows)
    if any(r.attempts for r in rows):
        return oldest
    return oldest + group_wait
