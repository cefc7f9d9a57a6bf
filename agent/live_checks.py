"""The configured checks as the agent runs them: instances, contexts, shared HTTP clients.

What the agent provides beyond the common context follows what each kind's class
declares (``Check.needs``), never its name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agent.check import Capability, Check, CheckContext, load_kind
from agent.clock import Clock
from agent.config.models import CheckConfig, Config
from agent.heartbeats import PingLog

#: Turns a kind name into its check class (``load_kind``; tests may pass their own).
KindLoader = Callable[[str], type[Check[Any]]]


@dataclass
class LiveCheck:
    """A configured check with its instance and context."""

    config: CheckConfig
    check: Check[Any]
    ctx: CheckContext
    saved_memory: str = "{}"
    runs: int = 0


def _classes(checks: Iterable[CheckConfig], load: KindLoader) -> dict[str, type[Check[Any]]]:
    """The class of each kind named by ``checks``, each kind loaded once."""
    out: dict[str, type[Check[Any]]] = {}
    for cc in checks:
        if cc.kind not in out:
            out[cc.kind] = load(cc.kind)
    return out


def needs(config: Config, load: KindLoader = load_kind) -> set[Capability]:
    """What the enabled checks of ``config`` need, as their classes declare it."""
    enabled = [cc for cc in config.checks if cc.enabled]
    return {cap for cls in _classes(enabled, load).values() for cap in cls.needs}


def checks_needing(config: Config, capability: Capability,
                   load: KindLoader = load_kind) -> list[str]:
    """The names of the configured checks, enabled or not, whose kind needs ``capability``."""
    classes = _classes(config.checks, load)
    return [cc.name for cc in config.checks if capability in classes[cc.kind].needs]


def build_checks(config: Config, clock: Clock,
                 http_factory: Callable[[], Any] | None = None,
                 heartbeats: PingLog | None = None,
                 load: KindLoader = load_kind) -> list[LiveCheck]:
    """Instantiate every enabled check (importing only the kinds the config names).

    ``heartbeats`` is where the kinds that need ``Capability.PINGS`` read their pings
    (the agent's store); other kinds get None.
    """
    enabled = [cc for cc in config.checks if cc.enabled]
    classes = _classes(enabled, load)
    live = []
    for cc in enabled:
        cls = classes[cc.kind]
        ctx = CheckContext(check_name=cc.name, host=config.agent.host, timeout=cc.timeout,
                           clock=clock, logger=logging.getLogger(f"watchkeeper.check.{cc.name}"),
                           http_client_factory=http_factory,
                           heartbeats=heartbeats if Capability.PINGS in cls.needs else None)
        live.append(LiveCheck(cc, cls(cc.name, cc.options), ctx))
    return live


class HttpClients:
    """The agent's shared HTTP clients, created only when something asks for one.

    When an enabled check needs ``Capability.HTTP_POOL`` this is the pool of clients per
    TLS/proxy/IP setting (``agent.http_client``); otherwise a single client is made on
    first use, so an agent without such checks never imports httpx.
    """

    def __init__(self, config: Config, load: KindLoader = load_kind) -> None:
        self.factory: Callable[[], Any]
        self._pool: Any = None
        self._client: Any = None
        if Capability.HTTP_POOL in needs(config, load):
            from agent.http_client import HttpClientPool, limits_for

            # Idle connections kept: as many as run at once; every request scans them.
            self._pool = HttpClientPool(limits_for(config.agent.max_concurrency))
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
