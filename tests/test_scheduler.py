"""The scheduler keeps every check on its schedule whatever one check does.

Driven by a fake clock: time moves only when a test moves it, so every start time below
is exact and no test waits for real time to pass.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent import logs
from agent.clock import FakeClock
from agent.errors import CheckError
from agent.model import CheckResult, Sample, Status, make_labels
from agent.scheduler import Job, RunOutcome, Scheduler, execute

T0 = FakeClock().now()


async def _forever() -> None:
    await asyncio.Event().wait()


async def _ok() -> CheckResult:
    return CheckResult.ok("fine", {"x": 1.0})


async def _raises() -> CheckResult:
    raise RuntimeError("boom")


async def _check_error() -> CheckResult:
    raise CheckError("cannot read /proc/foo")


async def _gives_up_waiting() -> CheckResult:
    raise TimeoutError("no answer within 3s")


async def _hangs() -> CheckResult:
    await _forever()
    raise AssertionError("unreachable")


async def _not_a_result() -> CheckResult:
    return {"status": "ok"}  # type: ignore[return-value]


async def _nan_metric() -> CheckResult:
    return CheckResult(Status.OK, "fine", (Sample("x", float("nan")),))


async def _string_status() -> CheckResult:
    return CheckResult("ok", "fine")  # type: ignore[arg-type]


async def _says_timed_out() -> CheckResult:
    return CheckResult.failed(Status.CRITICAL, "timed out talking to the database")


async def _says_crashed() -> CheckResult:
    return CheckResult.failed(Status.CRITICAL, "check crashed: the backup job did")


@pytest.mark.parametrize(("run", "summary", "outcome"), [
    (_ok, "fine", RunOutcome.COMPLETED),
    (_raises, "check crashed: RuntimeError: boom", RunOutcome.CRASHED),
    (_check_error, "cannot read /proc/foo", RunOutcome.FAILED),
    (_hangs, "timed out after 5s", RunOutcome.TIMED_OUT),
    (_gives_up_waiting, "timed out: no answer within 3s", RunOutcome.TIMED_OUT),
    (_not_a_result, "check returned dict, not a CheckResult", RunOutcome.INVALID),
    (_nan_metric, "check returned nonsense: metric x is nan", RunOutcome.INVALID),
    (_string_status, "check returned nonsense: status 'ok' is not a Status", RunOutcome.INVALID),
    # The words of a summary decide nothing: only how the run ended does.
    (_says_timed_out, "timed out talking to the database", RunOutcome.COMPLETED),
    (_says_crashed, "check crashed: the backup job did", RunOutcome.COMPLETED),
])
async def test_a_run_ends_with_its_outcome_and_a_failure_becomes_unknown(
        run: Callable[[], Awaitable[CheckResult]], summary: str, outcome: RunOutcome) -> None:
    clock = FakeClock()
    task = asyncio.create_task(execute(Job("c", 60, 5, run), clock))
    await clock.run_for(4.999)
    assert task.done() is (outcome is not RunOutcome.TIMED_OUT or run is _gives_up_waiting)
    await clock.run_for(0.001)
    execution = await task
    assert (execution.result.summary, execution.outcome) == (summary, outcome)
    if outcome is not RunOutcome.COMPLETED:
        assert execution.result.status is Status.UNKNOWN
        assert execution.result.error


async def _raw_text() -> CheckResult:
    return CheckResult.ok("\x1b[2Jfine", samples=[
        Sample("used", 1.0, make_labels({"mount": "/mnt/x\udcffy"}))])


async def _raises_raw() -> CheckResult:
    raise RuntimeError("bad \x00 byte")


@pytest.mark.parametrize(("run", "summary", "labels"), [
    (_raw_text, "\\x1b[2Jfine", (("mount", "/mnt/x\\udcffy"),)),
    (_raises_raw, "check crashed: RuntimeError: bad \\x00 byte", None),
])
async def test_what_a_check_says_reaches_no_terminal_or_store_raw(
        run: Callable[[], Awaitable[CheckResult]], summary: str,
        labels: tuple[tuple[str, str], ...] | None) -> None:
    # A third-party check, or an exception's message: an escape sequence would act on the
    # terminal of whoever reads the log, and a stray surrogate made the store refuse the
    # whole result (every alert of the check lost).
    execution = await execute(Job("c", 60, 5, run), FakeClock())
    assert execution.result.summary == summary
    assert execution.result.summary.isprintable()
    if labels is not None:
        (sample,) = execution.result.samples
        assert sample.labels == labels
        sample.series.encode("utf-8")  # the store and /metrics can hold it


async def test_a_configured_secret_a_check_echoes_is_masked_in_its_result() -> None:
    # The listener's token, a DSN's password: registered with the log's scrubber when the
    # config is read, and then hidden in what any check says, not only in log lines.
    token = "tok-5e1b7c0a9d2f4e8b"
    logs.scrubber.add([token])

    async def echoes() -> CheckResult:
        return CheckResult.failed(Status.CRITICAL, f"401 for Bearer {token}",
                                  error=f"curl: Authorization: Bearer {token}")

    execution = await execute(Job("c", 60, 5, echoes), FakeClock())
    assert token not in execution.result.summary + (execution.result.error or "")
    assert execution.result.summary == "401 for Bearer ****"


async def test_a_run_that_overruns_is_cancelled_at_its_timeout() -> None:
    clock = FakeClock()
    cancelled = asyncio.Event()

    async def hangs() -> CheckResult:
        try:
            await _forever()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    task = asyncio.create_task(execute(Job("c", 60, 5, hangs), clock))
    await clock.run_for(5)
    assert (await task).outcome is RunOutcome.TIMED_OUT
    assert cancelled.is_set()


@dataclass
class Timeline:
    """What the checks did and what the scheduler handed on, in fake-clock seconds."""

    clock: FakeClock = field(default_factory=FakeClock)
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    results: dict[str, list[CheckResult]] = field(default_factory=lambda: defaultdict(list))
    due_at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    running: int = 0
    most: int = 0

    def job(self, name: str, interval: float, takes: float = 0.0, timeout: float = 30.0,
            then: Callable[[], Awaitable[CheckResult]] = _ok) -> Job:
        """A job that runs ``takes`` seconds of the fake clock, then ends as ``then``."""
        async def run() -> CheckResult:
            self.starts[name].append(self.clock.monotonic())
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                if takes:
                    await self.clock.sleep(takes)
                return await then()
            finally:
                self.running -= 1
        return Job(name, interval, timeout, run)

    async def on_result(self, job: Job, result: CheckResult, at: float) -> None:
        self.results[job.name].append(result)
        self.due_at[job.name].append(at - T0)

    def scheduler(self, jobs: list[Job], *, max_concurrency: int = 8, spread: float = 0.0,
                  seed: int = 1) -> Scheduler:
        return Scheduler(jobs, self.on_result, max_concurrency, self.clock,
                         rng=random.Random(seed), first_run_spread=spread)


async def _start(sched: Scheduler, clock: FakeClock) -> asyncio.Task[None]:
    task = asyncio.create_task(sched.run())
    await clock.run_for(0)
    return task


async def _stop(sched: Scheduler, clock: FakeClock, task: asyncio.Task[None]) -> None:
    """Stop, and let the runs in flight finish."""
    sched.stop()
    await clock.run_for(max(j.timeout for j in sched.jobs))
    assert task.done()
    await task


async def test_first_runs_are_spread_over_the_spread_or_the_interval_when_shorter() -> None:
    t = Timeline()
    intervals = [60.0] * 15 + [2.0] * 5
    sched = t.scheduler([t.job(f"c{i}", iv) for i, iv in enumerate(intervals)], spread=10)
    draws = random.Random(1)
    offsets = [draws.uniform(0, min(iv, 10)) for iv in intervals]
    task = await _start(sched, t.clock)
    await t.clock.run_for(1.999)
    assert {n for n, s in t.starts.items() if s} == {
        f"c{i}" for i, off in enumerate(offsets) if off <= 1.999}
    await t.clock.run_for(8)
    firsts = [t.starts[f"c{i}"][0] for i in range(len(intervals))]
    assert firsts == pytest.approx(offsets)
    assert len({round(f, 6) for f in firsts}) == len(firsts)  # not all at once
    await _stop(sched, t.clock, task)


async def test_runs_keep_the_interval_phase_whatever_they_take_or_however_late() -> None:
    t = Timeline()
    sched = t.scheduler([t.job("c", 10, takes=3)])
    task = await _start(sched, t.clock)
    await t.clock.run_for(35)
    assert t.starts["c"] == [0, 10, 20, 30]
    t.clock.advance(27)  # the host slept through two turns: one late run, then on phase
    await t.clock.run_for(8)
    assert t.starts["c"] == [0, 10, 20, 30, 62, 70]
    assert sched.stats["c"].lags == [0, 0, 0, 0, 22, 0]
    await _stop(sched, t.clock, task)
    assert t.due_at["c"] == [0, 10, 20, 30, 40, 70]  # a result tells when its run was due
    assert sched.stats["c"].last_duration == 3


@pytest.mark.parametrize("step", [3600.0, -3600.0], ids=["+1h", "-1h"])
async def test_a_wall_clock_step_neither_skips_nor_repeats_nor_moves_a_turn(step: float) -> None:
    t = Timeline()
    sched = t.scheduler([t.job("c", 10, takes=3)])
    task = await _start(sched, t.clock)
    await t.clock.run_for(15)
    t.clock.step(step)
    await t.clock.run_for(20)
    assert t.starts["c"] == [0, 10, 20, 30]
    await _stop(sched, t.clock, task)
    assert t.due_at["c"] == [0, 10, 20, 30]  # told in decision time, which never steps
    assert sched.stats["c"].lags == [0, 0, 0, 0]


async def test_a_check_still_running_is_not_started_again_and_the_skip_is_counted() -> None:
    t = Timeline()
    sched = t.scheduler([t.job("slow", 10, takes=25), t.job("fast", 10)])
    task = await _start(sched, t.clock)
    await t.clock.run_for(60)
    assert t.starts["slow"] == [0, 30, 60]
    assert t.starts["fast"] == [0, 10, 20, 30, 40, 50, 60]
    assert sched.stats["slow"].skipped == 4
    assert sched.summary() == {"runs": 2 + 7, "skipped": 4, "timeouts": 0, "crashes": 0,
                               "lag_p50_ms": 0.0, "lag_p99_ms": 0.0}
    await _stop(sched, t.clock, task)


async def test_the_concurrency_bound_holds_across_checks_and_waiting_shows_as_lag() -> None:
    t = Timeline()
    sched = t.scheduler([t.job(f"c{i}", 10, takes=4) for i in range(10)], max_concurrency=3)
    task = await _start(sched, t.clock)
    await t.clock.run_for(12)
    assert t.most == 3
    assert sorted(t.starts[f"c{i}"][0] for i in range(10)) == [0, 0, 0, 4, 4, 4, 8, 8, 8, 12]
    # c9 waited 12 s for a slot; c0 and c1, due again at 10, got theirs at 12.
    summary = sched.summary()
    assert (summary["lag_p50_ms"], summary["lag_p99_ms"]) == (4000.0, 12000.0)
    await _stop(sched, t.clock, task)


async def test_timeouts_and_crashes_are_counted_by_how_the_run_ended() -> None:
    t = Timeline()
    sched = t.scheduler([
        t.job("hang", 10, timeout=5, then=_hangs),
        t.job("crash", 10, then=_raises),
        t.job("fails", 10, then=_check_error),
        t.job("says", 10, then=_says_timed_out),
        t.job("good", 10),
    ])
    task = await _start(sched, t.clock)
    await t.clock.run_for(29)
    assert [len(t.results[n]) for n in ("hang", "crash", "fails", "says", "good")] == [3] * 5
    assert t.results["hang"][0].summary == "timed out after 5s"
    counts = {n: (st.runs, st.timeouts, st.crashes) for n, st in sched.stats.items()}
    assert counts == {"hang": (3, 3, 0), "crash": (3, 0, 3), "fails": (3, 0, 0),
                      "says": (3, 0, 0), "good": (3, 0, 0)}
    assert all(r.status is Status.OK for r in t.results["good"])
    await _stop(sched, t.clock, task)


async def test_a_failing_result_handler_does_not_stop_the_schedule() -> None:
    clock = FakeClock()
    calls = 0

    async def on_result(job: Job, result: CheckResult, at: float) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("store is full")

    sched = Scheduler([Job("c", 10, 5, _ok)], on_result, 2, clock, first_run_spread=0)
    task = await _start(sched, clock)
    await clock.run_for(30)
    assert calls == 4
    await _stop(sched, clock, task)


async def test_run_now_runs_a_job_out_of_turn_never_twice_at_once_and_keeps_the_schedule(
        ) -> None:
    t = Timeline()
    release = asyncio.Event()

    async def wait_for_release() -> CheckResult:
        await release.wait()
        return CheckResult.ok("ran")

    sched = t.scheduler([t.job("hb", 3600, then=wait_for_release)], spread=3600)
    first = random.Random(1).uniform(0, 3600)
    assert first > 100
    task = await _start(sched, t.clock)
    await t.clock.run_for(100)
    assert t.starts["hb"] == []
    assert sched.run_now("hb") is True
    await t.clock.run_for(0)
    assert sched.run_now("hb") is False  # still running
    assert sched.run_now("nosuch") is False
    release.set()
    await t.clock.run_for(0)
    assert (t.starts["hb"], t.due_at["hb"]) == ([100], [100])
    await t.clock.run_for(first - 100)
    assert t.starts["hb"] == pytest.approx([100, first])
    await _stop(sched, t.clock, task)


async def test_stop_waits_for_runs_in_flight() -> None:
    t = Timeline()
    release = asyncio.Event()

    async def wait_for_release() -> CheckResult:
        await release.wait()
        return CheckResult.ok("done")

    sched = t.scheduler([t.job("c", 60, then=wait_for_release)])
    task = await _start(sched, t.clock)
    sched.stop()
    await t.clock.run_for(1)
    assert not task.done() and t.results["c"] == []
    release.set()
    await t.clock.run_for(0)
    assert task.done() and [r.summary for r in t.results["c"]] == ["done"]
    await task


async def test_stop_gives_up_on_a_stuck_run_after_the_longest_timeout() -> None:
    clock = FakeClock()
    handling = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck(job: Job, result: CheckResult, at: float) -> None:
        handling.set()
        try:
            await _forever()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sched = Scheduler([Job("a", 60, 5, _ok), Job("b", 60, 8, _ok)], stuck, 2, clock,
                      first_run_spread=0)
    task = await _start(sched, clock)
    assert handling.is_set()
    sched.stop()
    await clock.run_for(7.999)
    assert not task.done()
    await clock.run_for(0.001)
    assert task.done() and cancelled.is_set()
    await task


async def _sleeps(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


async def _gives_up() -> str:
    raise TimeoutError("the server did not answer")


async def _crashes() -> str:
    raise ValueError("bad")


@pytest.mark.parametrize(("work", "expected"), [
    (lambda: _sleeps(0.0), "done"),
    (lambda: _sleeps(5.0), None),
    (_gives_up, TimeoutError),
    (_crashes, ValueError),
], ids=["finishes", "overruns", "inner-timeout", "crashes"])
async def test_on_the_real_clock_a_run_is_bounded_in_its_own_task(
        work: Any, expected: object) -> None:
    from agent.clock import SystemClock
    from agent.scheduler import within

    done = await within(SystemClock(), 0.05, work())
    if expected is None:
        assert done is None
    elif isinstance(expected, type):
        assert done is not None and isinstance(done.exception(), expected)
    else:
        assert done is not None and done.result() == expected
