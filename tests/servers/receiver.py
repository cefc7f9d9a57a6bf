"""The scripted HTTP server on a thread of its own: a notification receiver for code that
does not run on the test's event loop (the agent as a subprocess, Apprise's child process).

It records every request (method, path, headers, body) with the reply it got. By default it
answers ``200``; ``answer()`` scripts the next replies (a status, a delay, a dropped
connection), so a flapping receiver is a list of replies. ``stop()`` and ``start()`` keep
the port, so a receiver that is down for a while is one too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tests.servers.http_server import HttpTestServer, Reply, Request, Route

OK = Reply(200, b"", content_type=None)


@dataclass(frozen=True)
class Exchange:
    """One request and the reply it was given."""

    request: Request
    reply: Reply

    @property
    def accepted(self) -> bool:
        """The sender was told the message arrived (a 2xx answer, actually sent)."""
        r = self.reply
        return 200 <= r.status < 300 and not (r.drop or r.hang or r.reset_after is not None
                                              or r.close_after is not None
                                              or r.stall_after is not None)

    def json(self) -> Any:
        """The body as JSON (what Apprise's ``json://`` posts)."""
        return json.loads(self.request.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests; usable from synchronous code.

    ``routes`` map a path to a reply for requests that no scripted reply claims; any other
    path gets ``default``.
    """

    def __init__(self, port: int = 0, routes: dict[str, Route] | None = None,
                 default: Route = OK) -> None:
        self.port = port
        self.routes = dict(routes or {})
        self.default = default
        self._script: deque[Route] = deque()
        self._exchanges: list[Exchange] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: HttpTestServer | None = None

    # -- running -------------------------------------------------------------------------

    def start(self) -> Receiver:
        """Listen (again) on the same port; returns self."""
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="receiver", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        self._server = self._run(self._listen())
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Close the port and every open connection; the recorded requests are kept."""
        if self._loop is None or self._thread is None:
            return
        if self._server is not None:
            self._run(self._server.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _listen(self) -> HttpTestServer:
        return await HttpTestServer(port=self.port, default=self._decide, record=False).start()

    def _run(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(15)

    def _decide(self, request: Request) -> Reply:
        with self._changed:
            route = self._script.popleft() if self._script else \
                self.routes.get(request.path, self.default)
            reply = route(request) if callable(route) else route
            self._exchanges.append(Exchange(request, reply))
            self._changed.notify_all()
        return reply

    # -- telling it what to do -----------------------------------------------------------

    def answer(self, *replies: Route) -> None:
        """Give the next requests these replies, in order; then answer as before."""
        with self._changed:
            self._script.extend(replies)

    def url(self, path: str = "hook", auth: str = "", scheme: str = "json") -> str:
        """The URL of ``path`` here (``""``: none, not even ``/``); ``auth`` is
        ``user:password@``. Apprise's ``json://`` posts over plain HTTP; ``scheme="http"``
        gives the URL for any other client."""
        origin = f"{scheme}://{auth}127.0.0.1:{self.port}"
        return f"{origin}/{path.lstrip('/')}" if path else origin

    # -- what arrived --------------------------------------------------------------------

    def exchanges(self) -> list[Exchange]:
        """Every request so far, with its reply."""
        with self._changed:
            return list(self._exchanges)

    def requests(self) -> list[Request]:
        """Every request so far, accepted or not."""
        return [x.request for x in self.exchanges()]

    def messages(self) -> list[Any]:
        """The JSON bodies of the requests that were accepted: what was delivered."""
        return [x.json() for x in self.exchanges() if x.accepted]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Any]:
        """Wait until at least ``count`` messages were delivered; return them all."""
        self._wait(lambda: sum(x.accepted for x in self._exchanges) >= count, timeout,
                   f"{count} delivered messages")
        return self.messages()

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> list[Request]:
        """Wait until at least ``count`` requests arrived, whatever they were answered."""
        self._wait(lambda: len(self._exchanges) >= count, timeout, f"{count} requests")
        return self.requests()

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(x.request.method, x.request.path, x.reply.status, x.request.body)
                           for x in self._exchanges]
                    raise AssertionError(f"expected {what} within {timeout}s, got {got!r}")
                self._changed.wait(left)
