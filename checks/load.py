"""The ``load`` check: the system load averages, whole and per logical CPU."""

from __future__ import annotations

import asyncio
import math
import os
from typing import ClassVar

import psutil

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult
from agent.units import format_number


class LoadOptions(CheckOptions):
    """The load check takes no options."""


def logical_cpus() -> int:
    """How many logical CPUs the host has (1 when the platform cannot tell)."""
    return psutil.cpu_count(logical=True) or os.cpu_count() or 1


class LoadCheck(Check[LoadOptions]):
    """Load averages over 1, 5 and 15 minutes.

    Metrics: ``load1``, ``load5``, ``load15`` and the same divided by the number of logical
    CPUs, ``load1_per_core``, ``load5_per_core``, ``load15_per_core``, so one threshold
    (say ``load5_per_core: "> 2"``) fits hosts of any size. On Windows psutil emulates the
    averages, and they read 0 for the first few seconds of the agent.
    """

    kind: ClassVar[str] = "load"
    Options: ClassVar[type[CheckOptions]] = LoadOptions
    metrics: ClassVar[frozenset[str]] = frozenset({
        "load1", "load5", "load15", "load1_per_core", "load5_per_core", "load15_per_core",
    })

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Read the load averages once."""
        averages = await asyncio.to_thread(psutil.getloadavg)
        cores = logical_cpus()
        load1, load5, load15 = (a if math.isfinite(a) and a >= 0 else 0.0 for a in averages)
        metrics = {
            "load1": load1,
            "load5": load5,
            "load15": load15,
            "load1_per_core": load1 / cores,
            "load5_per_core": load5 / cores,
            "load15_per_core": load15 / cores,
        }
        noun = "cpu" if cores == 1 else "cpus"
        return CheckResult.ok(
            f"load {format_number(load1)} {format_number(load5)} {format_number(load15)} "
            f"({cores} {noun}, {format_number(load1 / cores)} per cpu)",
            metrics=metrics,
        )
