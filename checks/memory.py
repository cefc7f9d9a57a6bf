"""The ``memory`` check: how much memory and swap is in use."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import psutil

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult
from agent.thresholds.forecast import default_forecast
from agent.thresholds.rules import ThresholdRule
from agent.units import format_bytes, format_percent
from checks.shared.host import percent


class MemoryOptions(CheckOptions):
    """The memory check takes no options."""


class MemoryCheck(Check[MemoryOptions]):
    """Memory and swap use.

    Metrics: ``used_percent`` (the share of memory not available to new programs without
    swapping, i.e. ``total - available``, so page cache counts as free), ``available_bytes``
    and ``swap_used_percent`` (0 on a host without swap; the summary then says "no swap").
    """

    kind: ClassVar[str] = "memory"
    Options: ClassVar[type[CheckOptions]] = MemoryOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"used_percent", "available_bytes", "swap_used_percent"})

    @classmethod
    def default_thresholds(cls, options: Any) -> dict[str, ThresholdRule]:
        """A forecast towards 100 % on ``used_percent``: a warning when memory will run out
        within a week (a leak), critical within 6 hours."""
        return {"used_percent": ThresholdRule("used_percent", forecast=default_forecast())}

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Read memory and swap use once."""
        mem = await asyncio.to_thread(psutil.virtual_memory)
        swap = await asyncio.to_thread(psutil.swap_memory)
        available = float(max(mem.available, 0))
        used_percent = percent(mem.total - available, mem.total)
        swap_percent = percent(swap.used, swap.total)
        swap_text = f"swap {format_percent(swap_percent)} used" if swap.total > 0 else "no swap"
        return CheckResult.ok(
            f"memory {format_percent(used_percent)} used, {format_bytes(available)} available; "
            f"{swap_text}",
            metrics={
                "used_percent": used_percent,
                "available_bytes": available,
                "swap_used_percent": swap_percent,
            },
        )
