"""Which connections the listener keeps: a deadline for each phase of a connection, and who
goes when a client (or the whole listener) is at its bound.

Pure logic: times are the event loop's monotonic seconds, passed in. A new connection is
never refused while an older one is only waiting: the oldest waiting connection of the
same client goes first (one that was already answered, then an idle or half-sent one, then
one sending a body), so a flood of idle or slow connections cannot lock out a client that
sends a whole request at once. Only connections whose request is being answered are kept
whatever comes; when all of them are, the new one is refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from enum import Enum


class Phase(Enum):
    """Where a connection is in its life."""

    #: Open, its request's headers not complete yet (nothing sent, or part of it).
    WAITING = "waiting"
    #: Headers accepted (the token was right): the body is being read.
    BODY = "body"
    #: The request is being answered (the answer written until the client took it).
    HANDLING = "handling"
    #: Kept alive between two requests.
    IDLE = "idle"
    #: Answered and closing: what the client still sends is read and dropped.
    CLOSING = "closing"


#: Who goes first when room is needed; a phase missing here is never dropped.
_EVICTION_RANK = {Phase.CLOSING: 0, Phase.IDLE: 1, Phase.WAITING: 1, Phase.BODY: 2}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long each phase may last and how many connections are kept."""

    #: From the first byte of a request (or the connection's start) to its last byte.
    request_timeout: float = 5.0
    #: A kept-alive connection with no new request is closed after this long.
    idle_timeout: float = 5.0
    #: Answering, including the time the client takes to read the answer.
    answer_timeout: float = 30.0
    #: After answering, input is read and dropped for this long so the client sees the
    #: answer (closing with unread input would reset the connection under it).
    linger: float = 1.0
    #: Connections of one client (an IPv4 address, an IPv6 /64).
    per_client: int = 128
    #: Connections of all clients together.
    total: int = 1024

    def deadline(self, phase: Phase, since: float) -> float:
        """When a connection in ``phase`` since ``since`` is closed."""
        return since + {
            Phase.WAITING: self.request_timeout, Phase.BODY: self.request_timeout,
            Phase.HANDLING: self.answer_timeout, Phase.IDLE: self.idle_timeout,
            Phase.CLOSING: self.linger,
        }[phase]

    def within_open_files(self, open_files: int) -> ConnectionLimits:
        """These limits, shrunk to leave half of ``open_files`` descriptors to the rest of
        the agent (its checks, the store, the HTTP client's pool)."""
        total = max(8, min(self.total, open_files // 2))
        return replace(self, total=total, per_client=min(self.per_client, total))


def open_files_target(soft: int, hard: int, wanted: int) -> int:
    """The soft RLIMIT_NOFILE to ask for: ``wanted`` if the hard limit allows it, else the
    hard limit; never lower than ``soft``. ``hard`` < 0 is RLIM_INFINITY.

    Not simply the hard limit: children (command checks, the notification sender) inherit
    it, and some programs loop over every descriptor up to it.
    """
    ceiling = wanted if hard < 0 else min(hard, wanted)
    return max(soft, ceiling)


def client_key(host: str) -> str:
    """The client a peer address counts against: the IPv4 address (also when mapped into
    IPv6), an IPv6 /64 (one host usually holds a whole /64), or the text as given."""
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Admission:
    """What to do with a new connection: keep it or not, and whom to drop for it."""

    admitted: bool
    evict: tuple[int, ...] = ()


@dataclass(slots=True)
class _Entry:
    client: str
    phase: Phase
    since: float


@dataclass
class ConnectionTable:
    """The listener's open connections by id, their client and phase."""

    limits: ConnectionLimits
    _entries: dict[int, _Entry] = field(default_factory=dict)
    _by_client: dict[str, set[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, client: str) -> int:
        """How many connections ``client`` holds."""
        return len(self._by_client.get(client, ()))

    def phase(self, conn: int) -> Phase | None:
        """The phase of ``conn`` (None once it is gone)."""
        entry = self._entries.get(conn)
        return entry.phase if entry is not None else None

    def open(self, conn: int, client: str, now: float) -> Admission:
        """Take a new connection in (``WAITING`` from ``now``), making room for it by
        dropping the oldest waiting ones; the dropped ones are gone from the table."""
        evict: list[int] = []
        if self.count(client) >= self.limits.per_client:
            victim = self._oldest(self._by_client[client])
            if victim is None:
                return Admission(False)
            evict.append(victim)
            self.close(victim)
        if len(self._entries) >= self.limits.total:
            victim = self._oldest(self._entries)
            if victim is None:
                return Admission(False, tuple(evict))
            evict.append(victim)
            self.close(victim)
        self._entries[conn] = _Entry(client, Phase.WAITING, now)
        self._by_client.setdefault(client, set()).add(conn)
        return Admission(True, tuple(evict))

    def move(self, conn: int, phase: Phase, now: float) -> None:
        """``conn`` enters ``phase`` at ``now`` (nothing if it is gone)."""
        entry = self._entries.get(conn)
        if entry is not None:
            entry.phase, entry.since = phase, now

    def close(self, conn: int) -> None:
        """Forget ``conn`` (idempotent)."""
        entry = self._entries.pop(conn, None)
        if entry is not None:
            ids = self._by_client[entry.client]
            ids.discard(conn)
            if not ids:
                del self._by_client[entry.client]

    def make_room(self) -> int | None:
        """Drop the oldest waiting connection of all (when the process runs out of file
        descriptors); its id, or None when every connection is being answered."""
        victim = self._oldest(self._entries)
        if victim is not None:
            self.close(victim)
        return victim

    def _oldest(self, ids: set[int] | dict[int, _Entry]) -> int | None:
        best: tuple[int, float, int] | None = None
        for conn in ids:
            entry = self._entries[conn]
            rank = _EVICTION_RANK.get(entry.phase)
            if rank is not None and (best is None or (rank, entry.since, conn) < best):
                best = (rank, entry.since, conn)
        return best[2] if best is not None else None
