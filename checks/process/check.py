"""The ``process`` check: is a process running, what does it use, was it restarted."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, field_validator, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.errors import CheckError
from agent.model import CheckResult, Status
from agent.units import format_bytes, format_duration, format_number, format_percent
from checks.process.proc_table import (
    ProcInfo,
    ProcUsage,
    find_cmdline,
    list_processes,
    match_name,
    process_info,
    read_pidfile,
    read_usage,
    valid_cmdline_pattern,
    with_descendants,
)
from checks.shared.host import call_with_deadline
from checks.systemd.systemctl import (
    Runner,
    Systemctl,
    call_budget,
    run_program,
    systemd_booted,
    validate_unit_name,
)

T = TypeVar("T")

#: How far apart the two CPU readings of the very first run are.
FIRST_SAMPLE_SECONDS = 0.25
#: Start times further apart than this belong to different processes.
_SAME_START = 1.0

_SELECTORS = ("process_name", "cmdline", "pidfile", "unit")


class ProcessOptions(CheckOptions):
    """Exactly one selector: ``process_name`` (``name`` is the check's own name),
    ``cmdline`` (regex searched in the command line), ``pidfile`` (absolute path) or
    ``unit`` (a systemd unit's main PID).

    ``min_count`` / ``max_count`` bound how many may run (max only for process_name and cmdline).
    ``children: true`` adds the memory, CPU and descriptors of the processes' descendants
    (a pidfile's master and its workers); ``running`` still counts the selected ones.
    """

    process_name: str | None = Field(default=None, min_length=1)
    cmdline: str | None = Field(default=None, min_length=1)
    pidfile: Path | None = None
    unit: str | None = None
    min_count: int = Field(default=1, ge=0)
    max_count: int | None = Field(default=None, ge=1)
    children: bool = False
    systemctl: str = "systemctl"

    @field_validator("cmdline")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else valid_cmdline_pattern(value)

    @field_validator("pidfile")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute():
            raise ValueError(f"pidfile must be an absolute path, got {str(value)!r}")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_name(cls, value: str | None) -> str | None:
        return None if value is None else validate_unit_name(value)

    @model_validator(mode="after")
    def _one_selector(self) -> ProcessOptions:
        chosen = [s for s in _SELECTORS if getattr(self, s) is not None]
        if len(chosen) != 1:
            given = f" (got {', '.join(chosen)})" if chosen else ""
            raise ValueError("set exactly one of process_name, cmdline, pidfile or unit" + given)
        single = chosen[0] in ("pidfile", "unit")
        if single and self.max_count is not None:
            raise ValueError(f"max_count applies only to process_name or cmdline, not {chosen[0]}")
        if single and self.min_count > 1:
            raise ValueError(f"a {chosen[0]} names one process: min_count can be 0 or 1")
        if self.max_count is not None and self.max_count < self.min_count:
            raise ValueError(f"max_count ({self.max_count}) is below min_count "
                             f"({self.min_count})")
        return self

    def label(self) -> str:
        """How summaries name the selection: ``matching 'nginx'``."""
        if self.process_name is not None:
            return f"matching {self.process_name!r}"
        if self.cmdline is not None:
            return f"with a command line matching {self.cmdline!r}"
        if self.pidfile is not None:
            return f"from pidfile {self.pidfile}"
        return f"of unit {self.unit}"

    def selector_key(self) -> str:
        """What is watched, as kept in memory: a changed selector starts afresh."""
        return next(f"{s}={getattr(self, s)}" for s in _SELECTORS if getattr(self, s))


# --- pure pieces -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CpuMark:
    """CPU seconds of each process (by pid and start time) at one moment."""

    at_monotonic: float
    at_wall: float
    seconds: Mapping[tuple[int, float], float]


def cpu_percent(before: CpuMark, after: CpuMark) -> float:
    """CPU use of the processes between two marks, in percent of one CPU (a process busy
    on two cores reads 200%, as in ``top``).

    A process seen at both marks counts its CPU time in between; one that started after
    the first mark counts all its CPU time; one seen only later but started earlier (it
    matched only later) counts from the next run on. Counters that went back count zero.
    """
    elapsed = after.at_monotonic - before.at_monotonic
    if elapsed <= 0:
        return 0.0
    used = 0.0
    for key, secs in after.seconds.items():
        if key in before.seconds:
            used += max(secs - before.seconds[key], 0.0)
        elif key[1] >= before.at_wall:
            used += secs
    return used / elapsed * 100.0


@dataclass(frozen=True, slots=True)
class Identity:
    """The process whose restarts are counted: the oldest selected one."""

    pid: int
    started: float

    def same_as(self, other: Identity) -> bool:
        return self.pid == other.pid and abs(self.started - other.started) <= _SAME_START


@dataclass(frozen=True, slots=True)
class RestartMemory:
    """What ``ctx.memory`` keeps between runs (and agent restarts) for restart counting."""

    selector: str
    last: Identity | None = None
    restarts: int = 0

    @classmethod
    def load(cls, memory: Mapping[str, Any], selector: str) -> RestartMemory:
        """From memory; anything missing, malformed or for another selector starts afresh."""
        if memory.get("selector") != selector:
            return cls(selector)
        restarts = memory.get("restarts")
        pid, started = memory.get("pid"), memory.get("started")
        last = None
        if isinstance(pid, int) and isinstance(started, int | float):
            last = Identity(pid, float(started))
        return cls(selector, last,
                   restarts if isinstance(restarts, int) and restarts >= 0 else 0)

    def store(self, memory: MutableMapping[str, Any]) -> None:
        memory["selector"] = self.selector
        memory["restarts"] = self.restarts
        if self.last is not None:
            memory["pid"] = self.last.pid
            memory["started"] = self.last.started
        else:
            memory.pop("pid", None)
            memory.pop("started", None)


def observe_restart(before: RestartMemory, now: Identity | None
                    ) -> tuple[RestartMemory, Identity | None]:
    """The updated memory, and the previous process when a restart happened.

    A restart is a different watched process than the one last seen running: another main
    pid, or the same pid with a later start time (uptime went down). A process that is not
    running changes nothing; when one runs again, that is a restart.
    """
    if now is None:
        return before, None
    if before.last is None or before.last.same_as(now):
        return RestartMemory(before.selector, now, before.restarts), None
    return RestartMemory(before.selector, now, before.restarts + 1), before.last


# --- the check ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Selection:
    """The processes found, or (with none) why, when the reason is itself a problem."""

    procs: list[ProcInfo]
    stale: str | None = None
    absent: str | None = None


class ProcessCheck(Check[ProcessOptions]):
    """Processes by name, command line, pidfile or systemd unit.

    Metrics: ``running`` (how many match), ``rss_bytes`` (summed resident memory),
    ``cpu_percent`` (summed, over the time since the previous run, percent of one CPU),
    ``open_fds`` (summed over the processes whose descriptors can be read),
    ``uptime_seconds`` (of the oldest) and ``restarts`` (times the watched process, the
    oldest one, was replaced; kept in ``ctx.memory`` so it survives agent restarts).

    Fewer than ``min_count`` (or more than ``max_count``) running is CRITICAL, and so is a
    pidfile naming a process that is not running. The agent itself never matches a name or
    command line. The previous CPU readings live on the instance (a reading from before an
    agent restart would average over the downtime); the first run samples briefly.
    """

    kind: ClassVar[str] = "process"
    Options: ClassVar[type[CheckOptions]] = ProcessOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"running", "rss_bytes", "cpu_percent", "open_fds", "uptime_seconds", "restarts"})

    @classmethod
    def where(cls, options: ProcessOptions) -> str | None:
        # A command line pattern may quote a secret passed as an argument: not shown.
        if options.process_name:
            return f"process {options.process_name}"
        if options.pidfile is not None:
            return f"pidfile {options.pidfile}"
        return f"unit {options.unit}" if options.unit else None

    def __init__(self, name: str, options: ProcessOptions, *, runner: Runner | None = None,
                 booted: Callable[[], bool] | None = None) -> None:
        super().__init__(name, options)
        self.systemctl = Systemctl(binary=options.systemctl, runner=runner or run_program,
                                   booted=booted or systemd_booted)
        self._cpu: CpuMark | None = None

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Find the processes, measure them and count restarts."""
        opts = self.options
        try:
            found = await self._select(ctx)
        except CheckError as exc:
            return CheckResult.unknown(str(exc))
        measured = found.procs
        try:
            if opts.children and measured:
                roots = measured
                measured = await self._read(ctx, f"process {self.name} children",
                                            lambda: with_descendants(roots))
            usage, cpu = await self._measure(ctx, measured)
        except CheckError as exc:
            return CheckResult.unknown(str(exc))

        oldest = min(found.procs, key=lambda p: p.create_time, default=None)
        memory = RestartMemory.load(ctx.memory, opts.selector_key())
        memory, replaced = observe_restart(
            memory, Identity(oldest.pid, oldest.create_time) if oldest else None)
        memory.store(ctx.memory)

        fds = [u.open_fds for u in usage if u.open_fds is not None]
        metrics = {
            "running": float(len(found.procs)),
            "rss_bytes": sum(u.rss_bytes for u in usage),
            "cpu_percent": cpu,
            "uptime_seconds": max(ctx.clock.wall() - oldest.create_time, 0.0) if oldest else 0.0,
            "restarts": float(memory.restarts),
        }
        if fds or not usage:
            metrics["open_fds"] = float(sum(fds))
        restart_note = ""
        if replaced is not None and oldest is not None:
            restart_note = (f"; restarted since the last run (pid {replaced.pid} -> "
                            f"{oldest.pid}), {memory.restarts} restart"
                            f"{'s' if memory.restarts != 1 else ''} counted")
        status, head = self._verdict(found)
        if status is Status.OK:
            text = head + _usage_text(metrics, oldest, len(fds), len(usage)) + restart_note
            return CheckResult.ok(text, metrics=metrics)
        return CheckResult.failed(status, head + restart_note, metrics=metrics)

    def _verdict(self, found: _Selection) -> tuple[Status, str]:
        opts = self.options
        n = len(found.procs)
        if found.stale is not None:
            return Status.CRITICAL, found.stale
        if n == 0 and opts.min_count > 0:
            return Status.CRITICAL, found.absent or f"no process {opts.label()} is running"
        if n < opts.min_count:
            return Status.CRITICAL, (f"{_count(n)} {opts.label()} running, "
                                     f"expected at least {opts.min_count}")
        if opts.max_count is not None and n > opts.max_count:
            return Status.CRITICAL, (f"{_count(n)} {opts.label()} running, "
                                     f"expected at most {opts.max_count}")
        if n == 0:
            return Status.OK, found.absent or f"no process {opts.label()} is running"
        return Status.OK, f"{_count(n)} {opts.label()} running"

    async def _select(self, ctx: CheckContext) -> _Selection:
        opts = self.options
        own = os.getpid()
        if opts.process_name is not None:
            name = opts.process_name
            procs = await self._read(ctx, "process table", list_processes)
            return _Selection(match_name(procs, name, own))
        if opts.cmdline is not None:
            end = asyncio.get_running_loop().time() + call_budget(ctx.timeout)
            procs = await self._read(ctx, "process table", list_processes)
            left = end - asyncio.get_running_loop().time()
            return _Selection(await find_cmdline(procs, opts.cmdline, own, left))
        if opts.pidfile is not None:
            path = opts.pidfile
            pid = await self._read(ctx, f"pidfile {path}", lambda: read_pidfile(path),
                                   what=f"pidfile {path} could not be read")
            if pid is None:
                return _Selection([], absent=f"pidfile {path} does not exist")
            info = await self._read(ctx, f"process {pid}", functools.partial(process_info, pid))
            if info is None:
                return _Selection([], stale=f"pidfile {path} names pid {pid}, "
                                            "which is not running")
            return _Selection([info])
        assert opts.unit is not None
        pid = await self.systemctl.main_pid(opts.unit, call_budget(ctx.timeout))
        info = (await self._read(ctx, f"process {pid}", lambda: process_info(pid))
                if pid else None)
        if info is None:
            return _Selection([], absent=f"unit {opts.unit} has no running main process")
        return _Selection([info])

    @staticmethod
    async def _read(ctx: CheckContext, key: str, fn: Callable[[], T], *,
                    what: str = "reading the process table") -> T:
        """``fn`` (reads of /proc or a pidfile) in a daemon thread, not the shared executor:
        a pidfile on a hung mount, or /proc/PID/cmdline of a process stuck in the kernel,
        would hold its thread for good and starve every other check."""
        try:
            return await call_with_deadline(key, fn, call_budget(ctx.timeout))
        except TimeoutError as exc:
            raise CheckError(f"{what}: {exc}") from None

    async def _measure(self, ctx: CheckContext, procs: list[ProcInfo]
                       ) -> tuple[list[ProcUsage], float]:
        """Usage of each process and their summed CPU percent since the previous run."""
        before = self._cpu
        if before is None:
            # First run: no previous reading, so take two a moment apart.
            first = await self._read(ctx, f"process {self.name} usage",
                                     lambda: read_usage(procs))
            before = _mark(ctx, first)
            await asyncio.sleep(FIRST_SAMPLE_SECONDS)
        usage = await self._read(ctx, f"process {self.name} usage", lambda: read_usage(procs))
        after = _mark(ctx, usage)
        self._cpu = after
        return usage, cpu_percent(before, after)


def _mark(ctx: CheckContext, usage: list[ProcUsage]) -> CpuMark:
    return CpuMark(ctx.clock.monotonic(), ctx.clock.now(),
                   {u.key: u.cpu_seconds for u in usage})


def _count(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def _usage_text(metrics: Mapping[str, float], oldest: ProcInfo | None, readable: int,
                measured: int) -> str:
    if oldest is None:
        return ""
    parts = [f"pid {oldest.pid} up {format_duration(metrics['uptime_seconds'])}",
             f"rss {format_bytes(metrics['rss_bytes'])}",
             f"cpu {format_percent(metrics['cpu_percent'])}"]
    if "open_fds" in metrics:
        fds = f"{format_number(metrics['open_fds'])} open fds"
        if readable < measured:
            fds += f" (of {readable} of {measured} processes; the rest are not readable)"
        parts.append(fds)
    else:
        parts.append("open fds not readable (the agent needs root or the process's user)")
    return " (" + ", ".join(parts) + ")"
