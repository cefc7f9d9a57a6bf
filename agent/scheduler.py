"""Runs every check on its own interval: jittered first runs, a hard timeout per run, a
global concurrency bound, and no overlapping runs of the same check.

The scheduler knows nothing of thresholds or alerts: it hands each CheckResult to a callback.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agent.errors import CheckError
from agent.model import CheckResult

log = logging.getLogger("watchkeeper.scheduler")

#: First runs are spread over this many seconds at most, so that a fresh agent reports its
#: first cycle quickly even when intervals are long.
FIRST_RUN_SPREAD = 10.0


@dataclass
class Job:
    """One check as the scheduler sees it."""

    name: str
    interval: float
    timeout: float
    run: Callable[[], Awaitable[CheckResult]]


@dataclass
class JobStats:
    """Counters of one job, read by the CLI, the HTTP endpoint and benchmarks."""

    runs: int = 0
    skipped: int = 0
    timeouts: int = 0
    crashes: int = 0
    last_lag: float = 0.0
    last_duration: float = 0.0
    lags: list[float] = field(default_factory=list)

    def record_lag(self, lag: float, keep: int = 512) -> None:
        self.last_lag = lag
        self.lags.append(lag)
        if len(self.lags) > keep:
            del self.lags[: len(self.lags) - keep]


ResultHandler = Callable[[Job, CheckResult, float], Awaitable[None]]


async def execute(job: Job) -> CheckResult:
    """Run a job once, turning every failure into an UNKNOWN result with the error kept."""
    try:
        result = await asyncio.wait_for(job.run(), timeout=job.timeout)
    except TimeoutError:
        return CheckResult.unknown(f"timed out after {_secs(job.timeout)}")
    except CheckError as exc:
        return CheckResult.unknown(str(exc) or type(exc).__name__)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.debug("check %s crashed", job.name, exc_info=True)
        return CheckResult.unknown(f"check crashed: {type(exc).__name__}: {exc}")
    if not isinstance(result, CheckResult):
        return CheckResult.unknown(f"check returned {type(result).__name__}, not a CheckResult")
    problems = result.problems()
    if problems:
        return CheckResult.unknown("check returned nonsense: " + "; ".join(problems))
    return result


def _secs(seconds: float) -> str:
    return f"{seconds:g} s"


class Scheduler:
    """Drives jobs until ``stop()``; each finished run goes to ``on_result(job, result, t)``.

    ``t`` is the wall-clock time the run was due (from ``wall_clock``).
    """

    def __init__(
        self,
        jobs: list[Job],
        on_result: ResultHandler,
        max_concurrency: int,
        wall_clock: Callable[[], float],
        *,
        rng: random.Random | None = None,
        first_run_spread: float = FIRST_RUN_SPREAD,
    ) -> None:
        self.jobs = jobs
        self.on_result = on_result
        self.stats: dict[str, JobStats] = {j.name: JobStats() for j in jobs}
        self._sem = asyncio.Semaphore(max_concurrency)
        self._wall = wall_clock
        self._rng = rng or random.Random()
        self._spread = first_run_spread
        self._stop = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}

    def stop(self) -> None:
        self._stop.set()

    def run_now(self, name: str) -> bool:
        """Run a job at once, out of turn (a heartbeat ping arrived, say).

        Does nothing (and says False) when the job is unknown or already running; the
        regular schedule is not shifted.
        """
        job = next((j for j in self.jobs if j.name == name), None)
        running = self._running.get(name)
        if job is None or (running is not None and not running.done()):
            return False
        due = asyncio.get_running_loop().time()
        self._running[name] = asyncio.create_task(self._run_once(job, due, self._wall()),
                                                  name=f"run:{name}")
        return True

    def summary(self) -> dict[str, float]:
        """Totals over every job: runs, skipped, timeouts, crashes, lag p50/p99 in ms."""
        lags = sorted(lag for st in self.stats.values() for lag in st.lags)

        def pct(q: float) -> float:
            return round(1000 * lags[min(len(lags) - 1, int(q * len(lags)))], 1) if lags else 0.0

        return {"runs": sum(st.runs for st in self.stats.values()),
                "skipped": sum(st.skipped for st in self.stats.values()),
                "timeouts": sum(st.timeouts for st in self.stats.values()),
                "crashes": sum(st.crashes for st in self.stats.values()),
                "lag_p50_ms": pct(0.50), "lag_p99_ms": pct(0.99)}

    async def run(self) -> None:
        """Run every job on its schedule until stopped; then wait for runs in flight."""
        loop_tasks = [asyncio.create_task(self._loop(job), name=f"schedule:{job.name}")
                      for job in self.jobs]
        try:
            await self._stop.wait()
        finally:
            for t in loop_tasks:
                t.cancel()
            await asyncio.gather(*loop_tasks, return_exceptions=True)
            inflight = list(self._running.values())
            if inflight:
                await asyncio.wait(inflight, timeout=max((j.timeout for j in self.jobs),
                                                         default=1.0))
                for t in inflight:
                    t.cancel()
                await asyncio.gather(*inflight, return_exceptions=True)

    async def _loop(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self._rng.uniform(0, min(job.interval, self._spread))
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            stats = self.stats[job.name]
            previous = self._running.get(job.name)
            if previous is not None and not previous.done():
                stats.skipped += 1
                log.warning("check %s is still running from its last turn; skipping this one "
                            "(skipped %d so far)", job.name, stats.skipped)
            else:
                wall_due = self._wall() - (loop.time() - due)
                self._running[job.name] = asyncio.create_task(
                    self._run_once(job, due, wall_due), name=f"run:{job.name}")
            due += job.interval
            now = loop.time()
            if due < now:
                # Fell behind (suspend, overloaded loop): skip missed turns, keep the phase.
                missed = int((now - due) // job.interval) + 1
                due += missed * job.interval

    async def _run_once(self, job: Job, due: float, wall_due: float) -> None:
        loop = asyncio.get_running_loop()
        stats = self.stats[job.name]
        async with self._sem:
            started = loop.time()
            stats.record_lag(max(0.0, started - due))
            result = await execute(job)
            stats.last_duration = loop.time() - started
        stats.runs += 1
        if result.error and result.summary.startswith("timed out"):
            stats.timeouts += 1
        elif result.error and result.summary.startswith("check crashed"):
            stats.crashes += 1
        try:
            await self.on_result(job, result, wall_due)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling the result of check %s failed", job.name)
