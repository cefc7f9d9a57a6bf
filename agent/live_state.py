"""What the running agent holds in memory beside its alert states: silences, heartbeat
pings, and a view of the outbox for ``status``.

The agent reads these, never the database, while it runs, so a database that cannot be
written (or read) changes nothing of what it decides; every change is also handed to the
store writer.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from agent.alerting.silences import SILENCE_KEPT, Silence
from agent.alerting.state import AlertState, Phase
from agent.clock import Clock
from agent.errors import StateError
from agent.heartbeats import PINGS_KEPT, Ping, PingLog
from agent.model import AlertKey
from agent.notify.outbox import Outbox
from agent.store import OutboxRow, writes
from agent.store.writes import WriteSink

log = logging.getLogger("watchkeeper.agent")


class SilenceBook:
    """The silences of this agent's host, by id; ids are never reused."""

    def __init__(self, silences: Sequence[Silence], host: str, last_id: int = 0) -> None:
        self.host = host
        self._silences = {s.id: s for s in silences}
        self._next_id = max([last_id, *self._silences]) + 1

    def active(self, now: float) -> list[Silence]:
        """The silences holding at ``now``, by id."""
        return [s for _, s in sorted(self._silences.items()) if s.active(now)]

    def add(self, check_glob: str, metric: str | None, *, starts_at: float, ends_at: float,
            reason: str, created_at: float) -> Silence:
        """A new silence with the next id."""
        silence = Silence(id=self._next_id, check_glob=check_glob, metric=metric,
                          starts_at=starts_at, ends_at=ends_at, reason=reason,
                          created_at=created_at, host=self.host)
        self._next_id += 1
        self._silences[silence.id] = silence
        return silence

    def remove(self, silence_id: int) -> bool:
        """End a silence now; False when there is none with that id."""
        return self._silences.pop(silence_id, None) is not None

    def expire(self, now: float, kept: float = SILENCE_KEPT) -> int:
        """Forget the silences that ended more than ``kept`` seconds ago; how many."""
        old = [i for i, s in self._silences.items() if s.ends_at < now - kept]
        for i in old:
            del self._silences[i]
        return len(old)

    def all(self) -> list[Silence]:
        """Every silence kept, by id."""
        return [s for _, s in sorted(self._silences.items())]


class PingBook:
    """Heartbeat pings: read from the store once per heartbeat, then kept here; each new
    ping is kept and handed to the writer (``agent.heartbeats.PingLog`` and the
    listener's ``PingSink``)."""

    def __init__(self, stored: PingLog | None, sink: WriteSink, keep: int = PINGS_KEPT) -> None:
        self._stored = stored
        self._sink = sink
        self.keep = keep
        self._pings: dict[str, deque[Ping]] = {}

    def preload(self, names: Iterable[str]) -> None:
        """Read these heartbeats' pings now (at start), so no later read waits on the
        database inside the event loop."""
        for name in names:
            self._load(name)

    def heartbeat_pings(self, name: str, limit: int = PINGS_KEPT) -> list[Ping]:
        pings = self._load(name)
        return list(pings)[-limit:] if limit < len(pings) else list(pings)

    def record_ping(self, name: str, ping: Ping) -> None:
        self._load(name).append(ping)
        self._sink.submit(writes.ping(name, ping, self.keep))

    def _load(self, name: str) -> deque[Ping]:
        found = self._pings.get(name)
        if found is None:
            stored: list[Ping] = []
            if self._stored is not None:
                try:
                    stored = self._stored.heartbeat_pings(name, self.keep)
                except StateError as exc:
                    log.warning("reading the pings of heartbeat %s failed: %s", name, exc)
            found = self._pings[name] = deque(stored, maxlen=self.keep)
        return found


class LiveQueue:
    """The outbox and silences as ``status`` reads them (``agent.reports.QueueSource``)."""

    def __init__(self, outbox: Outbox, silences: SilenceBook, clock: Clock,
                 dead_before: Callable[[], int]) -> None:
        self.outbox = outbox
        self.silence_book = silences
        self.clock = clock
        self._dead_before = dead_before

    def pending(self, limit: int = 1000) -> list[OutboxRow]:
        return self.outbox.pending(self.clock.now(), self.clock.monotonic())[:limit]

    def pending_count(self) -> int:
        return len(self.outbox)

    def dead_count(self) -> int:
        return self._dead_before() + self.outbox.dead_since_start

    def silences(self, active_at: float | None = None, *, host: str) -> list[Silence]:
        if active_at is None:
            return self.silence_book.all()
        return self.silence_book.active(active_at)


class ListenerView:
    """What the HTTP listener reads and writes of the agent: pings in, counts out."""

    def __init__(self, pings: PingBook, queue: LiveQueue,
                 states: Mapping[AlertKey, AlertState]) -> None:
        self._pings = pings
        self._queue = queue
        self._states = states

    def record_ping(self, name: str, ping: Ping) -> None:
        self._pings.record_ping(name, ping)

    def open_alerts(self) -> list[AlertState]:
        return [s for s in self._states.values() if s.phase in (Phase.PENDING, Phase.FIRING)]

    def pending_count(self) -> int:
        return self._queue.pending_count()
