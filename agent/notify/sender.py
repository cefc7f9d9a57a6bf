"""Sending through Apprise in a child process (the agent never imports Apprise).

The child stays warm while messages flow: it imports Apprise once and answers request after
request (several at once), and is told to exit after ``idle`` seconds without one. It runs
in a session of its own and is SIGKILLed by the kernel if the agent dies
(``agent.children``). Whatever it does (crash, hang, print garbage), these functions return
one result per (message, target) and never raise: a result the child did not give is a
retryable failure, which the outbox sends again. Error texts are masked.

A request the child does not finish within its timeout retires that child: new requests go
to a fresh one, and the old one is killed with its whole process group once nothing else is
waiting on it.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType

from agent.notify.masking import fallback_form, mask_text, scrub
from agent.notify.message import Message
from agent.notify.protocol import (
    Answer,
    SendResult,
    UrlVerdict,
    decode_send_line,
    decode_validate_line,
    encode_send,
    encode_validate,
)
from agent.notify.sender_child import EXIT_GRACE, IDLE, Child, OnAnswer, Pending


class WarmSender:
    """The agent's notification sender: one warm child at a time, started on demand,
    reused across sends and told to exit after ``idle`` seconds without a request.

    Bound to the event loop it is first used on. ``aclose()`` stops the child (the agent's
    shutdown); it is also an async context manager.
    """

    def __init__(self, idle: float = IDLE) -> None:
        self.idle = idle
        self._child: Child | None = None
        self._children: set[Child] = set()
        self._ids = itertools.count(1)
        self._idle_timer: asyncio.TimerHandle | None = None
        #: Children started so far (reuse shows as one child for many sends).
        self.started = 0

    async def __aenter__(self) -> WarmSender:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    @property
    def pid(self) -> int | None:
        """The warm child's pid (None when none is running)."""
        child = self._child
        return None if child is None or child.retired else child.pid

    async def send_many(self, targets: Sequence[str], messages: Sequence[Message],
                        timeout: float, storage: str | None = None
                        ) -> list[list[SendResult]]:
        """Send every message to every target; ``result[message][target]``.

        ``storage`` is the folder of Apprise's persistent store (see ``Request.storage``).
        """
        results: list[list[SendResult | None]] = [[None] * len(targets) for _ in messages]
        if not targets or not messages:
            return [[SendResult(False, "nothing to send") for _ in targets] for _ in messages]

        def on_answer(answer: Answer) -> bool:
            parsed = decode_send_line(answer.fields)
            if parsed is None:
                return False
            m, t, result = parsed
            if m >= len(messages) or t >= len(targets):
                return False
            results[m][t] = SendResult(result.ok, scrub(result.error, [targets[t]])
                                       if result.error else result.error, result.permanent)
            return True

        problem = await self._ask(lambda rid: encode_send(targets, messages, storage, rid),
                                  timeout, on_answer)
        missing = SendResult(False, problem or "notification sender gave no answer")
        return [[r if r is not None else missing for r in row] for row in results]

    async def validate_urls(self, urls: Sequence[str], timeout: float = 60.0
                            ) -> list[UrlVerdict]:
        """Apprise's verdict on each URL (whether it accepts it, how to show it, which
        parts are secret). A URL the child gave no answer for is refused with the reason,
        and shown in the fallback form."""
        if not urls:
            return []
        answers: list[UrlVerdict | None] = [None] * len(urls)

        def on_answer(answer: Answer) -> bool:
            parsed = decode_validate_line(answer.fields)
            if parsed is None or parsed[0] >= len(urls):
                return False
            i, verdict = parsed
            error = verdict.error
            if error is not None:  # masked by the child already; the raw URL never passes
                error = mask_text(error.replace(urls[i].strip(), verdict.form.shown),
                                  verdict.form.secrets)
            answers[i] = UrlVerdict(error, verdict.form)
            return True

        problem = await self._ask(lambda rid: encode_validate(urls, rid), timeout, on_answer)
        why = f"could not validate: {problem or 'no answer'}"
        return [a if a is not None else UrlVerdict(why, fallback_form(u))
                for a, u in zip(answers, urls, strict=True)]

    async def aclose(self) -> None:
        """Let the child finish what it is doing (a few seconds at most), then stop it."""
        self._cancel_idle()
        children, self._child = list(self._children), None
        await asyncio.gather(*(c.stop(grace=EXIT_GRACE) for c in children))
        self._children.difference_update(children)

    # -- the request cycle -------------------------------------------------------------

    async def _ask(self, build: Callable[[int], bytes], timeout: float,
                   on_answer: OnAnswer) -> str | None:
        """Send one request and wait for its end: None when the child finished it, else
        why not (it failed to start, exited, hung past ``timeout``)."""
        loop = asyncio.get_running_loop()
        self._cancel_idle()
        try:
            child = self._current(loop)
        except OSError as exc:
            return f"could not start the notification sender ({sys.executable}): {exc}"
        rid = next(self._ids)
        pending = Pending(on_answer, loop.create_future())
        child.pending[rid] = pending
        try:
            async with asyncio.timeout(timeout):
                # Shielded: a request cut in half would corrupt the next one too.
                await asyncio.shield(child.write(build(rid) + b"\n"))
                problem = await pending.done
            return None if problem is None else child.noted(problem)
        except TimeoutError:
            await self._retire(child, rid)
            return child.noted(f"notification sender did not finish within {timeout:g}s")
        finally:
            child.pending.pop(rid, None)
            self._after_request(loop)

    def _current(self, loop: asyncio.AbstractEventLoop) -> Child:
        child = self._child
        if child is not None and not child.retired and child.loop is loop:
            return child
        child = Child.start(loop, self.idle)
        self.started += 1
        self._child = child
        self._children.add(child)
        assert child.gone is not None
        child.gone.add_done_callback(lambda _: self._children.discard(child))
        return child

    async def _retire(self, child: Child, rid: int) -> None:
        """A request timed out: the child may be wedged. New requests get a fresh child;
        this one is killed now if nothing else waits on it, else when that is over."""
        child.retired = True
        if self._child is child:
            self._child = None
        child.pending.pop(rid, None)
        if not child.pending:
            await asyncio.shield(child.stop())

    def _after_request(self, loop: asyncio.AbstractEventLoop) -> None:
        for child in list(self._children):
            if child.retired and not child.pending and child is not self._child:
                child.close_input()
                loop.call_later(EXIT_GRACE, child.kill_if_running)
        if self._child is not None and not self._child.pending:
            self._idle_timer = loop.call_later(self.idle, self._idle_expired)

    def _idle_expired(self) -> None:
        self._idle_timer = None
        child, self._child = self._child, None
        if child is not None and not child.pending:
            child.close_input()
            child.loop.call_later(EXIT_GRACE, child.kill_if_running)

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None


#: The shared sender of each event loop (the agent has one loop; tests one per test).
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WarmSender] = \
    weakref.WeakKeyDictionary()


def shared() -> WarmSender:
    """The running event loop's warm sender."""
    loop = asyncio.get_running_loop()
    found = _SHARED.get(loop)
    if found is None:
        found = _SHARED[loop] = WarmSender()
    return found


async def send_many(targets: Sequence[str], messages: Sequence[Message],
                    timeout: float, storage: str | None = None) -> list[list[SendResult]]:
    """Send every message to every target through the loop's warm child;
    ``result[message][target]`` (the dispatcher's ``SendMany``)."""
    return await shared().send_many(targets, messages, timeout, storage)


async def aclose() -> None:
    """Stop the running loop's warm child (the agent's shutdown, after the last send)."""
    loop = asyncio.get_running_loop()
    found = _SHARED.pop(loop, None)
    if found is not None:
        await found.aclose()


async def send(targets: Sequence[str], message: Message, timeout: float) -> list[SendResult]:
    """Send one message to each target, in a child of its own; one result per target."""
    if not targets:
        return []
    async with WarmSender() as one:
        return (await one.send_many(targets, [message], timeout))[0]


async def validate_urls(urls: Sequence[str], timeout: float = 60.0) -> list[UrlVerdict]:
    """Apprise's verdict on each URL, all asked of one child of their own (see
    ``WarmSender.validate_urls``)."""
    if not urls:
        return []
    async with WarmSender() as one:
        return await one.validate_urls(urls, timeout)
