"""Runs every check on its own interval: jittered first runs, a hard timeout per run, a
global concurrency bound, and no overlapping runs of the same check.

The scheduler knows nothing of thresholds or alerts: it hands each CheckResult to a
callback. It reads time and sleeps through the injected Clock, so tests drive it with a
FakeClock.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from agent import logs
from agent.clock import Clock, SystemClock
from agent.errors import CheckError
from agent.model import CheckResult
from agent.units import format_duration

log = logging.getLogger("watchkeeper.scheduler")

#: First runs are spread over this many seconds at most, so that a fresh agent reports its
#: first cycle quickly even when intervals are long.
FIRST_RUN_SPREAD = 10.0

T = TypeVar("T")


@dataclass
class Job:
    """One check as the scheduler sees it."""

    name: str
    interval: float
    timeout: float
    run: Callable[[], Awaitable[CheckResult]]


class RunOutcome(enum.Enum):
    """How one run of a check ended."""

    #: It returned a valid CheckResult (of any status).
    COMPLETED = "completed"
    #: It raised CheckError: it could not measure and said why.
    FAILED = "failed"
    #: It overran its timeout (and was cancelled), or gave up waiting itself.
    TIMED_OUT = "timed_out"
    #: It raised anything else: a bug in the check.
    CRASHED = "crashed"
    #: It returned something that is not a valid CheckResult.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a job: its result (UNKNOWN with the error kept when the run failed) and
    how the run ended."""

    result: CheckResult
    outcome: RunOutcome


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

    def record_outcome(self, outcome: RunOutcome) -> None:
        """Count one finished run."""
        self.runs += 1
        if outcome is RunOutcome.TIMED_OUT:
            self.timeouts += 1
        elif outcome is RunOutcome.CRASHED:
            self.crashes += 1


ResultHandler = Callable[[Job, CheckResult, float], Awaitable[None]]


async def within(clock: Clock, seconds: float, work: Awaitable[T]) -> asyncio.Future[T] | None:
    """Run ``work`` for at most ``seconds`` on ``clock``: its finished task (result or
    exception inside), or None when the time ran out first (the work is then cancelled,
    and waited for until it has stopped)."""
    if isinstance(clock, SystemClock):
        return await _within_loop_time(seconds, work)
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        overran = not task.done()
        if overran:
            task.cancel()
            await asyncio.wait({task})
    return None if overran else task


async def _within_loop_time(seconds: float, work: Awaitable[T]) -> asyncio.Future[T] | None:
    """``within`` on the real clock: the event loop's own timeout, in this task (no task
    and no timer of its own per run: this runs for every check's every turn)."""
    done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    try:
        async with asyncio.timeout(seconds) as scope:
            result = await work
    except TimeoutError as exc:
        if scope.expired():
            return None
        done.set_exception(exc)
        return done
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        done.set_exception(exc)
        return done
    done.set_result(result)
    return done


async def execute(job: Job, clock: Clock) -> Execution:
    """Run a job once under its timeout; every failure becomes an UNKNOWN result with the
    error kept, and the outcome says which failure it was. Its texts are printable
    (``CheckResult.printable``) and hold no configured secret (``CheckResult.scrubbed``):
    what a check or an exception put there reaches no terminal, log line, store or
    notification raw."""
    run = await _execute(job, clock)
    return Execution(run.result.printable().scrubbed(logs.scrubber.scrub), run.outcome)


async def _execute(job: Job, clock: Clock) -> Execution:
    done = await within(clock, job.timeout, job.run())
    if done is None:
        return Execution(CheckResult.unknown(f"timed out after {format_duration(job.timeout)}"),
                         RunOutcome.TIMED_OUT)
    try:
        result = done.result()
    except TimeoutError as exc:
        # Something the check waited for gave up before the check's own timeout.
        return Execution(CheckResult.unknown(f"timed out: {exc}" if str(exc) else
                                             f"timed out after {format_duration(job.timeout)}"),
                         RunOutcome.TIMED_OUT)
    except CheckError as exc:
        return Execution(CheckResult.unknown(str(exc) or type(exc).__name__),
                         RunOutcome.FAILED)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.debug("check %s crashed", job.name, exc_info=True)
        return Execution(CheckResult.unknown(f"check crashed: {type(exc).__name__}: {exc}"),
                         RunOutcome.CRASHED)
    if not isinstance(result, CheckResult):
        return Execution(CheckResult.unknown(
            f"check returned {type(result).__name__}, not a CheckResult"), RunOutcome.INVALID)
    problems = result.problems()
    if problems:
        return Execution(CheckResult.unknown("check returned nonsense: " + "; ".join(problems)),
                         RunOutcome.INVALID)
    return Execution(result, RunOutcome.COMPLETED)


class Scheduler:
    """Drives jobs until ``stop()``; each finished run goes to ``on_result(job, result, t)``.

    ``t`` is the decision time (``clock.now()``, never stepped) the run was due. Turns
    are kept on the monotonic clock, so a step of the wall clock neither skips nor
    repeats one.
    """

    def __init__(
        self,
        jobs: list[Job],
        on_result: ResultHandler,
        max_concurrency: int,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        first_run_spread: float = FIRST_RUN_SPREAD,
    ) -> None:
        self.jobs = jobs
        self.on_result = on_result
        self.stats: dict[str, JobStats] = {j.name: JobStats() for j in jobs}
        self.clock = clock
        self._sem = asyncio.Semaphore(max_concurrency)
        self._rng = rng or random.Random()
        self._spread = first_run_spread
        self._stop = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        #: Each job's schedule loop, while ``run`` runs.
        self._loops: dict[str, asyncio.Task[None]] = {}
        #: Each job's next turn (monotonic), as its loop last set it.
        self._due: dict[str, float] = {}

    def stop(self) -> None:
        self._stop.set()

    def run_now(self, name: str) -> bool:
        """Run a job at once, out of turn (a heartbeat ping arrived, say).

        Does nothing (and says False) when the job is unknown or already running; the
        regular schedule is not shifted.
        """
        job = next((j for j in self.jobs if j.name == name), None)
        if job is None or self._busy(name):
            return False
        self._start(job, self.clock.monotonic())
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
        """Run every job on its schedule until stopped; then wait for runs in flight (at
        most the longest timeout, then they are cancelled)."""
        for job in self.jobs:
            self._spawn(job)
        try:
            await self._stop.wait()
        finally:
            loop_tasks = list(self._loops.values())
            for t in loop_tasks:
                t.cancel()
            await asyncio.gather(*loop_tasks, return_exceptions=True)
            inflight = [t for t in self._running.values() if not t.done()]
            if inflight:
                longest = max((j.timeout for j in self.jobs), default=1.0)
                await within(self.clock, longest, asyncio.wait(inflight))
                for t in inflight:
                    t.cancel()
                await asyncio.gather(*inflight, return_exceptions=True)

    def update(self, jobs: list[Job], restart: set[str] | frozenset[str] = frozenset()) -> None:
        """Take ``jobs`` as the new set (a reload): jobs no longer listed stop, new ones
        start with a spread first run, jobs named in ``restart`` stop and start again, and
        every other job keeps its schedule, its stats and any run in flight.

        A stopped job's run in flight is cancelled: its result belongs to a check that is
        gone.
        """
        names = {j.name for j in jobs}
        for name in [n for n in self._loops if n not in names or n in restart]:
            self._loops.pop(name).cancel()
            self._due.pop(name, None)
            running = self._running.pop(name, None)
            if running is not None:
                running.cancel()
            if name not in names:
                self.stats.pop(name, None)
        self.jobs = list(jobs)
        for job in self.jobs:
            self.stats.setdefault(job.name, JobStats())
            if job.name not in self._loops and not self._stop.is_set():
                self._spawn(job)

    def overdue(self, grace: float) -> list[str]:
        """Jobs whose turn is more than ``grace`` seconds past without their loop taking
        it: a stalled scheduler (the watchdog stops vouching for the agent then)."""
        now = self.clock.monotonic()
        return sorted(n for n, due in self._due.items() if now - due > grace)

    def _spawn(self, job: Job) -> None:
        self._loops[job.name] = asyncio.create_task(self._loop(job),
                                                    name=f"schedule:{job.name}")

    def _busy(self, name: str) -> bool:
        running = self._running.get(name)
        return running is not None and not running.done()

    def _start(self, job: Job, due: float) -> None:
        """Start a run of ``job`` that was due at ``due`` (monotonic)."""
        due_at = self.clock.now() - (self.clock.monotonic() - due)
        self._running[job.name] = asyncio.create_task(self._run_once(job, due, due_at),
                                                      name=f"run:{job.name}")

    async def _loop(self, job: Job) -> None:
        clock = self.clock
        due = clock.monotonic() + self._rng.uniform(0, min(job.interval, self._spread))
        while True:
            self._due[job.name] = due
            delay = due - clock.monotonic()
            if delay > 0:
                await clock.sleep(delay)
            stats = self.stats[job.name]
            if self._busy(job.name):
                stats.skipped += 1
                log.warning("check %s is still running from its last turn; skipping this one "
                            "(skipped %d so far)", job.name, stats.skipped)
            else:
                self._start(job, due)
            due += job.interval
            now = clock.monotonic()
            if due < now:
                # Fell behind (suspend, overloaded loop): skip missed turns, keep the phase.
                missed = int((now - due) // job.interval) + 1
                due += missed * job.interval

    async def _run_once(self, job: Job, due: float, due_at: float) -> None:
        clock = self.clock
        stats = self.stats[job.name]
        async with self._sem:
            started = clock.monotonic()
            stats.record_lag(max(0.0, started - due))
            run = await execute(job, clock)
            stats.last_duration = clock.monotonic() - started
        stats.record_outcome(run.outcome)
        try:
            await self.on_result(job, run.result, due_at)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling the result of check %s failed", job.name)
