"""The agent's ``NativeSender``, made when it is first needed: the first send to a webhook
or Alertmanager target, or a config (maybe a reloaded one) naming an Alertmanager target
whose open alerts must be posted again. An agent without such targets never loads the
sender, its payloads or the Alertmanager client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent
from agent.clock import Clock
from agent.notify.native_urls import is_alertmanager
from agent.notify.protocol import SendResult

if TYPE_CHECKING:
    import httpx

    from agent.config.models import Config
    from agent.notify.native import NativeSender, OpenAlerts

#: How often a config without Alertmanager targets is looked at again (the sender's own
#: wait when it has none).
IDLE_CHECK = 60.0


class NativeSlot:
    """Holds the agent's ``NativeSender`` once made; ``send``, ``keep_alive`` and
    ``aclose`` as the sender's own."""

    def __init__(self, clock: Clock, config: Callable[[], Config | None],
                 client: Callable[[], httpx.AsyncClient] | None = None) -> None:
        self.clock = clock
        self.config = config
        self._client = client
        self._sender: NativeSender | None = None

    @property
    def sender(self) -> NativeSender:
        """The sender (made now if it was not yet)."""
        if self._sender is None:
            from agent.notify.native import NativeSender

            self._sender = NativeSender(self.clock, self.config, self._client)
        return self._sender

    async def send(self, url: str, events: Sequence[AlertEvent], grouped: bool,
                   timeout: float) -> list[SendResult]:
        """``NativeSender.send`` (the dispatcher's ``NativeSend``)."""
        return await self.sender.send(url, events, grouped, timeout)

    def _names_alertmanager(self) -> bool:
        config = self.config()
        return config is not None and any(
            is_alertmanager(url) for channel in config.channels.values() for url in channel.urls)

    async def keep_alive(self, open_alerts: OpenAlerts) -> None:
        """``NativeSender.keep_alive`` from the first config with an Alertmanager target
        on, until cancelled."""
        while self._sender is None and not self._names_alertmanager():
            await self.clock.sleep(IDLE_CHECK)
        await self.sender.keep_alive(open_alerts)

    async def aclose(self) -> None:
        """Close the sender's HTTP client (if it was ever made)."""
        if self._sender is not None:
            await self._sender.aclose()
