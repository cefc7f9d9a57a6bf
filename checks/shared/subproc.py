"""Running a program without a shell: a helper (systemctl, journalctl) with a deadline and a
cap on how much of its output is kept, and the environment and clean-up of the programs a
user names (plugins, verify commands).

A program that overruns its deadline, or prints more than the cap, is killed (its whole
process group), so neither a hung bus call nor a log flood can stall or bloat the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.units import format_duration

_CHUNK = 65536

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


async def run_capped(argv: Sequence[str], *, timeout: float, cap: int,
                     env: Mapping[str, str] | None = None) -> Output:
    """Run ``argv`` (no shell) and collect its output, at most ``cap`` bytes of stdout.

    The environment is the agent's own plus ``QUIET_ENV`` plus ``env``. Raises
    FileNotFoundError / PermissionError when the program cannot be started, and
    TimeoutError when it has not finished within ``timeout`` seconds (it is killed).
    """
    full_env = {**os.environ, **QUIET_ENV, **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=full_env, start_new_session=True)
    out = bytearray()
    err = bytearray()
    capped = False

    async def read_out() -> None:
        nonlocal capped
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(_CHUNK):
            room = cap - len(out)
            if len(chunk) > room:
                out.extend(chunk[:max(room, 0)])
                capped = True
                kill_group(proc)  # it would block on a full pipe; stderr then reaches EOF
                return
            out.extend(chunk)

    async def read_err() -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(_CHUNK):
            if len(err) < _CHUNK:  # a little stderr is enough for a message
                err.extend(chunk[:_CHUNK - len(err)])

    try:
        async with asyncio.timeout(timeout):
            await asyncio.gather(read_out(), read_err())
            if not capped:
                await proc.wait()
    except TimeoutError:
        raise TimeoutError(f"{argv[0]} gave no answer within {format_duration(timeout)}") from None
    finally:
        if proc.returncode is None:
            await reap(proc)
    return Output(proc.returncode if proc.returncode is not None else -1,
                  bytes(out), bytes(err), capped)


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL a program started in its own session, with everything it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Kill a program started in its own session, with everything it started, and give it
    a second to be gone (so no zombie is left behind)."""
    kill_group(proc)
    with contextlib.suppress(TimeoutError, ProcessLookupError):
        await asyncio.wait_for(proc.wait(), 1.0)


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The exit code, as soon as the process ends (``proc.wait()`` also waits for its
    pipes to close, which a lingering child may keep open)."""
    while proc.returncode is None:
        await asyncio.sleep(0.02)
    return proc.returncode
