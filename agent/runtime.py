"""The running agent: wires config, checks, scheduler, judge, store and dispatcher."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import signal
from collections.abc import Callable
from typing import Any

from agent.agent_metrics import AgentMetrics
from agent.alerting.silences import Decision, Silence, Suppressed, decide, format_until, release
from agent.alerting.state import AlertEvent, EventKind
from agent.clock import Clock, SystemClock
from agent.config.models import Config
from agent.errors import StateError
from agent.http_api import Listener, serve_agent
from agent.latest import LatestRun, LatestRuns
from agent.live_checks import HttpClients, LiveCheck, build_checks
from agent.model import CheckResult, Status
from agent.notify.dispatcher import Dispatcher
from agent.notify.routing import deliveries as route_deliveries
from agent.notify.sender import send_many
from agent.pipeline import Judge, Verdict
from agent.scheduler import Job, Scheduler
from agent.store import Delivery, Store
from agent.thresholds.numbers import format_value

log = logging.getLogger("watchkeeper.agent")

#: How often suppressed incidents are looked at, to announce those whose silence ended.
RELEASE_PERIOD = 15.0
#: How often silences that ended long ago are deleted.
EXPIRE_PERIOD = 3600.0


class SilenceCache:
    """The active silences, re-read from the store at most every ``max_age`` seconds
    (``watchkeeper silence`` writes them from another process)."""

    def __init__(self, store: Store, host: str, clock: Clock, max_age: float = 10.0) -> None:
        self.store = store
        self.host = host
        self.clock = clock
        self.max_age = max_age
        self._silences: list[Silence] = []
        self._read_at: float | None = None

    def active(self, now: float) -> list[Silence]:
        """The silences holding at ``now``, as last read (re-read when too old)."""
        if self._read_at is None or self.clock.monotonic() - self._read_at >= self.max_age:
            return self.refresh(now)
        return self._silences

    def refresh(self, now: float) -> list[Silence]:
        """Read the silences holding at ``now`` from the store."""
        try:
            self._silences = self.store.silences(active_at=now, host=self.host)
        except StateError as exc:
            # The ones read before still hold; the next read may succeed.
            log.warning("reading silences failed: %s", exc)
        self._read_at = self.clock.monotonic()
        return self._silences


class Agent:
    """One agent process: runs until ``stop()`` (or SIGTERM/SIGINT when installed)."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.store = Store.open(config.agent.state_dir)
        self.judge = Judge(config.agent.host, self.store.load_states(),
                           load_learned=self.store.load_learned)
        self.http = HttpClients(config)
        self.checks = {lc.config.name: lc for lc in build_checks(
            config, self.clock, self.http.factory, heartbeats=self.store)}
        for lc in self.checks.values():
            lc.ctx.memory.update(self.store.load_memory(lc.config.name))
            lc.saved_memory = json.dumps(lc.ctx.memory, sort_keys=True)
        # Apprise's own small persistent store (Opsgenie remembers the alerts it opened).
        apprise_store = str(config.agent.state_dir / "apprise")
        self.dispatcher = Dispatcher(self.store, config.channels, self.clock,
                                     sender=functools.partial(send_many, storage=apprise_store))
        self.scheduler = Scheduler(
            [Job(lc.config.name, lc.config.interval, lc.config.timeout, self._runner(lc))
             for lc in self.checks.values()],
            self._on_result, config.agent.max_concurrency, self.clock)
        #: Each check's latest run, for /metrics.
        self.latest = LatestRuns()
        self._first_cycle_left = set(self.checks)
        self.silences = SilenceCache(self.store, config.agent.host, self.clock)
        #: Incidents whose FIRING a silence held back, by incident id.
        self.suppressed: dict[str, Suppressed] = {
            s.incident: s for s in self.store.suppressed()}
        self._expired_at: float | None = None

    @staticmethod
    def _runner(lc: LiveCheck) -> Callable[[], Any]:
        return lambda: lc.check.run(lc.ctx)

    def stop(self) -> None:
        self.scheduler.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGUSR1, self.log_stats)

    def log_stats(self) -> None:
        """One line of scheduler totals (at shutdown, and on SIGUSR1)."""
        log.info("scheduler stats: %s", json.dumps(self.scheduler.summary()))

    async def run(self) -> None:
        """Run checks and deliver notifications until stopped."""
        log.info("watchkeeper started on %s: %d checks, %d channels, state in %s",
                 self.config.agent.host, len(self.checks), len(self.config.channels),
                 self.config.agent.state_dir)
        dispatch = asyncio.create_task(self.dispatcher.run(), name="dispatcher")
        releaser = asyncio.create_task(self._release_loop(), name="silence release")
        listener: Listener | None = None
        try:
            self._retire_stale_alerts()
            if self.config.agent.listen:
                metrics = AgentMetrics(self.latest, self.judge.states,
                                       self.scheduler.stats, self.store)
                listener = await serve_agent(self.config, self.store, self.clock,
                                             on_ping=self.scheduler.run_now, metrics=metrics)
            await self.scheduler.run()
        finally:
            self.log_stats()
            releaser.cancel()
            if listener is not None:
                await listener.close()
            await self.dispatcher.drain(timeout=5.0)
            dispatch.cancel()
            await asyncio.gather(dispatch, releaser, return_exceptions=True)
            for lc in self.checks.values():
                try:
                    await lc.check.close()
                except Exception as exc:  # a check's cleanup must not stop the others'
                    log.warning("closing check %s failed: %s", lc.config.name, exc)
            await self.http.aclose()
            self._save_learned(self.clock.now(), everything=True)
            self.store.close()
            log.info("watchkeeper stopped")

    async def _on_result(self, job: Job, result: CheckResult, at: float) -> None:
        lc = self.checks[job.name]
        lc.runs += 1
        self._log_result(lc, result)
        now = self.clock.now()
        self.latest.record(LatestRun(job.name, lc.config.kind, result, now,
                                     self.scheduler.stats[job.name].last_duration,
                                     result.status))
        verdict = self.judge.judge(lc.config, result, now)
        self._persist(lc, verdict)
        self._save_learned(now)
        if lc.config.name in self._first_cycle_left:
            self._first_cycle_left.discard(lc.config.name)
            if not self._first_cycle_left:
                log.info("first check cycle complete: %d checks ran", len(self.checks))

    def _persist(self, lc: LiveCheck, verdict: Verdict) -> None:
        self._commit(verdict, lc.config.tags)
        memory = json.dumps(lc.ctx.memory, sort_keys=True, default=str)
        if memory != lc.saved_memory:
            self.store.save_memory(lc.config.name, dict(lc.ctx.memory))
            lc.saved_memory = memory

    def _commit(self, verdict: Verdict, tags: tuple[str, ...]) -> None:
        """New states and their notifications in one transaction; then wake the sender.

        Events a silence holds back are logged, not routed; their states commit all the same.
        """
        now = self.clock.now()
        silences = self.silences.active(now) if verdict.events else []
        decision = decide(verdict.events, silences, self.suppressed, now)
        deliveries = self._route(decision.deliver, tags)
        if verdict.states or deliveries or decision.changes_suppressed:
            self.store.commit(verdict.states, deliveries, decision.suppress, decision.forget)
            self.judge.apply(verdict)
            self._remember(decision)
        self._log_decision(decision, len(deliveries), now)
        if deliveries:
            self.dispatcher.wake()

    def _route(self, events: list[AlertEvent], tags: tuple[str, ...] | None) -> list[Delivery]:
        """The deliveries of ``events``: tagged ``tags``, or their check's tags when None."""
        out: list[Delivery] = []
        for ev in events:
            ev_tags = tags
            if ev_tags is None:
                lc = self.checks.get(ev.key.check)
                ev_tags = lc.config.tags if lc is not None else ev.tags
            out.extend(route_deliveries(ev, ev_tags, self.config.routes, self.config.channels))
        return out

    def _remember(self, decision: Decision) -> None:
        """Take the decision's suppressed incidents as current (after they were stored)."""
        for incident in decision.forget:
            self.suppressed.pop(incident, None)
        self.suppressed.update((s.incident, s) for s in decision.suppress)

    async def _release_loop(self) -> None:
        while True:
            await asyncio.sleep(RELEASE_PERIOD)
            try:
                self.release_silenced()
            except Exception:  # a bug here must not hold back notifications for good
                log.exception("announcing alerts whose silence ended failed")

    def release_silenced(self) -> None:
        """Announce the suppressed incidents whose silence ended and that still fire.

        Also deletes, hourly, the silences that ended long ago.
        """
        now = self.clock.now()
        mono = self.clock.monotonic()
        if self._expired_at is None or mono - self._expired_at >= EXPIRE_PERIOD:
            self._expired_at = mono
            self.store.expire_silences(now)
        if not self.suppressed:
            return
        decision = release(list(self.suppressed.values()), self.judge.states,
                           self.silences.refresh(now), now)
        deliveries = self._route(decision.deliver, None)
        if deliveries or decision.changes_suppressed:
            self.store.commit([], deliveries, (), decision.forget)
            self._remember(decision)
        self._log_decision(decision, len(deliveries), now)
        if deliveries:
            self.dispatcher.wake()

    def _retire_stale_alerts(self) -> None:
        """Resolve the open alerts of checks removed from the config since the last run."""
        configured = {lc.config.name for lc in self.checks.values()}
        self._commit(self.judge.retire(configured, self.clock.now(), self.config.defaults),
                     ())

    def _save_learned(self, now: float, everything: bool = False) -> None:
        """Store what learned thresholds learned: hourly per series, and all at shutdown.

        A failure costs at most what was learned since the last save, so it is logged
        rather than raised.
        """
        due = self.judge.learned_due(now, everything)
        if not due:
            return
        try:
            self.store.save_learned(due, now)
        except StateError as exc:
            log.warning("saving learned thresholds failed (%d series): %s", len(due), exc)
            return
        self.judge.learned_saved([key for key, _ in due], now)

    def _log_result(self, lc: LiveCheck, result: CheckResult) -> None:
        metrics = " ".join(f"{s.metric}{'{' + s.label_text() + '}' if s.labels else ''}"
                           f"={format_value(s.metric, s.value)}" for s in result.samples)
        level = logging.INFO if lc.runs == 1 or result.status is not Status.OK else logging.DEBUG
        log.log(level, "check %s: %s - %s%s", lc.config.name, result.status.value.upper(),
                result.summary, f" [{metrics}]" if metrics else "")

    def _log_decision(self, decision: Decision, deliveries: int, now: float) -> None:
        released = {id(ev) for ev in decision.released}
        for ev in decision.deliver:
            self._log_event(ev, deliveries, "; its silence ended" if id(ev) in released else "")
        for ev, s in decision.silenced:
            log.info("alert %s %s: %s (%s) silenced by #%d until %s%s", ev.kind.value.upper(),
                     ev.key.as_text(), ev.why, ev.severity.value, s.id,
                     format_until(s.ends_at, now), f" ({s.reason})" if s.reason else "")
        for ev in decision.dropped:
            log.info("alert RESOLVED %s: %s (not sent: a silence held back its FIRING)",
                     ev.key.as_text(), ev.why)

    @staticmethod
    def _log_event(ev: AlertEvent, deliveries: int, note: str = "") -> None:
        level = logging.INFO if ev.kind is EventKind.RESOLVED else logging.WARNING
        log.log(level, "alert %s %s: %s (%s; %d deliveries queued%s)", ev.kind.value.upper(),
                ev.key.as_text(), ev.why, ev.severity.value, deliveries, note)
