"""The process table as the ``process`` check needs it: who runs, what they use, pidfiles.

Reading is done through psutil and is blocking (run it in a thread); choosing among the
processes (``match_name``, ``match_cmdline``) is pure, and ``find_cmdline`` searches
in bounded time off the event loop.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from agent.errors import CheckError
from checks.shared.patterns import PatternTimeoutError, bounded_pattern, search_each

#: psutil's name for a process that has exited but not been reaped: not running.
_ZOMBIE = psutil.STATUS_ZOMBIE
#: Largest pidfile read: a pid and a newline, with room for junk we then refuse.
_PIDFILE_MAX = 4096


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """Who a process is: pid, start time (seconds since the epoch), name and argv."""

    pid: int
    create_time: float
    name: str
    cmdline: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[int, float]:
        """Identity that survives pid reuse: the pid and when it started."""
        return (self.pid, self.create_time)


@dataclass(frozen=True, slots=True)
class ProcUsage:
    """What one process uses now: resident memory, CPU seconds so far, open descriptors
    (None when they cannot be read: another user's process, without root)."""

    key: tuple[int, float]
    rss_bytes: float
    cpu_seconds: float
    open_fds: int | None


def list_processes() -> list[ProcInfo]:
    """Every live process that is not a zombie (blocking)."""
    found: list[ProcInfo] = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "create_time", "status"]):
        info = proc.info
        if info.get("status") == _ZOMBIE or info.get("create_time") is None:
            continue
        found.append(ProcInfo(pid=int(info["pid"]), create_time=float(info["create_time"]),
                              name=str(info.get("name") or ""),
                              cmdline=tuple(info.get("cmdline") or ())))
    return found


def process_info(pid: int) -> ProcInfo | None:
    """The process with this pid, or None when there is none (or only a zombie)."""
    if pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() == _ZOMBIE:
                return None
            try:
                cmdline = tuple(proc.cmdline())
            except psutil.AccessDenied:
                cmdline = ()
            return ProcInfo(pid, proc.create_time(), proc.name(), cmdline)
    except psutil.NoSuchProcess:
        return None


def match_name(procs: Iterable[ProcInfo], name: str, exclude_pid: int) -> list[ProcInfo]:
    """Processes called ``name``: the kernel's process name (psutil widens the 15-character
    kernel name from argv when it was cut) or the file name of argv[0]."""
    return [p for p in procs if p.pid != exclude_pid
            and (p.name == name or (p.cmdline and os.path.basename(p.cmdline[0]) == name))]


def match_cmdline(procs: Iterable[ProcInfo], pattern: re.Pattern[str],
                  exclude_pid: int) -> list[ProcInfo]:
    """Processes whose command line (argv joined by spaces) the regex finds a match in."""
    return [p for p in procs if p.pid != exclude_pid and p.cmdline
            and pattern.search(" ".join(p.cmdline))]


def valid_cmdline_pattern(value: str) -> str:
    """``value`` when ``re`` and ``regex`` (which searches, see ``find_cmdline``) both
    read it; ValueError otherwise."""
    try:
        re.compile(value)
        bounded_pattern(value)
    except (re.error, ValueError) as exc:
        raise ValueError(f"cmdline is not a valid regular expression: {exc}") from None
    return value


async def find_cmdline(procs: Iterable[ProcInfo], pattern: str, exclude_pid: int,
                       time_left: float) -> list[ProcInfo]:
    """``match_cmdline`` in bounded time, off the event loop: any local user writes the
    command lines searched, and a pattern that backtracks on one (``(a+)+$`` against a
    long run of ``a``) would freeze the whole agent. CheckError past ``time_left``."""
    candidates = [p for p in procs if p.pid != exclude_pid and p.cmdline]
    try:
        found = await search_each(pattern, [" ".join(p.cmdline) for p in candidates],
                                  time_left)
    except PatternTimeoutError as exc:
        raise CheckError(f"cmdline pattern took too long: {exc} over {len(candidates)} "
                         "command lines (a pattern that backtracks; simplify it)") from None
    return [p for p, hit in zip(candidates, found, strict=True) if hit]


def with_descendants(roots: Iterable[ProcInfo]) -> list[ProcInfo]:
    """The given processes and every process below them, each once (blocking)."""
    out: dict[int, ProcInfo] = {}
    for root in roots:
        out.setdefault(root.pid, root)
        try:
            children = psutil.Process(root.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                info = ProcInfo(child.pid, child.create_time(), child.name())
            except psutil.NoSuchProcess:
                continue
            out.setdefault(info.pid, info)
    return list(out.values())


def read_usage(procs: Iterable[ProcInfo]) -> list[ProcUsage]:
    """Memory, CPU time and descriptors of each process still alive (blocking).

    A process that exited, or whose pid now belongs to another process, is left out.
    """
    out: list[ProcUsage] = []
    for info in procs:
        try:
            proc = psutil.Process(info.pid)
            with proc.oneshot():
                if abs(proc.create_time() - info.create_time) > 0.01:
                    continue  # the pid was reused
                times = proc.cpu_times()
                rss = float(proc.memory_info().rss)
                try:
                    fds: int | None = proc.num_fds()
                except (psutil.AccessDenied, AttributeError):  # no num_fds on Windows
                    fds = None
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        out.append(ProcUsage(info.key, rss, float(times.user + times.system), fds))
    return out


class PidfileError(CheckError):
    """A pidfile that cannot be used: unreadable, or not holding a pid."""


def read_pidfile(path: Path) -> int | None:
    """The pid a pidfile names, or None when the file does not exist.

    Raises PidfileError when it cannot be read or does not hold one positive number
    (blank lines and surrounding whitespace are allowed, as daemons write them).
    """
    try:
        # O_NONBLOCK: a FIFO (or a device) put where the pidfile should be is refused at
        # once rather than waited on forever by a thread the whole agent shares.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PidfileError(f"pidfile {path} is not a regular file")
            with os.fdopen(fd, "rb") as fh:
                fd = -1
                data = fh.read(_PIDFILE_MAX)
        finally:
            if fd >= 0:
                os.close(fd)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise PidfileError(f"cannot read pidfile {path}: permission denied "
                           "(let the agent's user read it)") from None
    except OSError as exc:
        raise PidfileError(f"cannot read pidfile {path}: {exc.strerror or exc}") from None
    text = data.decode("utf-8", "replace").strip()
    first = text.split(None, 1)[0] if text else ""
    if not re.fullmatch(r"[0-9]+", first) or int(first) <= 0:
        shown = (first[:20] + "...") if len(first) > 20 else first
        raise PidfileError(f"pidfile {path} does not hold a process id "
                           f"({'it is empty' if not text else f'found {shown!r}'})")
    return int(first)
