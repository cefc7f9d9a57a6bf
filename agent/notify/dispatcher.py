"""The dispatcher: sends what the outbox holds, in order per incident, and records the
outcome.

Delivery is at least once: a row is marked sent only after the service accepted it, so a
crash before the store has that mark sends it again, with the same dedup key in the
message. The outbox lives in memory (``agent.notify.outbox``): sending never waits on the
database, and what is decided while the database cannot be written is still sent. Every
outcome goes to the store through the write sink.

A channel with ``group_wait`` holds each target's rows for that long after the oldest
and then sends them as ONE message (see ``agent.notify.grouping``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent
from agent.clock import Clock
from agent.notify.backoff import RetryPolicy
from agent.notify.grouping import groups_target, release_at
from agent.notify.incident_keys import keyed_url
from agent.notify.masking import mask_url, scrub
from agent.notify.message import Message, render, render_group
from agent.notify.native_urls import native_kind
from agent.notify.outbox import Outbox, Recorded, TargetId
from agent.notify.protocol import SendResult
from agent.notify.sender import send_many
from agent.store import OutboxRow, writes
from agent.store.writes import WriteSink
from agent.units import format_duration

if TYPE_CHECKING:
    from agent.config.models import Channel

log = logging.getLogger("watchkeeper.notify")

#: ``(targets, messages, timeout) -> result[message][target]``; never raises.
SendMany = Callable[[Sequence[str], Sequence[Message], float], Awaitable[list[list[SendResult]]]]
#: ``(url, events, grouped, timeout) -> result per event`` for the targets the agent sends
#: itself (webhook v1, Alertmanager: ``agent.notify.native``); never raises.
NativeSend = Callable[[str, Sequence[AlertEvent], bool, float], Awaitable[list[SendResult]]]


class Dispatcher:
    """Takes what may go from the outbox, sends it per target, and records the outcome.

    ``run()`` is the long-lived task; ``wake()`` after queuing new rows; ``drain()`` on
    shutdown.
    """

    def __init__(self, outbox: Outbox, store: WriteSink, channels: Mapping[str, Channel],
                 clock: Clock, *, sender: SendMany = send_many, batch: int = 100,
                 send_timeout: float = 120.0, concurrency: int = 4, idle_wait: float = 60.0,
                 keep_done: float = 7 * 86400.0, rng: random.Random | None = None,
                 on_outcome: Callable[[Recorded, float], None] | None = None,
                 native: NativeSend | None = None) -> None:
        self.outbox = outbox
        #: Adds what a message shows but the store does not keep (the acknowledgement
        #: link), just before it is rendered.
        self.decorate: Callable[[AlertEvent], AlertEvent] | None = None
        self._native = native
        #: Told of each attempt's outcome, with its time (the incident log).
        self.on_outcome = on_outcome
        self.store = store
        self.channels: Mapping[str, Channel] = dict(channels)
        self.clock = clock
        self.batch = batch
        self.send_timeout = send_timeout
        self.idle_wait = idle_wait
        self.keep_done = keep_done
        self._send = sender
        self._rng = rng or random.Random()
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._pass = asyncio.Lock()
        self._last_prune: float | None = None
        #: When the earliest group the last pass held goes out (monotonic; None: none).
        self._held_until: float | None = None

    def _shown(self, event: AlertEvent) -> AlertEvent:
        return event if self.decorate is None else self.decorate(event)

    def wake(self) -> None:
        """New rows were queued: look at the outbox now."""
        self._wake.set()

    def reconfigure(self, channels: Mapping[str, Channel], retry: RetryPolicy) -> None:
        """Use a reloaded config's channels and backoff from the next pass on; a target
        already waiting keeps the wait it was given."""
        self.channels = dict(channels)
        self.outbox.retry = retry

    async def run(self) -> None:
        """Dispatch until cancelled."""
        while True:
            self._wake.clear()
            try:
                if await self.run_once():
                    continue  # what was sent may have let the next of an incident go
            except Exception:  # a bug here must not silence notifications for good
                log.exception("notification dispatch pass failed")
            wait = self._next_wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _next_wait(self) -> float:
        """Seconds until the next pass: a backing-off target's retry or a held group's
        release, at most ``idle_wait``."""
        mono = self.clock.monotonic()
        times = [t for t in (self.outbox.next_retry(), self._held_until) if t is not None]
        wait = min(times) - mono if times else self.idle_wait
        # A small floor keeps a clock that does not move from spinning the loop.
        return min(max(wait, 0.01), self.idle_wait)

    async def drain(self, timeout: float) -> bool:
        """Send what may go, for at most ``timeout`` seconds (on shutdown).

        Held groups go out at once rather than wait. True when nothing is left. What is
        left stays queued for the next start.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while await self.run_once(hold=False):
                    pass
        left = len(self.outbox)
        if left:
            log.warning("%d notification(s) still queued; they are sent after the next "
                        "start", left)
        return left == 0

    async def run_once(self, *, hold: bool = True) -> int:
        """One pass over the targets whose backoff has ended; returns how many rows were
        attempted. Rows a grouped target still holds are not counted; ``hold=False``
        sends them now."""
        async with self._pass:
            now, mono = self.clock.now(), self.clock.monotonic()
            sends: list[Awaitable[None]] = []
            held_until: float | None = None
            handled = 0
            for target in self.outbox.ready_targets(mono):
                channel = self.channels.get(target[0])
                if channel is None or not 0 <= target[1] < len(channel.urls):
                    handled += self._drop(target, channel, now)
                    continue
                url = channel.urls[target[1]]
                wait = channel.group_wait
                if not groups_target(url, wait):
                    rows = self.outbox.sendable(target, False, self.batch)
                    handled += len(rows)
                    sends.extend(self._send_each(target, url, rows))
                    continue
                rows = self.outbox.sendable(target, True, self.batch)
                release = release_at(rows, wait)
                if hold and release > now:
                    at = mono + (release - now)
                    held_until = at if held_until is None else min(held_until, at)
                    continue
                handled += len(rows)
                sends.append(self._send_grouped(target, url, rows))
            self._held_until = held_until
            await asyncio.gather(*sends)
            self._prune(now)
            return handled

    def _send_each(self, target: TargetId, url: str,
                   rows: list[OutboxRow]) -> list[Awaitable[None]]:
        """One send per keyed URL (PagerDuty and Opsgenie get one per incident)."""
        by_url: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_url.setdefault(keyed_url(url, row.event.incident), []).append(row)
        return [self._send_rows(target, keyed, group) for keyed, group in by_url.items()]

    def _drop(self, target: TargetId, channel: Channel | None, now: float) -> int:
        if channel is None:
            why = f"channel {target[0]!r} no longer exists in the config"
        else:
            why = (f"channel {target[0]!r} has no target #{target[1]} any more "
                   f"(it has {len(channel.urls)})")
        dropped = [self.outbox.give_up(row, why, now) for row in self.outbox.queued(target)]
        for row in dropped:
            log.error("dropping notification %s: %s", _what(row), why)
        self.store.submit(writes.attempted(dropped))
        if self.on_outcome is not None:
            self.on_outcome(Recorded(dead=tuple(dropped)), now)
        return len(dropped)

    async def _send_rows(self, target: TargetId, url: str, rows: list[OutboxRow]) -> None:
        """Send rows to one URL in one child and record each outcome."""
        where = f"channel {target[0]} #{target[1]} ({mask_url(url)})"
        async with self._limit:
            try:
                if native_kind(url) is not None:
                    outcome = await self._send_native(url, [self._shown(r.event) for r in rows],
                                                      False)
                else:
                    results = await self._send([url], [render(self._shown(r.event))
                                                       for r in rows], self.send_timeout)
                    outcome = [r[0] for r in results]
                if len(outcome) != len(rows):
                    raise ValueError(f"sender gave {len(outcome)} results for {len(rows)}")
            except Exception as exc:  # the sender promises not to raise; stay up if it does
                outcome = [SendResult(False, f"sending failed: {type(exc).__name__}: {exc}")
                           ] * len(rows)
        self._record(target, list(zip(rows, outcome, strict=True)), url, where)

    async def _send_grouped(self, target: TargetId, url: str, rows: list[OutboxRow]) -> None:
        """Send one grouped target's rows as ONE message; every row shares the outcome."""
        if len(rows) == 1:
            await self._send_rows(target, url, rows)
            return
        where = (f"channel {target[0]} #{target[1]} ({mask_url(url)}) in a group of "
                 f"{len(rows)}")
        async with self._limit:
            try:
                if native_kind(url) is not None:
                    outcomes = await self._send_native(url, [self._shown(r.event) for r in rows],
                                                       True)
                else:
                    message = render_group([self._shown(r.event) for r in rows])
                    results = await self._send([url], [message], self.send_timeout)
                    if len(results) != 1 or len(results[0]) != 1:
                        raise ValueError(f"sender gave {len(results)} results for 1")
                    outcomes = [results[0][0]] * len(rows)
                if len(outcomes) != len(rows):
                    raise ValueError(f"sender gave {len(outcomes)} results for {len(rows)}")
            except Exception as exc:  # the sender promises not to raise; stay up if it does
                outcomes = [SendResult(False, f"sending failed: {type(exc).__name__}: {exc}")
                            ] * len(rows)
        self._record(target, list(zip(rows, outcomes, strict=True)), url, where)

    async def _send_native(self, url: str, events: list[AlertEvent],
                           grouped: bool) -> list[SendResult]:
        if self._native is None:
            # Imported on first use: an agent without such targets never loads httpx here.
            from agent.notify.native import NativeSender

            self._native = NativeSender(self.clock).send
        return await self._native(url, events, grouped, self.send_timeout)

    def _record(self, target: TargetId, outcome: list[tuple[OutboxRow, SendResult]],
                url: str, where: str) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        masked = [(row, SendResult(r.ok, scrub(r.error or "unknown error", [url]), r.permanent)
                   if not r.ok else r) for row, r in outcome]
        done = self.outbox.record(target, masked, now, mono, rand=self._rng.random())
        self._log(done, where, now)
        if self.on_outcome is not None:
            self.on_outcome(done, now)
        if done.sent:
            self.store.submit(writes.sent([r.id for r in done.sent], now))
        if done.attempted:
            self.store.submit(writes.attempted(done.attempted))

    def _log(self, done: Recorded, where: str, now: float) -> None:
        for row in done.sent:
            log.info("sent notification %s to %s (attempt %d)", _what(row), where,
                     row.attempts)
        for row in done.retry:
            log.warning("sending notification %s to %s failed (attempt %d): %s; "
                        "retrying in %s", _what(row), where, row.attempts, row.last_error,
                        format_duration(row.next_attempt_at - now))
        for row in done.dead:
            timed_out = now >= row.created_at + self.outbox.retry.give_up_after
            reason = (f"trying for {format_duration(now - row.created_at)}" if timed_out
                      else "a permanent error")
            log.error("giving up on notification %s to %s after %s (attempt %d): %s",
                      _what(row), where, reason, row.attempts, row.last_error)

    def _prune(self, now: float) -> None:
        """Forget sent and dead rows after ``keep_done`` (at most once an hour)."""
        if self._last_prune is not None and now - self._last_prune < 3600:
            return
        self._last_prune = now
        self.store.submit(writes.prune_outbox(now - self.keep_done))


def _what(row: OutboxRow) -> str:
    ev = row.event
    return f"{ev.kind.value.upper()} {ev.key.as_text()} [{row.dedup_key}]"
