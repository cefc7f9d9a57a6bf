"""The outbox dispatcher: sends due deliveries, retries failures, survives restarts.

Delivery is at least once: a row is marked sent only after the service accepted it, so a
crash in between sends it again, with the same dedup key in the message.

A channel with ``group_wait`` holds each target's due rows for that long after the oldest
and then sends them as ONE message (see ``agent.notify.grouping``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from agent.clock import Clock
from agent.errors import StateError
from agent.notify.backoff import RetryPolicy
from agent.notify.grouping import groups_target, release_at
from agent.notify.incident_keys import keyed_url
from agent.notify.masking import mask_url, scrub
from agent.notify.message import Message, render, render_group
from agent.notify.protocol import SendResult
from agent.notify.sender import send_many
from agent.store import OutboxRow, Store
from agent.units import format_duration

if TYPE_CHECKING:
    from agent.config.models import Channel

log = logging.getLogger("watchkeeper.notify")

#: ``(targets, messages, timeout) -> result[message][target]``; never raises.
SendMany = Callable[[Sequence[str], Sequence[Message], float], Awaitable[list[list[SendResult]]]]


class Dispatcher:
    """Takes due outbox rows, sends them grouped by target, and records the outcome.

    ``run()`` is the long-lived task; ``wake()`` after committing new deliveries;
    ``drain()`` on shutdown. Store calls run in a worker thread.
    """

    def __init__(self, store: Store, channels: Mapping[str, Channel], clock: Clock, *,
                 sender: SendMany = send_many, retry: RetryPolicy | None = None,
                 batch: int = 100, send_timeout: float = 120.0, concurrency: int = 4,
                 idle_wait: float = 60.0, keep_done: float = 7 * 86400.0,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.channels: Mapping[str, Channel] = dict(channels)
        self.clock = clock
        self.retry = retry or RetryPolicy()
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
        # The last pass's time, and when the earliest group it held goes out (None: none).
        self._pass_at = 0.0
        self._held_until: float | None = None

    def wake(self) -> None:
        """New deliveries were committed: look at the outbox now."""
        self._wake.set()

    def update_channels(self, channels: Mapping[str, Channel]) -> None:
        """Use a reloaded config's channels from the next pass on."""
        self.channels = dict(channels)

    async def run(self) -> None:
        """Dispatch until cancelled."""
        while True:
            self._wake.clear()
            try:
                handled = await self.run_once()
                if handled >= self.batch:
                    continue  # more may be due right now
                due_at = await asyncio.to_thread(self._next_wake)
            except StateError as exc:
                log.error("notification outbox unavailable: %s", exc)
                due_at = None
            except Exception:  # a bug here must not silence notifications for good
                log.exception("notification dispatch pass failed")
                due_at = None
            wait = self.idle_wait if due_at is None else due_at - self.clock.now()
            # A small floor keeps a clock that does not move from spinning the loop.
            wait = min(max(wait, 0.01), self.idle_wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def drain(self, timeout: float) -> bool:
        """Send what is due, for at most ``timeout`` seconds (on shutdown).

        Held groups go out at once rather than wait. True when nothing due is left. What
        is left stays queued for the next start.
        """
        try:
            async with asyncio.timeout(timeout):
                while await self.run_once(hold=False):
                    pass
            return True
        except TimeoutError:
            pass
        except StateError as exc:
            log.error("notification outbox unavailable: %s", exc)
        try:
            left = await asyncio.to_thread(self.store.pending_count)
        except StateError:
            return False
        if left:
            log.warning("%d notification(s) still queued; they are sent after the next "
                        "start", left)
        return left == 0

    async def run_once(self, *, hold: bool = True) -> int:
        """One pass over the rows due now; returns how many were handled.

        Rows a grouped target still holds are not counted; ``hold=False`` sends them now.
        """
        async with self._pass:
            now = self.clock.now()
            rows = await asyncio.to_thread(self.store.due, now, self.batch)
            targets: dict[tuple[str, int, str], list[OutboxRow]] = {}
            for row in rows:
                url = self._target_url(row)
                if url is None:
                    await self._drop(row, now)
                else:
                    targets.setdefault((row.channel, row.target, url), []).append(row)
            sends: list[Awaitable[None]] = []
            held_until: float | None = None
            handled = len(rows)
            for (channel, target, url), group in targets.items():
                wait = self._group_wait(channel)
                if not groups_target(url, wait):
                    sends.append(self._send_group(channel, target, url, group))
                    continue
                release = release_at(group, wait)
                if hold and release > now:
                    held_until = release if held_until is None else min(held_until, release)
                    handled -= len(group)
                    continue
                sends.append(self._send_grouped(channel, target, url, group))
            self._pass_at, self._held_until = now, held_until
            await asyncio.gather(*sends)
            await self._prune(now)
            return handled

    def _next_wake(self) -> float | None:
        """When the next pass is due: the earliest held group's release or the next row
        due after the last pass (held rows are due already: they must not spin the loop)."""
        held = self._held_until
        if held is None:
            return self.store.next_due_at()
        later = self.store.next_due_at(after=self._pass_at)
        return held if later is None else min(held, later)

    def _group_wait(self, channel: str) -> float:
        found = self.channels.get(channel)
        return 0.0 if found is None else found.group_wait

    def _target_url(self, row: OutboxRow) -> str | None:
        channel = self.channels.get(row.channel)
        if channel is None or not 0 <= row.target < len(channel.urls):
            return None
        return keyed_url(channel.urls[row.target], row.event.incident)

    async def _drop(self, row: OutboxRow, now: float) -> None:
        channel = self.channels.get(row.channel)
        if channel is None:
            why = f"channel {row.channel!r} no longer exists in the config"
        else:
            why = (f"channel {row.channel!r} has no target #{row.target} any more "
                   f"(it has {len(channel.urls)})")
        log.error("dropping notification %s: %s", _what(row), why)
        await asyncio.to_thread(self.store.mark_failed, row.id, now, why, None)

    async def _send_group(self, channel: str, target: int, url: str,
                          rows: list[OutboxRow]) -> None:
        """Send one target's rows in one child and record each outcome."""
        where = f"channel {channel} #{target} ({mask_url(url)})"
        messages = [render(r.event) for r in rows]
        async with self._limit:
            try:
                results = await self._send([url], messages, self.send_timeout)
                outcome = [r[0] for r in results]
                if len(outcome) != len(rows):
                    raise ValueError(f"sender gave {len(outcome)} results for {len(rows)}")
            except Exception as exc:  # the sender promises not to raise; stay up if it does
                outcome = [SendResult(False, f"sending failed: {type(exc).__name__}: {exc}")
                           ] * len(rows)
        now = self.clock.now()
        for row, result in zip(rows, outcome, strict=True):
            await self._record(row, result, url, where, now, rand=self._rng.random())

    async def _send_grouped(self, channel: str, target: int, url: str,
                            rows: list[OutboxRow]) -> None:
        """Send one grouped target's rows as ONE message; every row shares the outcome."""
        if len(rows) == 1:
            await self._send_group(channel, target, url, rows)
            return
        where = f"channel {channel} #{target} ({mask_url(url)}) in a group of {len(rows)}"
        message = render_group([r.event for r in rows])
        async with self._limit:
            try:
                results = await self._send([url], [message], self.send_timeout)
                if len(results) != 1 or len(results[0]) != 1:
                    raise ValueError(f"sender gave {len(results)} results for 1")
                outcome = results[0][0]
            except Exception as exc:  # the sender promises not to raise; stay up if it does
                outcome = SendResult(False, f"sending failed: {type(exc).__name__}: {exc}")
        now = self.clock.now()
        # One jitter draw for the group: its rows failed as one message, so they retry
        # together and go out as one message again.
        rand = self._rng.random()
        for row in rows:
            await self._record(row, outcome, url, where, now, rand=rand)

    async def _record(self, row: OutboxRow, result: SendResult, url: str, where: str,
                      now: float, *, rand: float) -> None:
        attempt = row.attempts + 1
        if result.ok:
            log.info("sent notification %s to %s (attempt %d)", _what(row), where, attempt)
            await asyncio.to_thread(self.store.mark_sent, row.id, now)
            return
        error = scrub(result.error or "unknown error", [url])
        retry_at = None if result.permanent else self.retry.next_attempt(
            row.created_at, now, attempt, rand)
        if retry_at is None:
            reason = ("a permanent error" if result.permanent else
                      f"trying for {format_duration(now - row.created_at)}")
            log.error("giving up on notification %s to %s after %s (attempt %d): %s",
                      _what(row), where, reason, attempt, error)
        else:
            log.warning("sending notification %s to %s failed (attempt %d): %s; "
                        "retrying in %s", _what(row), where, attempt, error,
                        format_duration(retry_at - now))
        await asyncio.to_thread(self.store.mark_failed, row.id, now, error, retry_at)

    async def _prune(self, now: float) -> None:
        """Forget sent and dead rows after ``keep_done`` (at most once an hour)."""
        if self._last_prune is not None and now - self._last_prune < 3600:
            return
        self._last_prune = now
        removed = await asyncio.to_thread(self.store.prune_outbox, now - self.keep_done)
        if removed:
            log.debug("pruned %d old outbox rows", removed)


def _what(row: OutboxRow) -> str:
    ev = row.event
    return f"{ev.kind.value.upper()} {ev.key.as_text()} [{row.dedup_key}]"
