"""Plain values the store takes and hands back: what to deliver and what is queued."""

from __future__ import annotations

from dataclasses import dataclass

from agent.alerting.state import AlertEvent

#: The SQL condition of an outbox row still to be sent.
PENDING = "sent_at IS NULL AND dead = 0"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to send to one target (URL index) of one channel."""

    event: AlertEvent
    channel: str
    target: int


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued delivery as stored, with its sending history."""

    id: int
    event: AlertEvent
    channel: str
    target: int
    dedup_key: str
    created_at: float
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    sent_at: float | None
    last_error: str | None
    dead: bool
