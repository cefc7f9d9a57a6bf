"""The running agent: wires config, checks, scheduler, judge, store and dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import strays
from agent.ack_links import AckLinks, load_key
from agent.alerting.dependencies import Parent, is_remote, waiting_on, with_network
from agent.alerting.holds import HoldRules, holds_at, told
from agent.alerting.judge import Judge, Verdict
from agent.alerting.settle import (
    Commit,
    Routing,
    settle,
    settle_released,
)
from agent.alerting.silences import Silence, Suppressed
from agent.alerting.state import AlertEvent, AlertState, Phase
from agent.check import Capability
from agent.clock import Clock, SystemClock
from agent.config.models import Config
from agent.control import ControlServer, serve_control
from agent.control_answers import LiveAnswers
from agent.errors import StateError
from agent.history.recorder import HistoryRecorder
from agent.history.writes import load_series
from agent.incident_desk import IncidentDesk
from agent.incidents.book import IncidentBook
from agent.incidents.record import Incident
from agent.latest import LatestRun, LatestRuns
from agent.listen_address import parse_listen
from agent.live_checks import HttpClients, LiveCheck, build_checks, checks_needing
from agent.live_state import ListenerView, LiveQueue, PingBook, SilenceBook
from agent.model import STATUS_METRIC, AlertKey, CheckResult, Status
from agent.notify import sender
from agent.notify.dispatcher import Dispatcher
from agent.notify.native_slot import NativeSlot
from agent.notify.outbox import restored
from agent.notify.sender import send_many
from agent.reloader import ConfigLoader, Reloader
from agent.scheduler import Job, Scheduler
from agent.sd_notify import Notifier
from agent.state_lock import StateLock
from agent.store import OutboxRow, Store, writes
from agent.store.reader import StateReader
from agent.store.writer import StoreWriter
from agent.timefmt import utc_minute
from agent.units import format_count, format_value

if TYPE_CHECKING:
    from agent.http_api import Listener
    from agent.status_page.live import LivePage

log = logging.getLogger("watchkeeper.agent")



async def _load_file(config: Config) -> Config:
    """The default reload: the same file again, read off the event loop."""
    from agent.config import load_config

    return await asyncio.to_thread(load_config, Path(config.source))

#: How often suppressed incidents are looked at, to announce those whose silence ended.
RELEASE_PERIOD = 5.0
#: How often silences that ended long ago are deleted.
EXPIRE_PERIOD = 3600.0
#: How often systemd's STATUS= line is brought up to date.
STATUS_PERIOD = 5.0


class Agent:
    """One agent process: runs until ``stop()`` (or SIGTERM/SIGINT when installed)."""

    def __init__(self, config: Config, clock: Clock | None = None,
                 loader: ConfigLoader | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        # One agent per state: a second one must not send every notification again.
        self.lock = StateLock.acquire(config.agent.state_dir)
        # What this agent's programs leave behind is marked as this state's.
        strays.set_scope(config.agent.state_dir)
        try:
            self.reader, fault = StateReader.open(config.agent.state_dir)
            self.store = self.reader.store
            self.writer = StoreWriter(
                config.agent.state_dir,
                None if fault else Store.open(config.agent.state_dir, busy_timeout=0.5),
                fault, on_replaced=self._on_store_replaced)
        except BaseException:
            self.lock.release()
            raise
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control_problem: tuple[str, ...] = ()
        self.notifier = Notifier()
        #: SIGTERMs received: the first drains the outbox, a second exits at once.
        self._terms = 0
        self._draining: asyncio.Task[bool] | None = None
        read = self.reader.read
        states = read(Store.load_states, dict[AlertKey, AlertState]())
        self.judge = Judge(config.agent.host, states, load_learned=self.reader.load_learned)
        self.pings = PingBook(self.reader, self.writer)
        self.pings.preload(checks_needing(config, Capability.PINGS))
        self.http = HttpClients(config)
        self.checks = {lc.config.name: lc for lc in build_checks(
            config, self.clock, self.http.factory, heartbeats=self.pings)}
        for lc in self.checks.values():
            lc.ctx.memory.update(self.load_memory(lc.config.name))
            lc.saved_memory = json.dumps(lc.ctx.memory, sort_keys=True)
        # Apprise's own small persistent store (Opsgenie remembers the alerts it opened).
        apprise_store = str(config.agent.state_dir / "apprise")
        last_outbox, last_silence = read(Store.last_ids, (0, 0))
        self.outbox = restored(read(Store.queued_rows, list[OutboxRow]()), last_outbox + 1,
                               self.clock.now(), self.clock.monotonic(),
                               config.agent.retry.policy())
        self._dead_at_start = read(Store.dead_count, 0)
        # The open incidents, and those of the last month (recurrences count them).
        self.incidents = IncidentBook(read(Store.open_incidents, list[Incident]()) + read(
            lambda store: store.incidents(since=self.clock.now() - 31 * 86400.0),
            list[Incident]()))
        #: Webhook v1 and Alertmanager targets, sent by the agent itself.
        self.native = NativeSlot(self.clock, lambda: self.config, self.http.factory)
        self.dispatcher = Dispatcher(self.outbox, self.writer, config.channels, self.clock,
                                     sender=functools.partial(send_many, storage=apprise_store),
                                     native=self.native.send)
        self.scheduler = Scheduler([self.job(lc) for lc in self.checks.values()],
                                   self._on_result, config.agent.max_concurrency, self.clock)
        #: Each check's latest run, for /metrics.
        self.latest = LatestRuns()
        self.history = HistoryRecorder(lambda: self.config.agent.history, self.writer,
                                       read(lambda s: s.query(load_series), []),
                                       self.clock.now(),
                                       fault=lambda: self.writer.health().fault)
        self._first_cycle_left = set(self.checks)
        self.silences = SilenceBook(read(
            lambda store: store.silences(host=config.agent.host), list[Silence]()),
            config.agent.host, last_silence)
        #: Incidents whose FIRING a silence held back, by incident id.
        self.suppressed: dict[str, Suppressed] = {
            s.incident: s for s in read(Store.suppressed, list[Suppressed]())}
        self.queue = LiveQueue(self.outbox, self.silences, self.clock,
                               lambda: self._dead_at_start)
        self._expired_at: float | None = None
        self.routing = Routing.of(config)
        self.desk = IncidentDesk(self.incidents, self.writer, self.clock,
                                 config=lambda: self.config, routing=lambda: self.routing,
                                 send=self._send, run_now=self.scheduler.run_now,
                                 count=self.judge.count_event)
        self.dispatcher.on_outcome = self.desk.delivered
        self.dispatcher.decorate = self._offer_ack_link
        self._ack_key: bytes | None = None
        self._ack_key_read = False
        self.reloader = Reloader(self, loader or functools.partial(_load_file, config))
        self.listener: Listener | None = None

    def load_memory(self, check: str) -> dict[str, Any]:
        """A check's memory as saved (empty when none was, or it cannot be read)."""
        return self.reader.load_memory(check)

    def _on_store_replaced(self) -> None:
        """The writer opened a new database file (from its own thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.write_snapshot)

    def silences_at(self, wall: float, verdict: Verdict | None = None) -> list[Silence]:
        """What holds alerts back at ``wall``: the silences, the maintenance windows of the
        config, the dependencies and the groups; ``verdict``'s states count as current."""
        return holds_at(self.hold_rules, self.silences.active(wall),
                        self._current_states(verdict),
                        {r.check: r.finished_at for r in self.latest}, now=self.clock.now(),
                        wall=wall)

    def _current_states(self, verdict: Verdict | None = None) -> list[AlertState]:
        states = dict(self.judge.states)
        states.update((s.key, s) for s in (verdict.states if verdict is not None else ()))
        return list(states.values())

    @property
    def hold_rules(self) -> HoldRules:
        """What the config says about holding alerts back, as it stands now."""
        agent = self.config.agent
        return HoldRules(agent.host, self.config.maintenance, self.routing.tags,
                         self.dependencies, self.parents, agent.connectivity,
                         agent.group_window, self.incidents.recovered(),
                         self.incidents.group_members())

    @property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """Each check's parents, as configured now (the connectivity check one of every
        check of a remote target)."""
        declared = {c.name: c.depends_on for c in self.config.checks if c.depends_on}
        net = self.config.agent.connectivity
        remote = [name for name, lc in self.checks.items()
                  if net is not None and is_remote(type(lc.check).targets(lc.config.options))]
        return with_network(declared, net, remote)

    @property
    def parents(self) -> dict[str, Parent]:
        """The checks others depend on, and those that depend on others, with how long
        their next run may take."""
        depends = self.dependencies
        wanted = {p for parents in depends.values() for p in parents} | set(depends)
        return {c.name: Parent(c.name, c.interval, c.timeout) for c in self.config.checks
                if c.name in wanted}

    def write_snapshot(self) -> None:
        """Hand the writer everything the agent holds: the alert states, the queue,
        the held incidents, silences, checks' memory and what was learned."""
        now = self.clock.now()
        self.writer.submit(writes.commit(list(self.judge.states.values()),
                                         suppress=list(self.suppressed.values()),
                                         rows=self.outbox.rows()))
        for silence in self.silences.all():
            self.writer.submit(writes.silence(silence))
        for lc in self.checks.values():
            self.writer.submit(writes.memory(lc.config.name, lc.ctx.memory))
        self.desk.record(self.incidents.open_incidents())
        self._save_learned(now, everything=True)
        self.history.resubmit()

    def add_silence(self, check_glob: str, metric: str | None, duration: float,
                    reason: str) -> Silence:
        """A silence from now for ``duration`` (asked on the control socket)."""
        now = self.clock.wall()
        silence = self.silences.add(check_glob, metric, starts_at=now, ends_at=now + duration,
                                    reason=reason, created_at=now)
        self.writer.submit(writes.silence(silence))
        log.info("silence #%d added: %s until %s (%s)", silence.id, silence.match_text,
                 utc_minute(silence.ends_at), reason or "no reason given")
        return silence

    def remove_silence(self, silence_id: int) -> bool:
        """End a silence now; the alerts it held that still fire are announced."""
        if not self.silences.remove(silence_id):
            return False
        self.writer.submit(writes.remove_silence(silence_id))
        log.info("silence #%d removed", silence_id)
        self.release_silenced()
        return True

    def acknowledge(self, incident: str, by: str, comment: str, undo: bool = False
                    ) -> Incident:
        """Asked on the control socket: see ``IncidentDesk.acknowledge``."""
        return self.desk.acknowledge(incident, by, comment, undo)

    @staticmethod
    def job(lc: LiveCheck) -> Job:
        """The scheduler's job for a configured check."""
        return Job(lc.config.name, lc.config.interval, lc.config.timeout,
                   lambda: lc.check.run(lc.ctx))

    def stop(self) -> None:
        """Stop checking and drain the outbox (for at most ``agent.shutdown_drain``); called
        again while draining, stop at once (what is left stays queued)."""
        self._terms += 1
        self.reloader.stop()
        if self._terms > 1 and self._draining is not None:
            log.warning("stopping at once: undelivered notifications stay queued")
            self._draining.cancel()
        self.scheduler.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        # SIGQUIT too: left to its default it would kill the agent with a core dump, and
        # every service that takes it stops cleanly.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(sig, self.stop)
        # SIGHUP is "reload" to every sysadmin; left to its default it would kill the agent.
        loop.add_signal_handler(signal.SIGHUP, self.reloader.request)
        loop.add_signal_handler(signal.SIGUSR1, self.log_stats)
        # SIGUSR2 means something else to other daemons (a reopen, a binary upgrade): sent
        # here by mistake it is said and ignored, not a kill.
        loop.add_signal_handler(signal.SIGUSR2, log.warning,
                                "SIGUSR2 ignored (SIGHUP reloads the config, SIGUSR1 logs "
                                "the scheduler's totals, SIGTERM stops)")

    def log_stats(self) -> None:
        """One line of scheduler totals (at shutdown, and on SIGUSR1)."""
        log.info("scheduler stats: %s", json.dumps(self.scheduler.summary()))

    async def run(self) -> None:
        """Run checks and deliver notifications until stopped."""
        # Local requests (status, baseline) answered from the live state.
        self._loop = asyncio.get_running_loop()
        # Proves at once whether the store takes writes (a fault is then said at once).
        self.writer.submit(writes.alive(self.clock.now()))
        control: ControlServer | None = None
        try:
            control = await serve_control(self.config.agent.state_dir, LiveAnswers(
                lambda: self.config, self.judge.states, self.judge.series, latest=self.latest,
                store=self.store, queue=self.queue, clock=self.clock,
                started_at=self.clock.now(), last_reload=lambda: self.reloader.last,
                problems=self.state_problems, silences=self))
        except StateError as exc:
            # Checking goes on without it; commands then read the store instead.
            self._control_problem = (f"{exc}; commands cannot ask this agent",)
            log.error("%s", self._control_problem[0])
        log.info("watchkeeper started on %s: %s, %s, state in %s", self.config.agent.host,
                 format_count(len(self.checks), "check"),
                 format_count(len(self.config.channels), "channel"), self.config.agent.state_dir)
        dispatch = asyncio.create_task(self._deliver(), name="dispatcher")
        releaser = asyncio.create_task(self._release_loop(), name="silence release")
        try:
            self.retire_stale_alerts()
            await self.restart_listener()
            scheduling = asyncio.create_task(self.scheduler.run(), name="scheduler")
            await asyncio.sleep(0)  # the scheduler has started every check's loop
            self.notifier.ready(await self.status_text())
            reporters = [asyncio.create_task(self._status_loop(), name="systemd status"),
                         asyncio.create_task(self._watchdog_loop(), name="systemd watchdog")]
            try:
                await scheduling
            finally:
                for task in reporters:
                    task.cancel()
        finally:
            self.notifier.stopping()
            await self._close_listener()
            self.log_stats()
            releaser.cancel()
            if control is not None:
                await control.close()
            self._draining = asyncio.create_task(self.dispatcher.drain(
                timeout=self.config.agent.shutdown_drain))
            with contextlib.suppress(asyncio.CancelledError):
                await self._draining
            dispatch.cancel()
            await asyncio.gather(dispatch, releaser, return_exceptions=True)
            await self._close_senders()
            await self.desk.close()
            for lc in self.checks.values():
                try:
                    await lc.check.close()
                except Exception as exc:  # a check's cleanup must not stop the others'
                    log.warning("closing check %s failed: %s", lc.config.name, exc)
            await self.http.aclose()
            self._save_learned(self.clock.now(), everything=True)
            self.history.flush(self.clock.now(), everything=True)
            await asyncio.to_thread(self.writer.close, self.config.agent.shutdown_drain)
            self.close()
            log.info("watchkeeper stopped")

    async def _close_listener(self) -> None:
        """Stop taking reloads (waiting for one under way) and close the listener: a
        reload must not bind it again behind the shutdown."""
        self.reloader.stop()
        await self.reloader.finished()
        if self.listener is not None:
            await self.listener.close()
            self.listener = None

    def close(self) -> None:
        """Close the store and free the state directory for the next agent (idempotent)."""
        self.writer.close(timeout=0.0)
        self.reader.close()
        self.notifier.close()
        self.lock.release()

    async def restart_listener(self, config: Config | None = None) -> None:
        """(Re)bind the local listener to ``agent.listen`` of ``config`` (the running one
        by default; at start and on reload).

        A new port is bound before the old one is let go: when it cannot be had (in use),
        this raises WatchkeeperError and the agent keeps the listener it had. The same
        port can only be bound again once it is closed.
        """
        config = config or self.config
        old = self.listener
        wanted = parse_listen(config.agent.listen) if config.agent.listen else None
        bind_first = old is None or wanted is None or wanted.port != old.port
        if old is not None and not bind_first:
            self.listener = None
            await old.close()
        fresh = await self._serve(config) if wanted is not None else None
        if old is not None and bind_first:
            await old.close()
        self.listener = fresh

    async def _serve(self, config: Config) -> Listener:
        """A listener for ``config``, showing what this agent holds."""
        # Imported only for an agent with a listener: the rest never pay for them.
        from agent.agent_metrics import AgentMetrics, IncidentFigures
        from agent.history.ratios import UptimeRatios, store_query
        from agent.http_api import serve_agent
        from agent.store.db import DB_NAME

        ratios = UptimeRatios(store_query(config.agent.state_dir / DB_NAME),
                              self.clock.now, self.clock.monotonic)

        metrics = AgentMetrics(
            self.latest, self.judge.states, self.scheduler.stats, self.queue,
            incidents=lambda: IncidentFigures(len(self.incidents.open_incidents()),
                                              self.desk.counters),
            uptime=ratios.current)
        view = ListenerView(self.pings, self.queue, self.judge.states)
        links = self._ack_links(config)
        acks = None
        if links is not None:
            from agent.ack_page import AckEndpoint

            acks = AckEndpoint(links, self.incidents.get, self.desk.acknowledge)
        return await serve_agent(config, view, self.clock, on_ping=self.scheduler.run_now,
                                 metrics=metrics, problems=self.problems, acks=acks,
                                 status=self.status_page())

    @property
    def ack_links(self) -> AckLinks | None:
        """The acknowledgement links messages carry (None: ``agent.public_url`` unset)."""
        return self._ack_links(self.config)

    def _ack_links(self, config: Config) -> AckLinks | None:
        base = config.agent.public_url
        if base is None:
            return None
        if not self._ack_key_read:
            # Read once (a file on the event loop): a key that cannot be had is said once.
            self._ack_key_read = True
            self._ack_key = load_key(self.config.agent.state_dir)
        return AckLinks(base, self._ack_key) if self._ack_key is not None else None

    def _offer_ack_link(self, event: AlertEvent) -> AlertEvent:
        event = self.desk.decorate(event)  # what held it back, from the incident log
        links = self.ack_links
        return event if links is None else links.offer(event)

    def status_page(self) -> LivePage:
        """The status page the listener serves (``/status``): what the agent holds, and
        the history in its store."""
        from agent.status_page.live import LivePage
        from agent.status_page.sources import history_source, live_snapshot

        return LivePage(lambda: live_snapshot(self.config, self.judge.states,
                                              self.incidents.recent(), self.latest),
                        history_source(self.store), self.clock)

    async def _deliver(self) -> None:
        """Send what the outbox holds, and keep Alertmanager's open alerts open."""
        await asyncio.gather(self.dispatcher.run(), self.native.keep_alive(self.open_alerts))

    async def _close_senders(self) -> None:
        await sender.aclose()  # the warm Apprise child ends with the agent
        await self.native.aclose()

    def open_alerts(self, url: str) -> list[AlertEvent]:
        """The firing alerts that go to the Alertmanager target ``url`` (posted again)."""
        from agent.notify.am_alerts import open_for

        return open_for(url, list(self.judge.states.values()), self.clock.now(),
                        routing=self.routing, held=self.suppressed,
                        escalated=self.incidents.escalated_channels())

    def problems(self) -> tuple[str, ...]:
        """What is wrong with the agent itself, for /healthz and STATUS=."""
        last = self.reloader.last
        reload = (last.text(),) if last is not None and last.failed else ()
        return (*reload, *self.state_problems())

    def state_problems(self) -> tuple[str, ...]:
        """What is wrong with the agent's state: its database or its control socket."""
        store = self.writer.health().text()
        return (*((store,) if store else ()), *self._control_problem)

    async def status_text(self) -> str:
        """``12 checks, 2 alerts open, 0 queued``: systemd's STATUS= line."""
        alerts = sum(1 for s in self.judge.states.values() if s.phase is Phase.FIRING)
        text = (f"{len(self.checks)} checks, {alerts} alert{'s' if alerts != 1 else ''} "
                f"open, {len(self.outbox)} queued")
        return "; ".join((text, *self.problems()))

    async def _status_loop(self) -> None:
        if not self.notifier.enabled:
            return
        last = ""
        while True:
            await self.clock.sleep(STATUS_PERIOD)
            text = await self.status_text()
            if text != last:
                self.notifier.status(text)
                last = text

    async def _on_result(self, job: Job, result: CheckResult, at: float) -> None:
        lc = self.checks[job.name]
        lc.runs += 1
        now = self.clock.now()
        verdict = self.judge.judge(lc.config, result, now)
        commit = self._settle(verdict, now)
        states = self.judge.states
        self.incidents.breached(states[f.key].incident or "" for f in verdict.problems()
                                if f.key in states)
        # Logged once settled: whoever asks the agent finds the state it tells.
        self._log_result(lc, result, verdict)
        self._log_notes(commit, self.clock.wall())
        duration = self.scheduler.stats[job.name].last_duration
        self.latest.record(LatestRun(job.name, lc.config.kind, result, now, duration,
                                     verdict.status))
        self.history.record(job.name, verdict.status, result.samples, duration, now)
        self.history.flush_due(now)
        self._save_memory(lc)
        self._save_learned(now)
        if lc.config.name in self._first_cycle_left:
            self._first_cycle_left.discard(lc.config.name)
            if not self._first_cycle_left:
                log.info("first check cycle complete: %d checks ran", len(self.checks))

    def _settle(self, verdict: Verdict, now: float) -> Commit:
        """Settle a verdict, store what it decided, then take it as current."""
        # Silences are wall-clock windows a person gave; decisions keep the decision time.
        wall = self.clock.wall()
        silences = self.silences_at(wall, verdict) if verdict.events else []
        if verdict.events:
            verdict.events = self.desk.annotate(told(
                verdict.events, self.hold_rules, self._current_states(verdict), silences,
                wall=wall, now=now, before=list(self.judge.states.values())))
        commit = settle(verdict, silences, self.suppressed, self.routing, now, wall=wall,
                        acknowledged=self.incidents.acknowledged,
                        escalated=self.incidents.escalated_channels())
        self.desk.start_actions(commit)
        # A dependent waits for its parent's next check: run that now.
        for parent in waiting_on([n.silence for n in commit.notes if n.silence is not None]):
            self.scheduler.run_now(parent)
        self._store(commit)
        if commit.writes:
            self.judge.apply(verdict)
        return commit

    def _store(self, commit: Commit) -> None:
        """Queue a commit's deliveries, hand it to the writer (one transaction), remember
        its suppressed incidents and wake the dispatcher."""
        if commit.writes:
            rows = self.outbox.add(commit.deliveries)
            added = {(r.dedup_key, r.channel, r.target) for r in rows}
            # The log then says how many were queued, never more.
            commit.stored([(d.event.dedup_key, d.channel, d.target) in added
                           for d in commit.deliveries])
            self.desk.decided(commit.notes)
            self.writer.submit(writes.commit(commit.states, suppress=commit.suppress,
                                             forget=commit.forget, rows=rows))
            for incident in commit.forget:
                self.suppressed.pop(incident, None)
            self.suppressed.update((s.incident, s) for s in commit.suppress)
        if commit.deliveries:
            self.dispatcher.wake()

    def _send(self, commit: Commit) -> None:
        """Queue and store a commit made outside a check's result, and log it."""
        self._store(commit)
        self._log_notes(commit, self.clock.wall())

    @staticmethod
    def _log_notes(commit: Commit, now: float) -> None:
        for note in commit.notes:
            log.log(note.level, "%s", note.text(now))

    def _save_memory(self, lc: LiveCheck) -> None:
        if not lc.ctx.memory and lc.saved_memory == "{}":
            return  # most checks keep nothing: no encoding per run
        memory = json.dumps(lc.ctx.memory, sort_keys=True, default=str)
        if memory != lc.saved_memory:
            self.writer.submit(writes.memory(lc.config.name, lc.ctx.memory))
            lc.saved_memory = memory

    async def _watchdog_loop(self) -> None:
        """WATCHDOG=1 while the scheduler takes every turn on time: a stalled loop (or a
        dead schedule) stops the pings, and systemd restarts the agent."""
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            late = self.scheduler.overdue(grace=max(2 * interval, 5.0))
            if late:
                log.error("the scheduler is stalled (%s overdue): no watchdog ping",
                          ", ".join(late[:5]))
            else:
                self.notifier.watchdog()
            await self.clock.sleep(interval)

    async def _release_loop(self) -> None:
        while True:
            await self.clock.sleep(RELEASE_PERIOD)
            try:
                self.release_silenced()
            except Exception:  # a bug here must not hold back notifications for good
                log.exception("announcing alerts whose silence ended failed")
            try:
                self.desk.escalate()
            except Exception:  # nor here
                log.exception("escalating unanswered incidents failed")
            try:
                self.desk.save_breaches()
            except Exception:  # a count is worth a log line, never the loop
                log.exception("storing the incidents' bad-sample counts failed")

    def release_silenced(self) -> None:
        """Announce the suppressed incidents whose silence ended and that still fire.

        Also deletes, hourly, the silences that ended long ago.
        """
        now, wall = self.clock.now(), self.clock.wall()
        mono = self.clock.monotonic()
        if self._expired_at is None or mono - self._expired_at >= EXPIRE_PERIOD:
            self._expired_at = mono
            if self.silences.expire(wall):
                self.writer.submit(writes.expire_silences(wall))
            self.writer.submit(writes.prune_incidents(now - self.config.agent.incidents_kept))
        if not self.suppressed:
            return
        holds = self.silences_at(wall)
        states = list(self.judge.states.values())
        commit = settle_released(list(self.suppressed.values()), self.judge.states, holds,
                                 self.routing, now, wall=wall,
                                 annotate=lambda events: told(events, self.hold_rules, states,
                                                              holds, wall=wall, now=now))
        self._store(commit)
        self._log_notes(commit, wall)

    def retire_stale_alerts(self) -> None:
        """Resolve the open alerts of checks removed from the config since the last run."""
        configured = {lc.config.name for lc in self.checks.values()}
        now = self.clock.now()
        self._log_notes(self._settle(self.judge.retire(configured, now, self.config.defaults),
                                     now), self.clock.wall())

    def _save_learned(self, now: float, everything: bool = False) -> None:
        """Store what learned thresholds learned: hourly per series, and all at shutdown.

        A failure costs at most what was learned since the last save, so it is logged
        rather than raised.
        """
        due = self.judge.learned_due(now, everything)
        if not due:
            return
        self.writer.submit(writes.learned(due, now))
        self.judge.learned_saved([key for key, _ in due], now)

    def _log_result(self, lc: LiveCheck, result: CheckResult, verdict: Verdict) -> None:
        """One line per run with the judged status (INFO on the first run and on problems)."""
        level = logging.INFO if lc.runs == 1 or verdict.status is not Status.OK \
            else logging.DEBUG
        if not log.isEnabledFor(level):
            return  # formatting every metric of every run costs more than the check
        metrics = " ".join(f"{s.series}={format_value(s.metric, s.value)}"
                           for s in result.samples)
        # The thresholds' reasons, when they and not the check itself make it a problem.
        why = "; ".join(f.why for f in verdict.problems() if f.key.metric != STATUS_METRIC)
        log.log(level, "check %s: %s - %s%s%s", lc.config.name, verdict.status.value.upper(),
                result.summary, f" ({why})" if why else "", f" [{metrics}]" if metrics else "")
