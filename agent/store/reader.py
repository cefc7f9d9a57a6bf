"""The running agent's reads of its store: at start, and the few later ones (what a
series learned, a check's memory, a heartbeat's pings). They never raise: a store that
cannot be read gives the agent nothing, logged, and it runs on what it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import StateError
from agent.heartbeats import PINGS_KEPT, Ping
from agent.model import AlertKey
from agent.store.db import Store

log = logging.getLogger("watchkeeper.agent")

_T = TypeVar("_T")


class StateReader:
    """Reads of ``store`` (None: there is nothing to read)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store

    @classmethod
    def open(cls, state_dir: Path) -> tuple[StateReader, str | None]:
        """The reader of ``state_dir``'s store, and why the store cannot be written there
        (None: it can). One that cannot be opened to write is read as it is, if it can
        be: the agent runs on what it holds and the writer keeps trying."""
        try:
            return cls(Store.open(state_dir, busy_timeout=1.0)), None
        except StateError as exc:
            fault = str(exc)
        log.error("%s; running on what can be read and holding every change in memory",
                  fault)
        try:
            return cls(Store.open_readonly(state_dir)), fault
        except StateError as exc:
            log.error("cannot read the state either (%s): starting with an empty state", exc)
            return cls(None), fault

    def read(self, read: Callable[[Store], _T], default: _T) -> _T:
        """What ``read`` finds in the store; ``default`` when there is none or it fails."""
        if self.store is None:
            return default
        try:
            return read(self.store)
        except StateError as exc:
            log.error("reading the state failed: %s", exc)
            return default

    def load_learned(self, key: AlertKey) -> bytes | None:
        """What series ``key`` learned when last saved (None: nothing, or unreadable)."""
        return self.read(lambda store: store.load_learned(key), None)

    def load_memory(self, check: str) -> dict[str, Any]:
        """A check's memory as saved (empty when none was, or it cannot be read)."""
        return self.read(lambda store: store.load_memory(check), {})

    def heartbeat_pings(self, name: str, limit: int = PINGS_KEPT) -> list[Ping]:
        """A heartbeat's pings as saved (none when they cannot be read)."""
        return self.read(lambda store: store.heartbeat_pings(name, limit), [])

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
