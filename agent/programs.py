"""Running a program without a shell: a helper (systemctl, journalctl) with a deadline and a
cap on how much of its output is kept, and the environment and clean-up of the programs a
user names (plugins, verify commands).

A program runs in a session of its own and is SIGKILLed by the kernel if the agent dies
(``agent.children``). One that overruns its deadline, or prints more than the cap, is
killed (its whole process group, and what it moved out of it), so neither a hung bus call
nor a log flood can stall or bloat the agent; its pipes are drained and closed whatever
happens, so no run leaves a descriptor behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.children import die_with_parent, kill_group
from agent.strays import MARK_ENV, Stray, new_mark, sweep, sweep_orphans
from agent.units import format_duration

__all__ = ["PLAIN_ENV", "QUIET_ENV", "Finished", "Output", "exited", "kill_group", "reap",
           "run_capped", "run_program"]

log = logging.getLogger("watchkeeper.check")

_CHUNK = 65536
#: How long the pipes of a program that exited may stay open (a child of it holding them).
_PIPE_GRACE = 0.5
#: How long a killed program is given to be reaped.
_REAP_WAIT = 1.0

#: Environment overrides for helper programs: plain output, no pager, no colours.
QUIET_ENV: Mapping[str, str] = {
    "LC_ALL": "C.UTF-8",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
    "SYSTEMD_LESS": "",
    "PAGER": "cat",
}


#: PATH for the programs a user names (plugins, verify commands): the system's usual
#: directories, whatever the agent itself was started with.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: The whole environment such a program starts with (a check may add its own variables).
PLAIN_ENV: Mapping[str, str] = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}


@dataclass(frozen=True, slots=True)
class Output:
    """What a finished (or stopped) program left: exit code, output, and whether the
    output went past the cap (then ``stdout`` holds only the first ``cap`` bytes and the
    program was killed; ``returncode`` is then meaningless)."""

    returncode: int
    stdout: bytes
    stderr: bytes
    capped: bool = False

    @property
    def stderr_text(self) -> str:
        """The last non-empty line of stderr (what a summary can show)."""
        lines = [ln.strip() for ln in self.stderr.decode("utf-8", "replace").splitlines()]
        lines = [ln for ln in lines if ln]
        return lines[-1] if lines else ""


@dataclass(frozen=True, slots=True)
class Finished:
    """What a program run by ``run_program`` left.

    ``returncode`` is None when it did not end on its own (timed out, stopped at the cap or
    cancelled: then it was killed). ``overflow`` says stdout went past the cap: only the
    first ``cap`` bytes are kept, the rest was read and dropped. ``strays`` are processes it
    had moved out of its process group, found after it and killed where possible.
    """

    returncode: int | None
    stdout: bytes
    stderr: bytes
    overflow: bool = False
    timed_out: bool = False
    strays: tuple[Stray, ...] = ()


class _Drain:
    """Reads a pipe to its end from the event loop, keeping the first ``cap`` bytes and
    dropping the rest (so the writer never blocks on a full pipe). Owns the fd."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, cap: int) -> None:
        self.data = bytearray()
        self.dropped = 0
        self.eof: asyncio.Future[Any] = loop.create_future()
        self.overflowed: asyncio.Future[Any] = loop.create_future()
        self._loop, self._fd, self._cap = loop, fd, cap
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._loop.remove_reader(self._fd)
            if not self.eof.done():
                self.eof.set_result(None)
            return
        room = max(self._cap - len(self.data), 0)
        if len(chunk) > room:
            self.data.extend(chunk[:room])
            self.dropped += len(chunk) - room
            if not self.overflowed.done():
                self.overflowed.set_result(None)
        else:
            self.data.extend(chunk)

    def close(self) -> None:
        """Stop reading and close the pipe (idempotent)."""
        if self._fd < 0:
            return
        self._loop.remove_reader(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = -1


async def run_program(argv: Sequence[str], *, timeout: float, cap: int,
                      env: Mapping[str, str], cwd: str | os.PathLike[str] | None = None,
                      err_cap: int = _CHUNK,
                      started: Callable[[int], None] | None = None) -> Finished:
    """Run ``argv`` (no shell) with exactly ``env``, in a session of its own that dies with
    the agent, and collect at most ``cap`` bytes of stdout and ``err_cap`` of stderr.

    It is stopped (its whole process group killed) when it has not ended after ``timeout``
    seconds, as soon as stdout passes the cap, and, for whatever it left running, after it
    exits; processes it moved out of its group are swept too (``agent.strays``).
    Both pipes are read to their end and closed whatever happens, and the program is
    reaped. ``started`` gets its pid (to stop it from outside: ``kill_group``).
    Raises what starting it raises (FileNotFoundError, PermissionError, OSError).
    """
    loop = asyncio.get_running_loop()
    orphans = sweep_orphans()
    if orphans:
        log.warning("stopped what an agent that died had left running: %s",
                    "; ".join(f"{s.name} (pid {s.pid})" for s in orphans))
    mark = new_mark()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out_w, stderr=err_w,
            env={**env, MARK_ENV: mark}, cwd=cwd, start_new_session=True,
            preexec_fn=die_with_parent())  # see agent.children on its safety
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    out, err = _Drain(loop, out_r, cap), _Drain(loop, err_r, err_cap)
    if started is not None:
        started(proc.pid)
    exit_task: asyncio.Future[Any] = asyncio.ensure_future(proc.wait())
    timed_out = False
    strays: list[Stray] = []
    try:
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.wait({exit_task, out.overflowed},
                                   return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            timed_out = True
        if exit_task.done() and not out.overflowed.done():
            # Exited: let the pipes reach their end, unless something still holds them.
            grace = min(_PIPE_GRACE, max(deadline - loop.time(), 0.0))
            await asyncio.wait({out.eof, err.eof}, timeout=grace)
    finally:
        kill_group(proc.pid)
        strays = sweep(mark, proc.pid)
        try:
            # Killed, their ends of the pipes close: what is still in them is drained.
            await asyncio.shield(asyncio.wait({out.eof, err.eof, exit_task},
                                              timeout=_PIPE_GRACE))
        finally:
            out.close()
            err.close()
            if not exit_task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(exit_task), _REAP_WAIT)
    code = exit_task.result() if exit_task.done() and not (timed_out or
                                                            out.overflowed.done()) else None
    return Finished(code, bytes(out.data), bytes(err.data), out.overflowed.done(), timed_out,
                    tuple(strays))


async def run_capped(argv: Sequence[str], *, timeout: float, cap: int,
                     env: Mapping[str, str] | None = None) -> Output:
    """Run ``argv`` (no shell) and collect its output, at most ``cap`` bytes of stdout.

    The environment is the agent's own plus ``QUIET_ENV`` plus ``env``. Raises
    FileNotFoundError / PermissionError when the program cannot be started, and
    TimeoutError when it has not finished within ``timeout`` seconds (it is killed).
    """
    done = await run_program(argv, timeout=timeout, cap=cap,
                             env={**os.environ, **QUIET_ENV, **(env or {})})
    if done.timed_out:
        raise TimeoutError(f"{argv[0]} gave no answer within {format_duration(timeout)}")
    code = -1 if done.returncode is None else done.returncode
    return Output(code, done.stdout, done.stderr, done.overflow)


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Kill a program started in its own session, with everything it started, and give it
    a second to be gone (so no zombie is left behind)."""
    kill_group(proc.pid)
    with contextlib.suppress(TimeoutError, ProcessLookupError):
        await asyncio.wait_for(proc.wait(), 1.0)


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The exit code, as soon as the process ends (``proc.wait()`` also waits for its
    pipes to close, which a lingering child may keep open)."""
    while proc.returncode is None:
        await asyncio.sleep(0.02)
    return proc.returncode
