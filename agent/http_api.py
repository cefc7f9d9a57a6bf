"""The agent's small local HTTP listener: ``/healthz``, ``/metrics``, heartbeat pings and
the status page.

``GET|POST /ping/NAME`` (success), ``/ping/NAME/start``, ``/ping/NAME/fail`` and
``/ping/NAME/<exit code>`` store a ping of heartbeat check NAME (200 "OK"; 404 for a name
no heartbeat check has). ``GET /healthz`` answers a small JSON document without secrets;
``GET /metrics`` the agent's metrics in the Prometheus text format (``agent.agent_metrics``).
``GET /status`` (and ``/status.json``) the status page of the checks marked ``public: true``
(``agent.status_page``); 404 when none is.

This module holds the routes; HTTP itself is h11's, driven by ``agent.listener_connection``
(the token checked from the headers, before any body), with deadlines and bounds on
connections from ``agent.listener_policy`` and the sockets in ``agent.listener_server``.
Garbage gets a 400, not a traceback. When ``agent.token`` is set every request needs
``Authorization: Bearer <token>`` (the config requires one whenever the address is not
loopback), except the status page: it is meant for anyone.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from agent.ack_links import PATH_PREFIX
from agent.check import Capability
from agent.clock import Clock
from agent.errors import WatchkeeperError
from agent.heartbeats import Ping, PingKind
from agent.http_wire import Request, Response
from agent.listen_address import ListenAddress, parse_listen
from agent.listener_policy import ConnectionLimits
from agent.listener_server import Listener
from agent.listener_server import start_listener as _start
from agent.live_checks import checks_needing
from agent.prometheus import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from agent.ack_page import AckEndpoint
    from agent.config.models import Config
    from agent.status_page.live import Rendered

log = logging.getLogger("watchkeeper.http")

#: How long a request may take to arrive whole (a kept-alive connection idles as long).
REQUEST_TIMEOUT = 5.0

__all__ = ["Health", "HttpApi", "Listener", "serve_agent", "start_listener"]

# -- the handlers --------------------------------------------------------------------------

class PingSink(Protocol):
    """Where pings are stored (the agent's store)."""

    def record_ping(self, name: str, ping: Ping) -> None: ...


class AgentView(PingSink, Protocol):
    """What the listener reads of a running agent besides taking its pings."""

    def open_alerts(self) -> Sequence[object]: ...

    def pending_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Health:
    """What ``/healthz`` tells: no names, no URLs, no secrets."""

    status: str
    checks: int
    open_alerts: int
    queued_notifications: int
    #: What is wrong with the agent itself (a failed reload, an unwritable store): the
    #: answer is then 503, so a load balancer or a monitor of the monitor notices.
    problems: tuple[str, ...] = ()


_ACTIONS = {"start": PingKind.START, "fail": PingKind.FAIL}

#: Renders the ``/metrics`` page (store reads inside it run in a thread).
MetricsPage = Callable[[], Awaitable[str]]


class StatusPages(Protocol):
    """The status page (``agent.status_page.live.LivePage``)."""

    async def current(self) -> Rendered: ...


#: The status page's paths: served to anyone, token or not.
STATUS_PATHS = frozenset({"/status", "/status/", "/status.json"})


class HttpApi:
    """Routes requests: ``authorized`` is asked with the headers, before any body is read;
    ``respond`` answers the whole request. ``timeout`` bounds how long a request may take
    to arrive."""

    def __init__(self, *, heartbeats: Collection[str], sink: PingSink,
                 health: Callable[[], Health], clock: Clock, token: str | None = None,
                 timeout: float = REQUEST_TIMEOUT,
                 on_ping: Callable[[str], object] | None = None,
                 metrics: MetricsPage | None = None, acks: AckEndpoint | None = None,
                 status: StatusPages | None = None) -> None:
        self.heartbeats = frozenset(heartbeats)
        #: Answers acknowledgement links (None: ``agent.public_url`` is not set).
        self.acks = acks
        #: Called with the heartbeat's name after a ping is stored (the agent re-runs
        #: that check at once, so a failure is announced without waiting for its turn).
        self.on_ping = on_ping
        self.sink = sink
        self.health = health
        #: Without it ``/metrics`` is 404 (a listener standing in for a stopped agent).
        self.metrics = metrics
        #: Without it ``/status`` is 404 and needs the token like any other path.
        self.status = status
        self.clock = clock
        self._token = token.encode() if token else None
        self.timeout = timeout

    async def respond(self, request: Request) -> Response:
        """The answer to one request."""
        path = request.path
        if self.acks is not None and path.startswith(PATH_PREFIX):
            return self.acks.answer(request)
        if not self.authorized(request.headers, path):
            return Response.text(HTTPStatus.UNAUTHORIZED, "a bearer token is required\n",
                                 ("WWW-Authenticate", "Bearer"))
        if path == "/healthz":
            if request.method not in ("GET", "HEAD"):
                return _not_allowed("GET, HEAD")
            health = await asyncio.to_thread(self.health)
            body: dict[str, object] = {
                "status": health.status, "checks": health.checks,
                "open_alerts": health.open_alerts,
                "queued_notifications": health.queued_notifications}
            if health.problems:
                body["problems"] = list(health.problems)
            code = HTTPStatus.SERVICE_UNAVAILABLE if health.problems else HTTPStatus.OK
            return Response.json(code, body)
        if path == "/metrics" and self.metrics is not None:
            if request.method not in ("GET", "HEAD"):
                return _not_allowed("GET, HEAD")
            return await self._metrics(self.metrics)
        if path in STATUS_PATHS and self.status is not None:
            if request.method not in ("GET", "HEAD"):
                return _not_allowed("GET, HEAD")
            return await self._status(self.status, as_json=path.endswith(".json"))
        if path == "/ping" or path.startswith("/ping/"):
            if request.method not in ("GET", "POST"):
                return _not_allowed("GET, POST")
            return await self._ping(path.removeprefix("/ping").strip("/"))
        return Response.text(HTTPStatus.NOT_FOUND, "not found\n")

    def authorized(self, headers: Mapping[str, str], path: str = "") -> bool:
        """Whether a request for ``path`` with these headers may be answered (always
        without a token; the status page and acknowledgement links, which carry their own
        signature, always)."""
        if self._token is None or (path in STATUS_PATHS and self.status is not None) or \
                (self.acks is not None and path.startswith(PATH_PREFIX)):
            return True
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode("latin-1"), self._token)

    @staticmethod
    async def _metrics(page: MetricsPage) -> Response:
        try:
            text = await page()
        except WatchkeeperError as exc:
            log.error("cannot serve /metrics: %s", exc)
            return Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, "cannot read the state\n")
        return Response(HTTPStatus.OK, text.encode(), METRICS_CONTENT_TYPE)

    @staticmethod
    async def _status(pages: StatusPages, *, as_json: bool) -> Response:
        from agent.status_page.live import HEADERS

        try:
            page = await pages.current()
        except WatchkeeperError as exc:
            log.error("cannot serve the status page: %s", exc)
            return Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, "cannot read the state\n")
        body = page.json if as_json else page.html
        if body is None:
            return Response.text(HTTPStatus.NOT_FOUND, "no check is public (public: true)\n")
        kind = "application/json" if as_json else "text/html; charset=utf-8"
        return Response(HTTPStatus.OK, body, kind, HEADERS)

    async def _ping(self, rest: str) -> Response:
        try:
            parts = [unquote(p, errors="strict") for p in rest.split("/")] if rest else []
        except UnicodeDecodeError:
            return Response.text(HTTPStatus.BAD_REQUEST, "the name is not UTF-8\n")
        if not parts or len(parts) > 2 or not parts[0]:
            return Response.text(HTTPStatus.NOT_FOUND, "use /ping/NAME, /ping/NAME/start, "
                                                       "/ping/NAME/fail or /ping/NAME/<code>\n")
        name, now = parts[0], self.clock.now()
        if len(parts) == 1:
            ping = Ping(PingKind.SUCCESS, now)
        elif parts[1] in _ACTIONS:
            ping = Ping(_ACTIONS[parts[1]], now)
        # ASCII digits only: str.isdigit() also takes a superscript two (which int()
        # refuses: a 500) and a fullwidth three (which int() reads as 3).
        elif parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 3 \
                and int(parts[1]) <= 255:
            ping = Ping.from_exit_code(int(parts[1]), now)
        else:
            return Response.text(HTTPStatus.NOT_FOUND, "after the name: start, fail or an "
                                                       "exit code 0-255\n")
        if name not in self.heartbeats:
            log.info("ping for unknown heartbeat %r", name)
            return Response.text(HTTPStatus.NOT_FOUND, f"no heartbeat check named {name!r}\n")
        try:
            await asyncio.to_thread(self.sink.record_ping, name, ping)
        except WatchkeeperError as exc:
            log.error("cannot store a ping of %s: %s", name, exc)
            return Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, "cannot store the ping\n")
        if self.on_ping is not None:
            self.on_ping(name)
        code = f" (exit code {ping.exit_code})" if ping.exit_code is not None else ""
        level = logging.INFO if ping.kind is PingKind.FAIL else logging.DEBUG
        log.log(level, "heartbeat %s: %s%s", name, ping.kind.value, code)
        return Response.text(HTTPStatus.OK, "OK")


def _not_allowed(allow: str) -> Response:
    return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n",
                         ("Allow", allow))


# -- the server ----------------------------------------------------------------------------

async def start_listener(address: ListenAddress, api: HttpApi,
                         limits: ConnectionLimits | None = None) -> Listener:
    """Bind and start serving ``api``; raises WatchkeeperError when the address cannot be
    used. ``limits`` default to requests within ``api.timeout``, idle connections closed
    after as long."""
    if limits is None:
        limits = ConnectionLimits(request_timeout=api.timeout, idle_timeout=api.timeout)
    return await _start(address, api, limits)


async def serve_agent(config: Config, store: AgentView, clock: Clock, *,
                      on_ping: Callable[[str], object] | None = None,
                      metrics: MetricsPage | None = None,
                      problems: Callable[[], tuple[str, ...]] = tuple,
                      acks: AckEndpoint | None = None,
                      status: StatusPages | None = None) -> Listener:
    """Start the listener of a running agent on ``config.agent.listen``.

    Pings are taken for every configured check whose kind needs ``Capability.PINGS``,
    enabled or not, so a job's ping does not fail while its check is switched off.
    ``metrics`` renders ``/metrics`` (``agent.agent_metrics.AgentMetrics``); without it
    that path is 404. ``problems`` names what is wrong with the agent itself (/healthz is
    then "degraded", HTTP 503). ``status`` is the status page (``/status``).
    """
    settings = config.agent
    address = parse_listen(settings.listen or "")
    if not address.loopback and not settings.token:
        raise WatchkeeperError(f"refusing to listen on {address} without agent.token")
    enabled = sum(1 for c in config.checks if c.enabled)

    def health() -> Health:
        wrong = problems()
        return Health("degraded" if wrong else "ok", enabled, len(store.open_alerts()),
                      store.pending_count(), wrong)

    api = HttpApi(heartbeats=checks_needing(config, Capability.PINGS), sink=store,
                  health=health, clock=clock, token=settings.token, on_ping=on_ping,
                  metrics=metrics, acks=acks, status=status)
    listener = await start_listener(address, api)
    if (said := listener.open_files.report()) is not None:
        log.log(*said)
    needs = "; requests need the bearer token" if settings.token else ""
    log.info("listening on %s%s", address, needs)
    return listener
