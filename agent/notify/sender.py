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
import contextlib
import itertools
import os
import subprocess
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import agent
from agent.children import die_with_parent, kill_group
from agent.notify.masking import fallback_form, mask_text, scrub
from agent.notify.message import Message
from agent.notify.protocol import (
    Answer,
    SendResult,
    UrlVerdict,
    decode_answer,
    decode_send_line,
    decode_validate_line,
    encode_send,
    encode_validate,
)

CHILD_MODULE = "agent.notify.apprise_child"
#: Seconds without a request after which the warm child is told to exit.
IDLE = 60.0
#: The child's own limit (``WATCHKEEPER_SENDER_IDLE``), in case the agent cannot tell it:
#: a stopped or wedged agent must not keep it forever.
CHILD_IDLE_FACTOR = 2.0
#: The longest answer line kept; a child writing more without a newline is broken.
_MAX_LINE = 1024 * 1024
#: How long a child told to exit may finish what it is doing before it is killed.
_EXIT_GRACE = 5.0
#: Where the ``agent`` package lives, so the child finds it whatever the working directory.
_CODE_ROOT = str(Path(agent.__file__).resolve().parent.parent)


def child_command() -> list[str]:
    """The child's command line (no URLs: those travel on stdin)."""
    return [sys.executable, "-m", CHILD_MODULE]


def _child_env(idle: float) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _CODE_ROOT + (os.pathsep + path if path else "")
    env["WATCHKEEPER_SENDER_IDLE"] = f"{idle * CHILD_IDLE_FACTOR + 10:g}"
    return env


#: Reads one answer of a request; returns whether it was one it understands.
OnAnswer = Callable[[Answer], bool]


@dataclass(eq=False)
class _Pending:
    """A request in flight: where its answers go and when it is over."""

    on_answer: OnAnswer
    done: asyncio.Future[str | None]


@dataclass(eq=False)
class _Child:
    """One running child and the requests it is answering."""

    proc: subprocess.Popen[bytes]
    loop: asyncio.AbstractEventLoop
    pending: dict[int, _Pending] = field(default_factory=dict)
    garbage: int = 0
    #: No new request goes here (told to exit, timed out, or its output ended).
    retired: bool = False
    gone: asyncio.Future[str] | None = None
    _buf: bytes = b""
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def start(cls, loop: asyncio.AbstractEventLoop, idle: float) -> _Child:
        proc = subprocess.Popen(
            child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=_child_env(idle), start_new_session=True,
            preexec_fn=die_with_parent())  # noqa: PLW1509 (see agent.children)
        assert proc.stdin is not None and proc.stdout is not None
        os.set_blocking(proc.stdin.fileno(), False)
        os.set_blocking(proc.stdout.fileno(), False)
        child = cls(proc, loop)
        child.gone = loop.create_future()
        loop.add_reader(proc.stdout.fileno(), child._readable)
        return child

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- answers ---------------------------------------------------------------------

    def _readable(self) -> None:
        assert self.proc.stdout is not None
        try:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._ended()
            return
        self._buf += chunk
        while b"\n" in self._buf:
            line, _, self._buf = self._buf.partition(b"\n")
            if line.strip():
                self._line(line)
        if len(self._buf) > _MAX_LINE:
            self._buf = b""
            self.garbage += 1
            self.kill()

    def _line(self, line: bytes) -> None:
        answer = decode_answer(line)
        if answer is None:
            self.garbage += 1
            return
        pending = self.pending.get(answer.request_id)
        if pending is None:
            return  # a late answer to a request that timed out: already counted failed
        if answer.done:
            if not pending.done.done():
                pending.done.set_result(answer.error)
        elif not pending.on_answer(answer):
            self.garbage += 1

    def _ended(self) -> None:
        """Its output ended: it exited or is about to. Reap it, then fail what is left."""
        self.retired = True
        assert self.proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.proc.stdout.fileno())
        self.loop.create_task(self._reap(), name="sender child reap")

    async def _reap(self) -> None:
        code = await _wait_exit(self.proc, _EXIT_GRACE)
        if code is None:
            self.kill()
            code = await _wait_exit(self.proc, _EXIT_GRACE)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        why = (f"notification sender exited with code {code}" if code is not None
               else "notification sender could not be stopped")
        why = self.noted(why)
        for pending in self.pending.values():
            if not pending.done.done():
                pending.done.set_result(why)
        assert self.gone is not None
        if not self.gone.done():
            self.gone.set_result(why)

    def noted(self, why: str) -> str:
        """``why`` with the unreadable lines this child wrote, if any."""
        return f"{why} after it wrote {self.garbage} unreadable line(s)" if self.garbage else why

    # -- requests --------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Send ``data`` (whole request lines); a child that stopped reading is left to
        its reaper, which fails what waits on it."""
        assert self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        async with self._write_lock:
            while view:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    ready = self.loop.create_future()
                    self.loop.add_writer(fd, ready.set_result, None)
                    try:
                        await ready
                    finally:
                        self.loop.remove_writer(fd)
                except OSError:  # BrokenPipeError: it died; its output ends too
                    return

    def close_input(self) -> None:
        """Tell the child to finish what it has and exit (a child that is not reading
        what it was sent is left to be killed)."""
        self.retired = True
        if self.proc.stdin is not None and not self._write_lock.locked():
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def kill(self) -> None:
        """SIGKILL the child and its process group."""
        self.retired = True
        kill_group(self.proc.pid)

    def kill_if_running(self) -> None:
        """Kill the child unless it has exited (it was told to a while ago)."""
        if self.gone is not None and not self.gone.done():
            self.kill()

    async def stop(self, grace: float = 0.0) -> None:
        """Close its input, give it ``grace`` seconds, then kill it; reaped on return."""
        self.close_input()
        assert self.gone is not None
        if grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.gone), grace)
        if not self.gone.done():
            self.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.gone), _EXIT_GRACE * 2)


async def _wait_exit(proc: subprocess.Popen[bytes], within: float) -> int | None:
    """The exit code once ``proc`` has exited (its output already ended), or None."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    delay = 0.001
    while (code := proc.poll()) is None and loop.time() < end:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return code


class WarmSender:
    """The agent's notification sender: one warm child at a time, started on demand,
    reused across sends and told to exit after ``idle`` seconds without a request.

    Bound to the event loop it is first used on. ``aclose()`` stops the child (the agent's
    shutdown); it is also an async context manager.
    """

    def __init__(self, idle: float = IDLE) -> None:
        self.idle = idle
        self._child: _Child | None = None
        self._children: set[_Child] = set()
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
        await asyncio.gather(*(c.stop(grace=_EXIT_GRACE) for c in children))
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
        pending = _Pending(on_answer, loop.create_future())
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

    def _current(self, loop: asyncio.AbstractEventLoop) -> _Child:
        child = self._child
        if child is not None and not child.retired and child.loop is loop:
            return child
        child = _Child.start(loop, self.idle)
        self.started += 1
        self._child = child
        self._children.add(child)
        assert child.gone is not None
        child.gone.add_done_callback(lambda _: self._children.discard(child))
        return child

    async def _retire(self, child: _Child, rid: int) -> None:
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
                loop.call_later(_EXIT_GRACE, child.kill_if_running)
        if self._child is not None and not self._child.pending:
            self._idle_timer = loop.call_later(self.idle, self._idle_expired)

    def _idle_expired(self) -> None:
        self._idle_timer = None
        child, self._child = self._child, None
        if child is not None and not child.pending:
            child.close_input()
            child.loop.call_later(_EXIT_GRACE, child.kill_if_running)

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
