"""The scheduler keeps every check on its schedule whatever one check does."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from agent.errors import CheckError
from agent.model import CheckResult, Sample, Status
from agent.scheduler import Job, Scheduler, execute


def _job(name: str, run, interval: float = 0.05, timeout: float = 1.0) -> Job:  # type: ignore[no-untyped-def]
    return Job(name, interval, timeout, run)


async def _ok() -> CheckResult:
    return CheckResult.ok("fine", {"x": 1.0})


async def _raises() -> CheckResult:
    raise RuntimeError("boom")


async def _check_error() -> CheckResult:
    raise CheckError("cannot read /proc/foo")


async def _hangs() -> CheckResult:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def _not_a_result() -> CheckResult:
    return {"status": "ok"}  # type: ignore[return-value]


async def _nan_metric() -> CheckResult:
    return CheckResult(Status.OK, "fine", (Sample("x", float("nan")),))


async def _string_status() -> CheckResult:
    return CheckResult("ok", "fine")  # type: ignore[arg-type]


@pytest.mark.parametrize(("run", "timeout", "summary_start"), [
    (_raises, 1.0, "check crashed: RuntimeError: boom"),
    (_check_error, 1.0, "cannot read /proc/foo"),
    (_hangs, 0.05, "timed out after 0.05 s"),
    (_not_a_result, 1.0, "check returned dict, not a CheckResult"),
    (_nan_metric, 1.0, "check returned nonsense: metric x is nan"),
    (_string_status, 1.0, "check returned nonsense: status 'ok' is not a Status"),
])
async def test_a_failing_check_becomes_unknown_with_its_error(run, timeout, summary_start):  # type: ignore[no-untyped-def]
    result = await execute(_job("bad", run, timeout=timeout))
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(summary_start)
    assert result.error


async def _drive(jobs: list[Job], seconds: float,  # type: ignore[no-untyped-def]
                 **kw) -> tuple[Scheduler, dict[str, list[CheckResult]]]:
    results: dict[str, list[CheckResult]] = {j.name: [] for j in jobs}

    async def on_result(job: Job, result: CheckResult, at: float) -> None:
        results[job.name].append(result)

    sched = Scheduler(jobs, on_result, kw.pop("max_concurrency", 8), wall_clock=time.time,
                      rng=random.Random(1), first_run_spread=kw.pop("spread", 0.01), **kw)
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(seconds)
    sched.stop()
    await asyncio.wait_for(task, 5)
    return sched, results


async def test_crashing_and_hanging_checks_do_not_stop_the_others() -> None:
    jobs = [_job("good", _ok), _job("crash", _raises), _job("hang", _hangs, timeout=0.1)]
    sched, results = await _drive(jobs, 0.6)
    assert len(results["good"]) >= 8
    assert all(r.status is Status.OK for r in results["good"])
    assert results["crash"] and all(r.status is Status.UNKNOWN for r in results["crash"])
    assert results["hang"] and all(r.summary.startswith("timed out") for r in results["hang"])
    assert sched.stats["hang"].timeouts == len(results["hang"])
    assert sched.stats["crash"].crashes == len(results["crash"])


async def test_a_check_still_running_is_not_started_again_and_the_skip_is_counted() -> None:
    running = 0
    most = 0

    async def slow() -> CheckResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.25)
        running -= 1
        return CheckResult.ok("slow")

    sched, results = await _drive([_job("slow", slow, interval=0.05, timeout=5)], 0.6)
    assert most == 1
    assert sched.stats["slow"].skipped >= 5
    assert 1 <= len(results["slow"]) <= 3


async def test_the_concurrency_bound_holds_across_checks() -> None:
    running = 0
    most = 0

    async def busy() -> CheckResult:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return CheckResult.ok("busy")

    jobs = [_job(f"c{i}", busy, interval=0.05) for i in range(10)]
    _, results = await _drive(jobs, 0.4, max_concurrency=3)
    assert most == 3
    assert sum(len(r) for r in results.values()) >= 10


async def test_first_runs_are_spread_but_all_start_within_the_spread() -> None:
    starts: dict[str, float] = {}
    t0 = time.monotonic()

    def make(name: str):  # type: ignore[no-untyped-def]
        async def run() -> CheckResult:
            starts.setdefault(name, time.monotonic() - t0)
            return CheckResult.ok("x")
        return run

    jobs = [_job(f"c{i}", make(f"c{i}"), interval=60) for i in range(20)]
    await _drive(jobs, 0.5, spread=0.3)
    assert len(starts) == 20
    assert max(starts.values()) < 0.45
    assert max(starts.values()) - min(starts.values()) > 0.1  # not all at once


async def test_a_failing_result_handler_does_not_stop_the_schedule() -> None:
    calls = 0

    async def on_result(job: Job, result: CheckResult, at: float) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("store is full")

    sched = Scheduler([_job("c", _ok)], on_result, 2, wall_clock=time.time, first_run_spread=0.01)
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.3)
    sched.stop()
    await task
    assert calls >= 4


async def test_the_summary_counts_runs_skips_and_lag_percentiles() -> None:
    async def slow() -> CheckResult:
        await asyncio.sleep(0.12)
        return CheckResult.ok("slow")

    sched, results = await _drive([_job("fast", _ok), _job("slow", slow, interval=0.05)], 0.5)
    summary = sched.summary()
    assert summary["runs"] == len(results["fast"]) + len(results["slow"])
    assert summary["skipped"] == sched.stats["slow"].skipped > 0
    assert 0 <= summary["lag_p50_ms"] <= summary["lag_p99_ms"] < 100


async def test_run_now_runs_a_job_out_of_turn_but_never_twice_at_once() -> None:
    started = 0
    release = asyncio.Event()

    async def job() -> CheckResult:
        nonlocal started
        started += 1
        await release.wait()
        return CheckResult.ok("ran")

    results: list[CheckResult] = []

    async def on_result(j: Job, result: CheckResult, at: float) -> None:
        results.append(result)

    sched = Scheduler([_job("hb", job, interval=3600, timeout=5)], on_result, 2,
                      wall_clock=time.time, first_run_spread=3600)
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.05)
    assert started == 0
    assert sched.run_now("hb") is True
    assert sched.run_now("hb") is False      # still running
    assert sched.run_now("nosuch") is False
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.sleep(0.05)
    assert started == 1 and len(results) == 1
    sched.stop()
    await task
