"""The status page of the running agent, as the listener serves it (``/status``,
``/status.json``).

The page is public (no token), so anyone may ask for it as often as they like: it is
built at most once per ``max_age`` seconds and every request meanwhile gets that copy;
requests that come while it is being built wait for the same build. The snapshot of the
agent's memory is taken on the event loop, the history read and the page rendered in a
thread.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from agent.clock import Clock
from agent.status_page.defaults import CSP, DEFAULT_TITLE
from agent.status_page.sources import HistorySource, Snapshot

log = logging.getLogger("watchkeeper.http")

#: How long a built page is served before it is built again (seconds).
MAX_AGE = 10.0
#: The answer's headers: the page may load and run nothing but its inline style (its
#: ``<meta>`` says the same, for the static copy, but cannot forbid framing).
HEADERS = (("Content-Security-Policy", f"{CSP}; frame-ancestors 'none'"),
           ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
           ("Cache-Control", f"max-age={MAX_AGE:.0f}"))


@dataclass(frozen=True, slots=True)
class Rendered:
    """One build of the page: None when no check is public (the page is then 404)."""

    html: bytes | None
    json: bytes | None


class LivePage:
    """Builds and keeps the page; ``current()`` is what a request gets."""

    def __init__(self, snapshot: Callable[[], Snapshot], history: HistorySource, clock: Clock,
                 *, title: str = DEFAULT_TITLE, tz: datetime.tzinfo = datetime.UTC,
                 max_age: float = MAX_AGE) -> None:
        self._snapshot = snapshot
        self._history = history
        self._clock = clock
        self.title = title
        self.tz = tz
        self.max_age = max_age
        self._kept: Rendered | None = None
        self._kept_at = 0.0
        self._building: asyncio.Future[Rendered] | None = None

    async def current(self) -> Rendered:
        """The page as built at most ``max_age`` ago; raises what building raised
        (a store that cannot be read: WatchkeeperError)."""
        mono = self._clock.monotonic()
        if self._kept is not None and mono - self._kept_at < self.max_age:
            return self._kept
        if self._building is None:
            snapshot, now = self._snapshot(), self._clock.now()
            self._building = asyncio.ensure_future(asyncio.to_thread(self._render, snapshot, now))
            self._building.add_done_callback(self._built)
        # Shielded: a client that leaves does not cancel the build the others wait for.
        return await asyncio.shield(self._building)

    def _built(self, done: asyncio.Future[Rendered]) -> None:
        self._building = None
        if not done.cancelled() and done.exception() is None:
            self._kept, self._kept_at = done.result(), self._clock.monotonic()

    def _render(self, snapshot: Snapshot, now: float) -> Rendered:
        if not snapshot.public:
            return Rendered(None, None)
        # Here, in the thread: an agent whose page nobody asks for never loads these.
        from agent.status_page.build import build_page
        from agent.status_page.render import render_html, render_json

        page = build_page(snapshot, self._history, now, title=self.title, tz=self.tz)
        return Rendered(render_html(page).encode(), render_json(page).encode())
