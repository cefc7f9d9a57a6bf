"""Reloading the configuration of a running agent (SIGHUP, ``systemctl reload``).

The new file is read and validated in full first. An invalid one changes nothing: the
agent keeps running on the old config and says why (log, /healthz, STATUS=,
``watchkeeper status``). A valid one applies without a restart (``agent.reload.plan``
says what changes): checks added start, removed checks stop and their open alerts
resolve, unchanged checks keep their schedule, state, memory and learned baselines,
changed checks restart with their alert states kept, and channels and routes are swapped
at once. Queued notifications stay queued and are delivered through the new channels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent.alerting.settle import Routing
from agent.clock import Clock
from agent.config.models import Config
from agent.errors import ConfigError, ConfigIssue, WatchkeeperError
from agent.live_checks import HttpClients, LiveCheck, build_checks
from agent.live_state import PingBook
from agent.notify.dispatcher import Dispatcher
from agent.reload import ReloadPlan, plan
from agent.scheduler import Job, Scheduler
from agent.sd_notify import Notifier
from agent.units import format_count

log = logging.getLogger("watchkeeper.agent")

#: Reads and validates the config file in full (raises ConfigError).
ConfigLoader = Callable[[], Awaitable[Config]]


class Reloadable(Protocol):
    """What a reload changes in the running agent (``agent.runtime.Agent``)."""

    config: Config
    checks: dict[str, LiveCheck]
    routing: Routing
    clock: Clock
    http: HttpClients
    pings: PingBook
    notifier: Notifier
    dispatcher: Dispatcher
    scheduler: Scheduler

    def job(self, lc: LiveCheck) -> Job: ...

    def retire_stale_alerts(self) -> None: ...

    def load_memory(self, check: str) -> dict[str, Any]: ...

    async def restart_listener(self, config: Config | None = None) -> None: ...

    async def status_text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """The last reload: when, and the problems that refused it (none: it applied)."""

    at: float
    problems: tuple[ConfigIssue, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    def text(self) -> str:
        """``config reload failed at 12:01:02 UTC: 3 problems`` or ``reloaded at ...``."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))
        if not self.failed:
            return f"config reloaded at {when}"
        n = len(self.problems)
        return f"config reload failed at {when}: {format_count(n, 'problem')}"


class Reloader:
    """Applies reloads to one agent, one at a time (a SIGHUP during a reload runs another
    reload after it, so the last file written is the one that counts)."""

    def __init__(self, agent: Reloadable, load: ConfigLoader) -> None:
        self.agent = agent
        self.load = load
        self.last: ReloadOutcome | None = None
        self._lock = asyncio.Lock()
        self._pending = 0
        self._stopped = False

    def request(self) -> None:
        """Schedule a reload (the signal handler's entry)."""
        if self._stopped:
            log.warning("config reload not done: the agent is stopping")
            return
        self._pending += 1
        asyncio.get_running_loop().create_task(self._run(), name="reload")

    def stop(self) -> None:
        """Reload no more: the agent is stopping (a reload then would start checks and a
        listener that nothing stops)."""
        self._stopped = True

    async def finished(self) -> None:
        """Wait for a reload under way to end, so that shutdown does not close what it is
        still changing."""
        async with self._lock:
            pass

    async def _run(self) -> None:
        async with self._lock:
            if self._pending == 0 or self._stopped:
                return  # folded into the reload that just ran, or the agent stops
            self._pending = 0
            try:
                await self.reload()
            except Exception:  # a bug here must not take the agent down
                log.exception("reloading the configuration failed")

    async def reload(self) -> ReloadOutcome:
        """Read, validate and apply the config file; never raises for a bad file."""
        agent = self.agent
        agent.notifier.reloading()
        now = agent.clock.now()
        try:
            config = await self.load()
            changes = plan(agent.config, config)
            if changes.problems:
                raise ConfigError(list(changes.problems))
            await self._apply(config, changes)
        except ConfigError as exc:
            self.last = ReloadOutcome(now, tuple(exc.issues))
            log.error("%s; still running on the previous config:", self.last.text())
            for issue in exc.issues:
                log.error("  %s", issue)
        except WatchkeeperError as exc:
            self.last = ReloadOutcome(now, (ConfigIssue(str(agent.config.source), None, "",
                                                        str(exc)),))
            log.error("%s; still running on the previous config: %s", self.last.text(), exc)
        else:
            self.last = ReloadOutcome(now)
            log.info("%s: %s", self.last.text(), changes.summary())
        agent.notifier.ready(await agent.status_text())
        return self.last

    async def _apply(self, config: Config, changes: ReloadPlan) -> None:
        agent = self.agent
        old_checks = agent.checks
        fresh = {lc.config.name: lc for lc in build_checks(
            config, agent.clock, agent.http.factory, heartbeats=agent.pings)
            if lc.config.name in changes.added or lc.config.name in changes.changed}
        if changes.listener:
            # Before anything has changed: a port that cannot be had (in use) refuses
            # the reload, and the agent keeps its old config and listener.
            try:
                await agent.restart_listener(config)
            except BaseException:
                for lc in fresh.values():
                    await _close(lc)
                raise
        for name in (*changes.removed, *changes.changed):
            await _close(old_checks[name])
        checks: dict[str, LiveCheck] = {}
        for cc in config.checks:
            if not cc.enabled:
                continue
            if cc.name in fresh:
                lc = fresh[cc.name]
                memory = (old_checks[cc.name].ctx.memory if cc.name in changes.same_options
                          else agent.load_memory(cc.name) if cc.name in changes.added
                          else {})
                lc.ctx.memory.update(memory)
                checks[cc.name] = lc
            else:
                old = old_checks[cc.name]
                old.config = cc
                checks[cc.name] = old
        agent.config = config
        agent.checks = checks
        agent.routing = Routing.of(config)
        agent.dispatcher.reconfigure(config.channels, config.agent.retry.policy())
        agent.scheduler.update([agent.job(lc) for lc in checks.values()],
                               restart=set(changes.changed))
        agent.retire_stale_alerts()


async def _close(lc: LiveCheck) -> None:
    try:
        await lc.check.close()
    except Exception as exc:  # a check's cleanup must not stop the reload
        log.warning("closing check %s failed: %s", lc.config.name, exc)
