"""One connection of the agent's listener: bytes in through h11, answers out, and the phase
the connection table (``agent.listener_policy``) knows it by.

The token is checked as soon as the request line and headers are in, before any body is
read (the routes say which paths need it): a request without it gets 401 at once, one
announcing a body too large 413, and the connection closes. Each phase has a deadline (a
request must be complete within ``request_timeout``, a kept-alive connection is dropped
after ``idle_timeout``); while the request is answered, reading is paused, so a pipelining
client buffers nothing here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

import h11

from agent.http_wire import (
    MAX_HEADER_BYTES,
    HttpError,
    Request,
    RequestHead,
    Response,
    check_body,
    protocol_error,
    request_head,
)
from agent.listener_policy import ConnectionLimits, ConnectionTable, Phase, client_key

log = logging.getLogger("watchkeeper.http")

#: What a closing connection may still send (and have dropped) before it is cut off.
_LINGER_BYTES = 1024 * 1024
#: How often the listener says it is dropping connections to make room (seconds).
_WARN_EVERY = 60.0


class Responder(Protocol):
    """The routes: who may ask, and the answer to a whole request."""

    def authorized(self, headers: Mapping[str, str], path: str) -> bool: ...

    def respond(self, request: Request) -> Awaitable[Response]: ...


@dataclass
class Hub:
    """What the connections of one listener share."""

    responder: Responder
    limits: ConnectionLimits
    table: ConnectionTable = field(init=False)
    live: dict[int, HttpConnection] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _warned_at: float | None = None

    def __post_init__(self) -> None:
        self.table = ConnectionTable(self.limits)

    def next_id(self) -> int:
        return next(self._ids)

    def evict(self, ids: tuple[int, ...], now: float, why: str) -> None:
        """Close connections the table dropped, saying so now and then."""
        for conn in ids:
            victim = self.live.get(conn)
            if victim is not None:
                victim.drop()
        if ids and (self._warned_at is None or now - self._warned_at >= _WARN_EVERY):
            self._warned_at = now
            log.warning("listener: %s; dropping the oldest idle connections", why)


class HttpConnection(asyncio.Protocol):
    """The protocol of one accepted connection."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.id = hub.next_id()
        self._loop = asyncio.get_running_loop()
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._transport: asyncio.Transport | None = None
        self._phase = Phase.WAITING
        self._timer: asyncio.TimerHandle | None = None
        self._started = False  # a byte of the current request has come in
        self._head: RequestHead | None = None
        self._body = bytearray()
        self._dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    # -- asyncio's callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        client = client_key(str(peer[0])) if isinstance(peer, tuple) and peer else "?"
        now = self._loop.time()
        hub = self.hub
        admission = hub.table.open(self.id, client, now)
        if admission.evict:
            limits = hub.limits
            why = (f"{client} holds {limits.per_client} connections, the most one client may"
                   if hub.table.count(client) >= limits.per_client else
                   f"{limits.total} connections are open, the most the listener keeps")
            hub.evict(admission.evict, now, why)
        if not admission.admitted:
            busy = Response.text(HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
            self._write_events(busy.events(close=True))
            transport.close()
            return
        hub.live[self.id] = self
        self._enter(Phase.WAITING, now)

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.CLOSING:
            self._dropped += len(data)
            if self._dropped > _LINGER_BYTES:
                self._abort()
            return
        if self._phase is Phase.IDLE:
            self._enter(Phase.WAITING)
        self._started = True
        self._h11.receive_data(data)
        self._advance()

    def eof_received(self) -> bool:
        if self._phase is Phase.CLOSING:
            return False  # the client is done too: close
        self._h11.receive_data(b"")
        self._advance()
        # Open for the answer still to come; once answered, the transport closes itself.
        return not self._closing()

    def _closing(self) -> bool:
        return self._phase is Phase.CLOSING

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.hub.table.close(self.id)
        self.hub.live.pop(self.id, None)
        self._writable.set()
        self._transport = None

    # -- the request -----------------------------------------------------------------------

    def _advance(self) -> None:
        """Act on every event h11 has for us, until it needs more input."""
        while self._transport is not None and self._phase in (Phase.WAITING, Phase.BODY):
            try:
                event = self._h11.next_event()
                if isinstance(event, h11.Request):
                    self._head = request_head(event)
                    if not self.hub.responder.authorized(self._head.headers,
                                                       self._head.path):
                        raise HttpError(HTTPStatus.UNAUTHORIZED, "a bearer token is required",
                                        ("WWW-Authenticate", "Bearer"))
                    check_body(self._head)
                    if self._h11.they_are_waiting_for_100_continue:
                        self._write_events([h11.InformationalResponse(
                            status_code=100, headers=[], reason=b"Continue")])
                    if self._head.length:
                        self._enter(Phase.BODY)
                elif isinstance(event, h11.Data):
                    self._body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert self._head is not None
                    self._answer(self._head.with_body(bytes(self._body)))
                elif isinstance(event, h11.ConnectionClosed):
                    self._close()
                    return
                else:  # NEED_DATA (PAUSED cannot come before we answer)
                    return
            except h11.RemoteProtocolError as exc:
                self._refuse(protocol_error(exc).response)
            except HttpError as exc:
                self._refuse(exc.response)

    def _answer(self, request: Request) -> None:
        assert self._transport is not None
        self._enter(Phase.HANDLING)
        self._transport.pause_reading()
        self._task = self._loop.create_task(self._respond(request))

    async def _respond(self, request: Request) -> None:
        try:
            response = await self.hub.responder.respond(request)
        except Exception:  # one bad request must never take the listener down
            log.exception("HTTP request handling failed")
            response = Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n")
        if self._transport is None:
            return  # the client left (or was dropped) meanwhile
        if not self._write_events(response.events(head=request.method == "HEAD")):
            return
        await self._writable.wait()
        if self._transport is None:
            return
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            pipelined, _ = self._h11.trailing_data  # a request that came in behind this one
            self._head, self._body, self._started = None, bytearray(), bool(pipelined)
            self._enter(Phase.WAITING if pipelined else Phase.IDLE)
            self._transport.resume_reading()
            self._advance()
        else:
            self._linger()

    def _refuse(self, response: Response) -> None:
        """Answer with an error before the request is read through, then close."""
        self._write_events(response.events(close=True))
        self._linger()

    # -- deadlines and closing -------------------------------------------------------------

    def _enter(self, phase: Phase, now: float | None = None) -> None:
        now = self._loop.time() if now is None else now
        self._phase = phase
        self.hub.table.move(self.id, phase, now)
        self._cancel_timer()
        self._timer = self._loop.call_at(self.hub.limits.deadline(phase, now), self._expired)

    def _expired(self) -> None:
        self._timer = None
        if self._phase is Phase.BODY or (self._phase is Phase.WAITING and self._started):
            self._refuse(Response.text(HTTPStatus.REQUEST_TIMEOUT, "request timed out\n"))
        elif self._phase is Phase.HANDLING:
            self._abort()  # stuck answering, or a client that does not read its answer
        else:
            self._close()

    def _linger(self) -> None:
        """Close our side now, read and drop the client's rest for a moment, then close."""
        transport = self._transport
        if transport is None:
            return
        self._enter(Phase.CLOSING)
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()

    def drop(self) -> None:
        """Leave at once (the listener needs the room): a kept-alive or answered connection
        closes cleanly, one with a request under way is reset."""
        if self._phase in (Phase.IDLE, Phase.CLOSING):
            self._close()
        else:
            self._abort()

    def _close(self) -> None:
        self._cancel_timer()
        if self._transport is not None:
            if self._transport.get_write_buffer_size():
                self._transport.abort()  # a client that reads nothing must not hold us
            else:
                self._transport.close()

    def _abort(self) -> None:
        self._cancel_timer()
        if self._transport is not None:
            self._transport.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write_events(self, events: list[h11.Event]) -> bool:
        """Send ``events``; False (and the connection reset) when h11 says they do not fit
        the conversation."""
        transport = self._transport
        if transport is None:
            return False
        try:
            data = b"".join(self._h11.send(e) or b"" for e in events)
        except h11.LocalProtocolError:
            self._abort()
            return False
        transport.write(data)
        return True

