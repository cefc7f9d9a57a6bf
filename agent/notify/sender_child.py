"""One Apprise sender child process, as the agent sees it: started in a session of its own
that dies with the agent, fed request lines on stdin, its answer lines routed by request
id to whoever waits on them, and reaped when its output ends (``agent.notify.sender``
keeps it warm and decides when it goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import agent
from agent.children import die_with_parent, kill_group
from agent.notify.protocol import Answer, decode_answer

CHILD_MODULE = "agent.notify.apprise_child"
#: Seconds without a request after which the warm child is told to exit.
IDLE = 60.0
#: The child's own limit (``WATCHKEEPER_SENDER_IDLE``), in case the agent cannot tell it:
#: a stopped or wedged agent must not keep it forever.
CHILD_IDLE_FACTOR = 2.0
#: The longest answer line kept; a child writing more without a newline is broken.
_MAX_LINE = 1024 * 1024
#: How long a child told to exit may finish what it is doing before it is killed.
EXIT_GRACE = 5.0
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
class Pending:
    """A request in flight: where its answers go and when it is over."""

    on_answer: OnAnswer
    done: asyncio.Future[str | None]


@dataclass(eq=False)
class Child:
    """One running child and the requests it is answering."""

    proc: subprocess.Popen[bytes]
    loop: asyncio.AbstractEventLoop
    pending: dict[int, Pending] = field(default_factory=dict)
    garbage: int = 0
    #: No new request goes here (told to exit, timed out, or its output ended).
    retired: bool = False
    gone: asyncio.Future[str] | None = None
    _buf: bytes = b""
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def start(cls, loop: asyncio.AbstractEventLoop, idle: float) -> Child:
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
        code = await _wait_exit(self.proc, EXIT_GRACE)
        if code is None:
            self.kill()
            code = await _wait_exit(self.proc, EXIT_GRACE)
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
                await asyncio.wait_for(asyncio.shield(self.gone), EXIT_GRACE * 2)


async def _wait_exit(proc: subprocess.Popen[bytes], within: float) -> int | None:
    """The exit code once ``proc`` has exited (its output already ended), or None."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    delay = 0.001
    while (code := proc.poll()) is None and loop.time() < end:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return code
