"""The configured checks as the agent runs them: instances, contexts, shared HTTP clients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.check import Check, CheckContext, load_kind
from agent.clock import Clock
from agent.config.models import CheckConfig, Config
from agent.heartbeats import PingLog


@dataclass
class LiveCheck:
    """A configured check with its instance and context."""

    config: CheckConfig
    check: Check[Any]
    ctx: CheckContext
    saved_memory: str = "{}"
    runs: int = 0


def build_checks(config: Config, clock: Clock,
                 http_factory: Callable[[], Any] | None = None,
                 heartbeats: PingLog | None = None) -> list[LiveCheck]:
    """Instantiate every enabled check (importing only the kinds the config names).

    ``heartbeats`` is where heartbeat checks read their pings (the agent's store).
    """
    live = []
    for cc in config.checks:
        if not cc.enabled:
            continue
        cls = load_kind(cc.kind)
        ctx = CheckContext(check_name=cc.name, host=config.agent.host, timeout=cc.timeout,
                           clock=clock, logger=logging.getLogger(f"watchkeeper.check.{cc.name}"),
                           http_client_factory=http_factory, heartbeats=heartbeats)
        live.append(LiveCheck(cc, cls(cc.name, cc.options), ctx))
    return live


class HttpClients:
    """The agent's shared HTTP clients, created only when something asks for one.

    With http checks configured this is the pool of clients per TLS/proxy/IP setting
    (``agent.http_client``); otherwise a single client is made on first use, so an agent
    without HTTP checks never imports httpx.
    """

    def __init__(self, config: Config) -> None:
        self.factory: Callable[[], Any]
        self._pool: Any = None
        self._client: Any = None
        if any(c.kind == "http" and c.enabled for c in config.checks):
            from agent.http_client import HttpClientPool

            self._pool = HttpClientPool()
            self.factory = self._pool
        else:
            self.factory = self._single

    def _single(self) -> Any:
        if self._client is None:
            from agent.http_client import default_client

            self._client = default_client()
        return self._client

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        if self._client is not None:
            await self._client.aclose()
