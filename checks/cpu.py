"""The ``cpu`` check: how busy the CPUs were since the previous run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import psutil

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult
from agent.units import format_percent
from checks.shared.host import percent

#: How far apart the two readings of the very first run are.
FIRST_SAMPLE_SECONDS = 0.25


class _TimesTuple(Protocol):
    """What psutil.cpu_times() returns: a named tuple whose fields differ per platform."""

    def _asdict(self) -> dict[str, Any]: ...


class CpuOptions(CheckOptions):
    """The cpu check takes no options."""


@dataclass(frozen=True, slots=True)
class CpuReading:
    """Cumulative CPU seconds (all CPUs together) at one moment.

    ``has_iowait`` / ``has_steal`` say whether the platform reports those times at all.
    """

    total: float
    idle: float
    iowait: float
    steal: float
    has_iowait: bool = True
    has_steal: bool = True

    @classmethod
    def from_psutil(cls, times: _TimesTuple) -> CpuReading:
        """From ``psutil.cpu_times()``, counting time the same way ``psutil.cpu_percent`` does."""
        fields = {k: float(v) for k, v in times._asdict().items()}
        # On Linux guest time is already inside user (and guest_nice inside nice).
        total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
        return cls(
            total=total,
            idle=fields.get("idle", 0.0),
            iowait=fields.get("iowait", 0.0),
            steal=fields.get("steal", 0.0),
            has_iowait="iowait" in fields,
            has_steal="steal" in fields,
        )


@dataclass(frozen=True, slots=True)
class CpuUsage:
    """CPU time shares between two readings, each in percent of all CPU time."""

    usage_percent: float
    iowait_percent: float
    steal_percent: float


def cpu_usage(before: CpuReading, after: CpuReading) -> CpuUsage | None:
    """The shares of CPU time between two readings; None when no CPU time passed.

    Busy is everything but idle and iowait (as ``psutil.cpu_percent`` counts it), so steal
    counts as busy: the guest wanted the CPU. Counters that went backwards count as zero.
    """
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None
    idle = max(after.idle - before.idle, 0.0)
    iowait = max(after.iowait - before.iowait, 0.0)
    steal = max(after.steal - before.steal, 0.0)
    return CpuUsage(
        usage_percent=percent(elapsed - idle - iowait, elapsed),
        iowait_percent=percent(iowait, elapsed),
        steal_percent=percent(steal, elapsed),
    )


async def read_cpu() -> CpuReading:
    """One reading of the cumulative CPU times."""
    return CpuReading.from_psutil(await asyncio.to_thread(psutil.cpu_times))


class CpuCheck(Check[CpuOptions]):
    """CPU usage averaged over the time since the previous run.

    Metrics: ``usage_percent`` (not idle, not waiting for I/O), ``iowait_percent`` and
    ``steal_percent``. iowait and steal are reported by Linux only; elsewhere they are 0.

    The previous reading lives on the check instance, not in ``ctx.memory``: a reading from
    before a restart would average over the downtime. The first run has no previous reading,
    so it takes two readings a moment apart.
    """

    kind: ClassVar[str] = "cpu"
    Options: ClassVar[type[CheckOptions]] = CpuOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"usage_percent", "iowait_percent", "steal_percent"})

    def __init__(self, name: str, options: CpuOptions) -> None:
        super().__init__(name, options)
        self._previous: CpuReading | None = None

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Measure CPU usage since the previous run (or over a short sample on the first)."""
        before = self._previous
        after = await read_cpu()
        usage = cpu_usage(before, after) if before is not None else None
        if usage is None:
            # First run, or no CPU time passed since the previous one: sample briefly.
            before = after
            await asyncio.sleep(FIRST_SAMPLE_SECONDS)
            after = await read_cpu()
            usage = cpu_usage(before, after) or CpuUsage(0.0, 0.0, 0.0)
        self._previous = after
        return CheckResult.ok(
            _summary(usage, after),
            metrics={
                "usage_percent": usage.usage_percent,
                "iowait_percent": usage.iowait_percent,
                "steal_percent": usage.steal_percent,
            },
        )


def _summary(usage: CpuUsage, reading: CpuReading) -> str:
    extras = []
    if reading.has_iowait:
        extras.append(f"iowait {format_percent(usage.iowait_percent)}")
    if reading.has_steal:
        extras.append(f"steal {format_percent(usage.steal_percent)}")
    tail = f" ({', '.join(extras)})" if extras else ""
    return f"cpu {format_percent(usage.usage_percent)}{tail}"
