"""The outbox in memory: what is still to be sent, in the order it was decided.

The agent keeps every undelivered notification here (loaded from the store at start,
written back to it through the store writer), so sending never waits on the database
and goes on while the database cannot be written.

Two rules decide what may go now, both pure (the clock's readings are passed in):

- Order per incident: a row goes only once every earlier row of its incident for the
  same target is delivered or given up (ids are the order rows were decided). A grouped
  target gets all of them in one message, in order; others get the first of each
  incident per pass, the next in the pass after.
- Backoff per target: a target that failed waits (exponential, jittered) as a whole;
  while it does, one row probes it; when it answers, everything queued for it goes at
  once, not at each row's own retry time.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.alerting.state import EventKind
from agent.model import Status
from agent.notify.backoff import RetryPolicy
from agent.notify.protocol import SendResult
from agent.store.records import Delivery, OutboxRow

#: A channel's name and the index of one of its URLs.
TargetId = tuple[str, int]
#: How many delivered rows' keys are remembered, so the same event is queued once.
SEEN_KEPT = 10_000


@dataclass(slots=True)
class TargetState:
    """One target's backoff: consecutive failed attempts and when to try again
    (monotonic seconds; None: now)."""

    failures: int = 0
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one send attempt changed: rows delivered, rows to retry, rows given up on."""

    sent: tuple[OutboxRow, ...] = ()
    retry: tuple[OutboxRow, ...] = ()
    dead: tuple[OutboxRow, ...] = ()

    @property
    def attempted(self) -> tuple[OutboxRow, ...]:
        """The failed rows as they now stand (to store)."""
        return self.retry + self.dead


class Outbox:
    """Undelivered rows by target, each target's backoff, and the next id to give."""

    def __init__(self, rows: Iterable[OutboxRow] = (), next_id: int = 1,
                 retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._rows: dict[TargetId, dict[int, OutboxRow]] = {}
        self._seen: set[tuple[str, str, int]] = set()
        self._seen_order: deque[tuple[str, str, int]] = deque()
        self._targets: dict[TargetId, TargetState] = {}
        self.next_id = next_id
        #: Rows given up on since the start (the store counts the earlier ones).
        self.dead_since_start = 0
        for row in sorted(rows, key=lambda r: r.id):
            self._put(row)
            self.next_id = max(self.next_id, row.id + 1)

    # -- queueing ----------------------------------------------------------------------

    def add(self, deliveries: Sequence[Delivery]) -> list[OutboxRow]:
        """Queue deliveries (due at their event's time), giving each the next id; the
        same event to the same target is queued once. Returns the rows queued."""
        added: list[OutboxRow] = []
        for d in deliveries:
            if (d.event.dedup_key, d.channel, d.target) in self._seen:
                continue
            row = OutboxRow(id=self.next_id, event=d.event, channel=d.channel,
                            target=d.target, dedup_key=d.event.dedup_key,
                            created_at=d.event.at, attempts=0, next_attempt_at=d.event.at,
                            last_attempt_at=None, sent_at=None, last_error=None, dead=False)
            self.next_id += 1
            self._put(row)
            added.append(row)
        return added

    def _put(self, row: OutboxRow) -> None:
        self._rows.setdefault((row.channel, row.target), {})[row.id] = row
        self._remember((row.dedup_key, row.channel, row.target))

    def _remember(self, key: tuple[str, str, int]) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > SEEN_KEPT:
            old = self._seen_order.popleft()
            if not self._is_pending(old):
                self._seen.discard(old)

    def _is_pending(self, key: tuple[str, str, int]) -> bool:
        rows = self._rows.get((key[1], key[2]), {})
        return any(r.dedup_key == key[0] for r in rows.values())

    # -- what may go -------------------------------------------------------------------

    def ready_targets(self, mono: float) -> list[TargetId]:
        """Targets with queued rows whose backoff has ended at ``mono``."""
        return [t for t, rows in self._rows.items() if rows and self._ready(t, mono)]

    def _ready(self, target: TargetId, mono: float) -> bool:
        state = self._targets.get(target)
        return state is None or state.retry_at is None or state.retry_at <= mono

    def queued(self, target: TargetId) -> list[OutboxRow]:
        """A target's queued rows, in the order they were decided."""
        return sorted(self._rows.get(target, {}).values(), key=lambda r: r.id)

    def sendable(self, target: TargetId, grouped: bool, limit: int) -> list[OutboxRow]:
        """What may go to ``target`` now, in order: every row when ``grouped`` (one
        message keeps the order), else the first of each incident. A target that failed
        last time gets one message to probe it."""
        rows = self.queued(target)
        if not grouped:
            firsts: dict[str, OutboxRow] = {}
            for row in rows:
                firsts.setdefault(row.event.incident, row)
            # Under a backlog: critical before warning before resolved notices.
            rows = sorted(firsts.values(), key=lambda r: (priority(r), r.id))
        state = self._targets.get(target)
        if not grouped and state is not None and state.failures:
            return rows[:1]
        return rows[:limit]

    def next_retry(self) -> float | None:
        """The earliest monotonic time a backing-off target with queued rows is tried
        again (None when none is backing off)."""
        times = [s.retry_at for t, s in self._targets.items()
                 if s.retry_at is not None and self._rows.get(t)]
        return min(times) if times else None

    # -- outcomes ----------------------------------------------------------------------

    def record(self, target: TargetId, outcome: Sequence[tuple[OutboxRow, SendResult]],
               now: float, mono: float, rand: float = 0.0) -> Recorded:
        """Take the results of one attempt at ``target``: delivered rows leave; a failure
        backs the whole target off; a permanent failure, or one a day after a row was
        queued, gives that row up."""
        state = self._targets.setdefault(target, TargetState())
        transient = any(not r.ok and not r.permanent for _, r in outcome)
        if transient:
            state.failures += 1
            state.retry_at = mono + self.retry.delay(state.failures, rand)
        elif outcome:
            state.failures, state.retry_at = 0, None
        sent: list[OutboxRow] = []
        retry: list[OutboxRow] = []
        dead: list[OutboxRow] = []
        for row, result in outcome:
            if result.ok:
                sent.append(self._pop(dataclasses.replace(
                    row, attempts=row.attempts + 1, last_attempt_at=now, sent_at=now,
                    last_error=None)))
                continue
            at = None if result.permanent else self.retry.next_attempt(
                row.created_at, now, state.failures, rand)
            failed = dataclasses.replace(
                row, attempts=row.attempts + 1, last_attempt_at=now, last_error=result.error,
                next_attempt_at=at if at is not None else now, dead=at is None)
            if at is None:
                dead.append(self._pop(failed))
            else:
                retry.append(failed)
                self._rows[target][row.id] = failed
        if retry and state.retry_at is not None:
            # The last try of a row is held at its give-up moment, not skipped past it.
            state.retry_at = min(state.retry_at,
                                 mono + min(r.next_attempt_at for r in retry) - now)
        return Recorded(tuple(sent), tuple(retry), tuple(dead))

    def give_up(self, row: OutboxRow, why: str, now: float) -> OutboxRow:
        """Give a row up without sending it (its target is gone from the config)."""
        return self._pop(dataclasses.replace(row, attempts=row.attempts + 1,
                                             last_attempt_at=now, last_error=why, dead=True))

    def _pop(self, row: OutboxRow) -> OutboxRow:
        rows = self._rows.get((row.channel, row.target), {})
        rows.pop(row.id, None)
        if not rows:
            self._rows.pop((row.channel, row.target), None)
        if row.dead:
            self.dead_since_start += 1
        return row

    # -- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def pending(self, now: float, mono: float) -> list[OutboxRow]:
        """Every queued row, the next to be tried first; a row of a backing-off target
        shows the target's next try."""
        out: list[OutboxRow] = []
        for target, rows in self._rows.items():
            state = self._targets.get(target)
            wait = None if state is None or state.retry_at is None else state.retry_at - mono
            for row in rows.values():
                late = wait is not None and now + wait > row.next_attempt_at
                out.append(dataclasses.replace(row, next_attempt_at=now + wait)
                           if late and wait is not None else row)
        return sorted(out, key=lambda r: (r.next_attempt_at, r.id))

    def rows(self) -> list[OutboxRow]:
        """Every queued row as it stands, in id order (for a full write to the store)."""
        return sorted((r for rows in self._rows.values() for r in rows.values()),
                      key=lambda r: r.id)


#: Events that tell how an incident ends or who handles it: sent after live problems.
_NOTICES = frozenset({EventKind.RESOLVED, EventKind.ACKNOWLEDGED, EventKind.UNACKNOWLEDGED,
                      EventKind.STABLE})
_SEVERITY_ORDER = {Status.CRITICAL: 0, Status.UNKNOWN: 1, Status.WARNING: 2}


def priority(row: OutboxRow) -> int:
    """Which goes first under a backlog (lower first)."""
    ev = row.event
    if ev.kind in _NOTICES or not ev.severity.is_problem:
        return 3
    return _SEVERITY_ORDER.get(ev.severity, 2)


def restored(rows: Sequence[OutboxRow], next_id: int, now: float, mono: float,
             retry: RetryPolicy | None = None) -> Outbox:
    """The outbox of rows loaded from the store at start: a target whose rows were
    backing off goes on waiting until the earliest of them is due."""
    box = Outbox(rows, next_id, retry)
    for row in rows:
        if row.attempts and row.next_attempt_at > now:
            state = box._targets.setdefault((row.channel, row.target), TargetState())
            state.failures = max(state.failures, row.attempts)
            at = mono + (row.next_attempt_at - now)
            state.retry_at = at if state.retry_at is None else min(state.retry_at, at)
    return box
