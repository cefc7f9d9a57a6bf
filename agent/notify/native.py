"""The targets the agent sends itself, over its own HTTP client: the versioned webhook and
Alertmanager (``agent.notify.native_urls``). The dispatcher hands them the events of a
send, not a message's text; ``keep_alive`` posts Alertmanager's open alerts again before
they would time out.

httpx is imported on the first send, so an agent without such targets never loads it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent
from agent.clock import Clock
from agent.listen_address import parse_listen
from agent.model import AlertKey
from agent.notify.alertmanager import AlertmanagerPoster
from agent.notify.am_alerts import AlertContext, test_alert
from agent.notify.http_post import post_json
from agent.notify.masking import mask_url, scrub
from agent.notify.native_urls import (
    AlertmanagerTarget,
    WebhookTarget,
    is_alertmanager,
    parse_target,
)
from agent.notify.payload import encode, test_document
from agent.notify.protocol import SendResult
from agent.notify.webhook import headers_for, send_webhook

if TYPE_CHECKING:
    import httpx

    from agent.config.models import Config

log = logging.getLogger("watchkeeper.notify")

#: The longest a single POST may take (the dispatcher's own timeout may be longer).
POST_TIMEOUT = 30.0
#: Open alerts for one Alertmanager target: its URL -> the events restating them.
OpenAlerts = Callable[[str], Sequence[AlertEvent]]


def generator_url(config: Config | None) -> Callable[[AlertKey], str]:
    """The alert's source as Alertmanager shows it: the agent's /metrics when its
    listener is reachable from other hosts, else ``watchkeeper://host/check``."""
    listen = config.agent.listen if config is not None else None
    if listen:
        address = parse_listen(listen)
        if not address.loopback:
            host = address.host
            if host in ("0.0.0.0", "::"):
                host = config.agent.host if config is not None else host
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{address.port}/metrics"
            return lambda key: url
    return lambda key: f"watchkeeper://{_path(key.host)}/{_path(key.check)}"


def _path(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


class NativeSender:
    """Sends to webhook and Alertmanager targets. ``config()`` is the agent's config as
    it stands (check kinds, the listener); ``client()`` the agent's shared HTTP client
    (the checks' own, so the agent loads one TLS context, not two); ``aclose()`` when the
    agent stops."""

    def __init__(self, clock: Clock, config: Callable[[], Config | None] = lambda: None,
                 client: Callable[[], httpx.AsyncClient] | None = None) -> None:
        self.clock = clock
        self.config = config
        #: The agent's shared HTTP client (its owner closes it); None: one of our own.
        self._shared = client
        self._client: httpx.AsyncClient | None = None
        self._am = AlertmanagerPoster()
        #: When each Alertmanager target was last refreshed (monotonic).
        self._refreshed: dict[str, float] = {}
        #: The targets whose last refresh failed, and why.
        self._failing: dict[str, str] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client posts go through (made on first use)."""
        if self._shared is not None:
            return self._shared()
        if self._client is None:
            # Only now: an agent without such targets never loads the HTTP client.
            from agent.http_client import ClientSettings, build_client

            self._client = build_client(ClientSettings())
        return self._client

    def _context(self) -> AlertContext:
        config = self.config()
        kinds = {c.name: c.kind for c in config.checks} if config is not None else {}
        return AlertContext(kinds.get, generator_url(config))

    async def send(self, url: str, events: Sequence[AlertEvent], grouped: bool,
                   timeout: float) -> list[SendResult]:
        """Send ``events`` to the native target ``url``: one result per event; never
        raises (the dispatcher's ``NativeSend``)."""
        if not events:
            return []
        try:
            target = parse_target(url)
        except ValueError as exc:
            return [SendResult(False, f"invalid target: {exc}", True)] * len(events)
        timeout = min(timeout, POST_TIMEOUT)
        ctx = self._context()
        try:
            if isinstance(target, WebhookTarget):
                return await send_webhook(self.client, target, events, grouped=grouped,
                                          kind_of=ctx.kind_of, wall=self.clock.wall(),
                                          timeout=timeout)
            result = await self._am.send(self.client, url, target, events=lambda: events,
                                         ctx=ctx, wall=self.clock.wall, timeout=timeout)
            return [result or SendResult(True)] * len(events)
        except Exception as exc:  # a bug must cost this send, never the dispatcher
            log.exception("sending to %s failed", mask_url(url))
            return [SendResult(False, f"sending failed: {type(exc).__name__}")] * len(events)

    async def send_test(self, url: str, host: str) -> SendResult:
        """Send ``watchkeeper notify test``'s notification to the native target ``url``:
        the webhook's ``test`` document, or Alertmanager's ``WatchkeeperTest`` alert.
        The error text is masked."""
        result = await self._send_test(url, host)
        if result.error:
            return SendResult(False, scrub(result.error, [url]), result.permanent)
        return result

    async def _send_test(self, url: str, host: str) -> SendResult:
        try:
            target = parse_target(url)
        except ValueError as exc:
            return SendResult(False, f"invalid target: {exc}", True)
        now = self.clock.wall()
        if isinstance(target, WebhookTarget):
            doc = test_document(host, now)
            body = encode(doc)
            return await post_json(self.client, target.url, body, timeout=POST_TIMEOUT,
                                   headers=headers_for(target, str(doc["key"]), body, now))
        alert = test_alert(host, now, f"watchkeeper://{_path(host)}/test")
        return await post_json(self.client, target.alerts_url, json.dumps([alert]).encode(),
                               auth=target.auth, timeout=POST_TIMEOUT)

    def _alertmanagers(self) -> dict[str, AlertmanagerTarget]:
        config = self.config()
        found: dict[str, AlertmanagerTarget] = {}
        for channel in (config.channels.values() if config is not None else ()):
            for url in channel.urls:
                if is_alertmanager(url):
                    target = parse_target(url)
                    if isinstance(target, AlertmanagerTarget):
                        found[url] = target
        return found

    async def refresh_due(self, open_alerts: OpenAlerts) -> float:
        """Post the open alerts of every Alertmanager target whose ``resend`` period has
        passed; returns the seconds until the next one is due."""
        targets = self._alertmanagers()
        self._am.forget(set(targets))
        mono = self.clock.monotonic()
        waits: list[float] = []
        for url, target in targets.items():
            last = self._refreshed.get(url)
            if last is not None and mono - last < target.resend:
                waits.append(target.resend - (mono - last))
                continue
            self._refreshed[url] = mono
            waits.append(target.resend)
            result = await self._am.send(self.client, url, target,
                                         events=functools.partial(open_alerts, url),
                                         ctx=self._context(), wall=self.clock.wall,
                                         timeout=POST_TIMEOUT)
            self._note(url, result)
        return min(waits, default=60.0)

    def _note(self, url: str, result: SendResult | None) -> None:
        """Log a refresh's failure once (not every ``resend``) and its recovery."""
        if result is None or result.ok:
            if self._failing.pop(url, None) is not None:
                log.info("posting open alerts to %s works again", mask_url(url))
            return
        error = scrub(result.error or "unknown error", [url])
        if self._failing.get(url) != error:
            log.warning("posting open alerts to %s again failed: %s (tried again every "
                        "resend period)", mask_url(url), error)
        self._failing[url] = error

    async def keep_alive(self, open_alerts: OpenAlerts) -> None:
        """Post Alertmanager's open alerts again, each target every ``resend``, until
        cancelled."""
        while True:
            try:
                wait = await self.refresh_due(open_alerts)
            except Exception:  # a bug here must not stop the refreshes for good
                log.exception("posting open alerts to Alertmanager again failed")
                wait = 60.0
            await self.clock.sleep(max(wait, 0.5))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
