"""Where the status page's figures come from: a snapshot of the states and incidents (the
running agent's memory, or the saved state), and the checks' history."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from agent.alerting.state import AlertState
from agent.incidents.record import Incident

if TYPE_CHECKING:
    from agent.config.models import Config
    from agent.latest import LatestRun
    from agent.model import AlertKey
    from agent.store import Store

#: Incidents resolved longer ago than this are not read (the page lists 30 days of them).
INCIDENTS_READ = 31 * 86400.0


class HistorySource(Protocol):
    """A check's past, as kept by the store's history."""

    def uptime(self, check: str, since: float, until: float) -> float | None:
        """Fraction (0..1) of the time in [since, until) the check was up; None: no data."""
        ...

    def daily_up(self, check: str, days: int, until: float,
                 tz: datetime.tzinfo) -> list[float | None]:
        """Per local calendar day, oldest first, the last ``days`` days up to ``until``:
        fraction up, None where no data."""
        ...

    def response_ms(self, check: str, since: float, until: float,
                    points: int) -> list[float | None]:
        """The check's response time in ms, averaged into ``points`` equal buckets over
        [since, until)."""
        ...


class NoHistory:
    """A history that holds nothing: every figure is "no data"."""

    def uptime(self, check: str, since: float, until: float) -> float | None:
        return None

    def daily_up(self, check: str, days: int, until: float,
                 tz: datetime.tzinfo) -> list[float | None]:
        return [None] * days

    def response_ms(self, check: str, since: float, until: float,
                    points: int) -> list[float | None]:
        return [None] * points


def history_source(store: Store | None) -> HistorySource:
    """The history the status page reads, in the running agent and in the CLI alike: the
    one place that knows which part of the store keeps it. ``store`` is None when there
    is no state yet."""
    return NoHistory() if store is None else StoreHistory(store)


class StoreHistory:
    """The store's history (``agent.history.queries.HistoryQueries``), each read under the store's
    lock; a database error is a StateError."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def uptime(self, check: str, since: float, until: float) -> float | None:
        from agent.history.queries import HistoryQueries

        return self.store.query(lambda conn: HistoryQueries(conn).uptime(check, since, until))

    def daily_up(self, check: str, days: int, until: float,
                 tz: datetime.tzinfo) -> list[float | None]:
        from agent.history.queries import HistoryQueries

        return self.store.query(
            lambda conn: HistoryQueries(conn).daily_up(check, days, until, tz))

    def response_ms(self, check: str, since: float, until: float,
                    points: int) -> list[float | None]:
        from agent.history.queries import HistoryQueries

        return self.store.query(
            lambda conn: HistoryQueries(conn).response_ms(check, since, until, points))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the page is made of besides the history, taken at one moment."""

    #: The public checks' names, in the order shown.
    public: tuple[str, ...]
    #: Every other configured check's name: never shown.
    private: tuple[str, ...]
    host: str
    states: tuple[AlertState, ...]
    #: Open incidents and recently resolved ones (of any check: filtered when built).
    incidents: tuple[Incident, ...]
    #: The checks known to have run (the running agent's latest runs); None when that is
    #: not known (the saved state): then a check with a state or an uptime has.
    ran: frozenset[str] | None = None


def public_checks(config: Config) -> list[str]:
    """The names of the checks the status page shows (``public: true``, enabled), in the
    config's order."""
    return [c.name for c in config.checks if c.public and c.enabled]


def live_snapshot(config: Config, states: Mapping[AlertKey, AlertState],
                  incidents: Iterable[Incident], latest: Iterable[LatestRun]) -> Snapshot:
    """The running agent's snapshot, from what it holds in memory (taken on its event
    loop: the copies are what a thread may then read)."""
    public = public_checks(config)
    return Snapshot(public=tuple(public),
                    private=tuple(c.name for c in config.checks if c.name not in public),
                    host=config.agent.host, states=tuple(states.values()),
                    incidents=tuple(incidents), ran=frozenset(r.check for r in latest))


def stored_snapshot(config: Config, store: Store | None, now: float) -> Snapshot:
    """The snapshot of the saved state (``store`` opened read-only; None: no state yet)."""
    public = public_checks(config)
    states: tuple[AlertState, ...] = ()
    incidents: tuple[Incident, ...] = ()
    if store is not None:
        states = tuple(store.load_states().values())
        recent = store.incidents(since=now - INCIDENTS_READ)
        incidents = (*store.open_incidents(), *recent)
    return Snapshot(public=tuple(public),
                    private=tuple(c.name for c in config.checks if c.name not in public),
                    host=config.agent.host, states=states, incidents=incidents)
