"""The process check against real processes started by the tests, plus its pure pieces."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.model import CheckResult, Status
from checks.process.check import (
    CpuMark,
    Identity,
    ProcessCheck,
    ProcessOptions,
    RestartMemory,
    cpu_percent,
    observe_restart,
)
from checks.process.proc_table import (
    PidfileError,
    ProcInfo,
    match_cmdline,
    match_name,
    read_pidfile,
)
from tests.checks.loop_watch import loop_watch

Spawn = Callable[..., subprocess.Popen[bytes]]


def ctx(memory: dict[str, Any] | None = None) -> CheckContext:
    return CheckContext(check_name="proc", host="testhost", timeout=5.0,
                        memory=memory if memory is not None else {})


def assert_sound(result: CheckResult) -> None:
    assert result.problems() == []


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start processes; every one still running is killed after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, code: str = "import time; time.sleep(60)",
              program: str | None = None) -> subprocess.Popen[bytes]:
        """A Python process running ``code`` with ``args``, or ``program`` with ``args``."""
        cmd = [program, *args] if program else [sys.executable, "-c", code, *args]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        started.append(proc)
        wait_until(lambda: _cmdline(proc.pid) == cmd)  # exec'd, not the forked pytest
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.NoSuchProcess:
        return []


def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def marker() -> str:
    return f"wk-{uuid.uuid4().hex[:12]}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


def check(**options: Any) -> ProcessCheck:
    return ProcessCheck("proc", ProcessOptions.model_validate(options))


def test_kind_is_registered_as_entry_point() -> None:
    assert load_kind("process") is ProcessCheck


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({}, "set exactly one of process_name, cmdline, pidfile or unit"),
    ({"process_name": "nginx", "cmdline": "nginx"},
     r"exactly one .* \(got process_name, cmdline\)"),
    ({"cmdline": "(unclosed"}, "not a valid regular expression"),
    ({"pidfile": "run/x.pid"}, "must be an absolute path"),
    ({"unit": "-x"}, "not a systemd unit name"),
    ({"pidfile": "/run/x.pid", "max_count": 2},
     "max_count applies only to process_name or cmdline"),
    ({"unit": "x.service", "min_count": 2}, "min_count can be 0 or 1"),
    ({"process_name": "x", "min_count": 3, "max_count": 2}, r"max_count \(2\) is below min_count"),
    ({"process_name": "x", "min_count": -1}, "greater than or equal to 0"),
    ({"process_name": "x", "colour": "red"}, "Extra inputs are not permitted"),
])
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProcessOptions.model_validate(options)


# --- pure pieces -------------------------------------------------------------------------

def mark(at: float, wall: float, **seconds: float) -> CpuMark:
    return CpuMark(at, wall, {(int(k[1:]), 100.0 if k[1:] != "9" else 1000.0): v
                              for k, v in seconds.items()})


@pytest.mark.parametrize(("before", "after", "expected"), [
    # one process, 1 CPU second over 10 s
    (mark(0, 500, p1=5.0), mark(10, 510, p1=6.0), 10.0),
    # two processes on two cores: percent of one CPU, so above 100
    (mark(0, 500, p1=0.0, p2=0.0), mark(1, 501, p1=1.0, p2=0.5), 150.0),
    # a process that exited counts nothing; one that appeared but started before counts nothing
    (mark(0, 500, p1=5.0, p2=3.0), mark(10, 510, p3=9.0), 0.0),
    # a process started during the interval (p9 started at 1000 > 500) counts all its time
    (mark(0, 500), mark(10, 1010, p9=2.0), 20.0),
    # counters that went back count zero; no time passed reads 0
    (mark(0, 500, p1=5.0), mark(10, 510, p1=4.0), 0.0),
    (mark(5, 500, p1=1.0), mark(5, 500, p1=2.0), 0.0),
])
def test_cpu_percent_between_marks(before: CpuMark, after: CpuMark, expected: float) -> None:
    assert cpu_percent(before, after) == pytest.approx(expected)


A = Identity(100, 1000.0)
A_AGAIN = Identity(100, 1000.4)   # same process, start time read with jitter
A_REUSED = Identity(100, 2000.0)  # same pid, later start: uptime went down
B = Identity(200, 2000.0)


@pytest.mark.parametrize(("last", "now", "restarts", "replaced"), [
    (None, A, 0, None),       # first sighting
    (A, A_AGAIN, 0, None),    # still the same process
    (A, B, 1, A),             # main pid changed
    (A, A_REUSED, 1, A),      # same pid, newer start
    (A, None, 0, None),       # not running: nothing changes yet
])
def test_restart_is_a_different_watched_process(
        last: Identity | None, now: Identity | None, restarts: int,
        replaced: Identity | None) -> None:
    before = RestartMemory("name=x", last, 0)
    after, got = observe_restart(before, now)
    assert (after.restarts, got) == (restarts, replaced)
    assert after.last == (now or last)


def test_restart_memory_round_trips_and_survives_junk() -> None:
    memory: dict[str, Any] = {}
    RestartMemory("name=x", A, 3).store(memory)
    assert RestartMemory.load(memory, "name=x") == RestartMemory("name=x", A, 3)
    assert RestartMemory.load(memory, "name=y") == RestartMemory("name=y")
    junk = {"selector": "name=x", "pid": "many", "started": None, "restarts": -4}
    assert RestartMemory.load(junk, "name=x") == RestartMemory("name=x")


PROCS = [
    ProcInfo(10, 1.0, "nginx", ("nginx: master process /usr/sbin/nginx",)),
    ProcInfo(11, 2.0, "nginx", ("nginx: worker process",)),
    ProcInfo(20, 3.0, "python3", ("/usr/bin/python3", "/srv/app/worker.py", "--queue=mail")),
    ProcInfo(30, 4.0, "kworker/0:1", ()),
    ProcInfo(40, 5.0, "gunicorn", ("/srv/venv/bin/gunicorn", "app:app")),
]


@pytest.mark.parametrize(("name", "pids"), [
    ("nginx", [10, 11]),
    ("python3", [20]),
    ("gunicorn", [40]),
    ("worker.py", []),
])
def test_name_matches_process_name_or_argv0(name: str, pids: list[int]) -> None:
    assert [p.pid for p in match_name(PROCS, name, exclude_pid=0)] == pids


@pytest.mark.parametrize(("pattern", "pids"), [
    (r"worker\.py --queue=mail", [20]),
    (r"nginx", [10, 11]),
    (r"^/srv/", [40]),
    (r"kworker", []),  # kernel threads have no command line
])
def test_cmdline_regex_searches_the_joined_argv(pattern: str, pids: list[int]) -> None:
    assert [p.pid for p in match_cmdline(PROCS, re.compile(pattern), exclude_pid=0)] == pids


def test_the_agent_itself_never_matches() -> None:
    assert [p.pid for p in match_cmdline(PROCS, re.compile("nginx"), exclude_pid=10)] == [11]
    assert [p.pid for p in match_name(PROCS, "nginx", exclude_pid=11)] == [10]


@pytest.mark.parametrize(("content", "pid"), [
    (b"1234\n", 1234),
    (b"  1234  \n\n", 1234),
    (b"1234 extra words\n", 1234),
])
def test_pidfile_holds_one_pid(tmp_path: Path, content: bytes, pid: int) -> None:
    (tmp_path / "x.pid").write_bytes(content)
    assert read_pidfile(tmp_path / "x.pid") == pid


@pytest.mark.parametrize(("content", "message"), [
    (b"", "does not hold a process id (it is empty)"),
    (b"abc\n", "does not hold a process id (found 'abc')"),
    (b"0\n", "found '0'"),
    (b"-5\n", "found '-5'"),
    (b"\xff\xfe\n", "does not hold a process id"),
])
def test_pidfile_without_a_pid_is_an_error(tmp_path: Path, content: bytes,
                                           message: str) -> None:
    (tmp_path / "x.pid").write_bytes(content)
    with pytest.raises(PidfileError, match=re.escape(message)):
        read_pidfile(tmp_path / "x.pid")


def test_missing_pidfile_reads_as_none(tmp_path: Path) -> None:
    assert read_pidfile(tmp_path / "gone.pid") is None


# --- real processes ----------------------------------------------------------------------

async def test_a_backtracking_cmdline_pattern_ends_as_unknown_with_the_loop_free(
        spawn: Spawn) -> None:
    """Any local user writes command lines: ``(x+x+)+y`` against one holding 30000 x's
    backtracks for ages, and with ``re`` on the event loop froze the whole agent."""
    spawn(marker(), "x" * 30_000)
    short = CheckContext(check_name="proc", host="testhost", timeout=1.5, memory={})
    async with loop_watch(6) as watch:
        result = await check(cmdline=r"(x+x+)+y").run(short)
    watch.assert_free()
    assert result.status is Status.UNKNOWN, result
    assert result.summary.startswith("cmdline pattern took too long: still searching after ")
    assert result.summary.endswith("command lines (a pattern that backtracks; simplify it)")


async def test_cmdline_match_measures_real_processes(spawn: Spawn) -> None:
    tag = marker()
    procs = [spawn(tag), spawn(tag)]
    result = await check(cmdline=re.escape(tag)).run(ctx())
    assert_sound(result)
    assert result.status is Status.OK
    m = result.metrics
    assert m["running"] == 2
    expected_rss = sum(psutil.Process(p.pid).memory_info().rss for p in procs)
    assert m["rss_bytes"] == pytest.approx(expected_rss, rel=0.2)
    assert m["open_fds"] >= 6  # stdin, stdout, stderr of each at least
    assert 0 <= m["uptime_seconds"] < 60
    assert 0 <= m["cpu_percent"] < 200
    assert m["restarts"] == 0
    oldest = min(procs, key=lambda p: psutil.Process(p.pid).create_time())
    assert result.summary.startswith(
        f"2 processes with a command line matching {re.escape(tag)!r} running "
        f"(pid {oldest.pid} up ")


async def test_cpu_percent_sees_a_busy_process(spawn: Spawn) -> None:
    tag = marker()
    spawn(tag, code="while True: pass")
    c = check(cmdline=tag)
    first = await c.run(ctx())
    # A spinning process gets well over this even on a loaded 2-core machine; an idle one
    # reads about 0.
    assert first.metrics["cpu_percent"] > 5  # the first run samples briefly
    time.sleep(0.5)
    second = await c.run(ctx())
    assert second.metrics["cpu_percent"] > 5  # later runs average since the previous one


async def test_name_matches_a_real_process(spawn: Spawn, tmp_path: Path) -> None:
    name = f"wk{uuid.uuid4().hex[:10]}"
    binary = tmp_path / name
    sleep = shutil.which("sleep")
    assert sleep is not None
    shutil.copy(sleep, binary)
    proc = spawn("60", program=str(binary))
    result = await check(process_name=name).run(ctx())
    assert result.status is Status.OK
    assert result.metrics["running"] == 1
    assert f"pid {proc.pid} up" in result.summary


async def test_no_matching_process_is_critical_with_metrics() -> None:
    result = await check(process_name="wk-no-such-process").run(ctx())
    assert_sound(result)
    assert (result.status, result.summary) == (
        Status.CRITICAL, "no process matching 'wk-no-such-process' is running")
    assert result.metrics["running"] == 0
    assert result.metrics["rss_bytes"] == 0


async def test_min_count_zero_accepts_nothing_running() -> None:
    result = await check(process_name="wk-no-such-process", min_count=0).run(ctx())
    assert result.status is Status.OK
    assert result.summary == "no process matching 'wk-no-such-process' is running"


async def test_count_outside_min_and_max_is_critical(spawn: Spawn) -> None:
    tag = marker()
    spawn(tag)
    spawn(tag)
    few = await check(cmdline=tag, min_count=3).run(ctx())
    assert few.status is Status.CRITICAL
    assert few.summary == (f"2 processes with a command line matching {tag!r} running, "
                           "expected at least 3")
    many = await check(cmdline=tag, max_count=1).run(ctx())
    assert many.status is Status.CRITICAL
    assert many.summary.endswith("running, expected at most 1")
    assert many.metrics["running"] == 2


async def test_regex_never_matches_the_agent_itself() -> None:
    me = psutil.Process()
    own = me.cmdline()
    # Another process may run with the same command line (a sibling test worker): only
    # the agent's own process is left out.
    twins = sum(1 for p in psutil.process_iter(["pid", "cmdline"])
                if p.info["pid"] != me.pid and p.info["cmdline"] == own)
    result = await check(cmdline="^" + re.escape(" ".join(own)) + "$").run(ctx())
    assert result.metrics["running"] == twins


async def test_restart_is_counted_in_memory_and_survives_a_new_instance(
        spawn: Spawn) -> None:
    tag = marker()
    memory: dict[str, Any] = {}
    c = check(cmdline=tag)
    first = spawn(tag)
    assert (await c.run(ctx(memory))).metrics["restarts"] == 0
    stop(first)
    second = spawn(tag)
    result = await c.run(ctx(memory))
    assert result.status is Status.OK
    assert result.metrics["restarts"] == 1
    assert f"restarted since the last run (pid {first.pid} -> {second.pid}), " \
           "1 restart counted" in result.summary
    # The agent restarts: a new instance with the persisted memory counts on from there.
    again = await check(cmdline=tag).run(ctx(memory))
    assert again.metrics["restarts"] == 1
    assert "restarted" not in again.summary
    stop(second)
    down = await check(cmdline=tag).run(ctx(memory))
    assert down.status is Status.CRITICAL and down.metrics["restarts"] == 1
    third = spawn(tag)
    back = await check(cmdline=tag).run(ctx(memory))
    assert back.metrics["restarts"] == 2
    assert f"(pid {second.pid} -> {third.pid})" in back.summary


async def test_pidfile_names_a_running_process(spawn: Spawn, tmp_path: Path) -> None:
    proc = spawn(marker())
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{proc.pid}\n")
    result = await check(pidfile=str(pidfile)).run(ctx())
    assert result.status is Status.OK
    assert result.summary.startswith(f"1 process from pidfile {pidfile} running (pid {proc.pid}")


async def test_stale_pidfile_is_critical(spawn: Spawn, tmp_path: Path) -> None:
    proc = spawn(marker())
    stop(proc)
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{proc.pid}\n")
    result = await check(pidfile=str(pidfile), min_count=0).run(ctx())
    assert (result.status, result.summary) == (
        Status.CRITICAL, f"pidfile {pidfile} names pid {proc.pid}, which is not running")
    assert result.metrics["running"] == 0


async def test_missing_pidfile_is_critical(tmp_path: Path) -> None:
    result = await check(pidfile=str(tmp_path / "gone.pid")).run(ctx())
    assert (result.status, result.summary) == (
        Status.CRITICAL, f"pidfile {tmp_path / 'gone.pid'} does not exist")


async def test_unreadable_pidfile_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "garbage.pid").write_text("hello\n")
    result = await check(pidfile=str(tmp_path / "garbage.pid")).run(ctx())
    assert result.status is Status.UNKNOWN
    assert "does not hold a process id (found 'hello')" in result.summary


async def test_children_add_the_resources_of_descendants(spawn: Spawn,
                                                         tmp_path: Path) -> None:
    tag = marker()
    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
            " for _ in range(2)]\n"
            "time.sleep(60)\n")
    parent = spawn(tag, code=code)
    wait_until(lambda: len(psutil.Process(parent.pid).children()) == 2)
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(str(parent.pid))
    try:
        alone = await check(pidfile=str(pidfile)).run(ctx())
        family = await check(pidfile=str(pidfile), children=True).run(ctx())
        assert alone.metrics["running"] == family.metrics["running"] == 1
        assert family.metrics["rss_bytes"] > alone.metrics["rss_bytes"] * 1.5
        assert family.metrics["open_fds"] > alone.metrics["open_fds"]
    finally:
        for kid in psutil.Process(parent.pid).children():
            kid.kill()


# --- systemd unit main PID ---------------------------------------------------------------

class MainPid:
    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[list[str]] = []

    async def __call__(self, argv: Sequence[str], timeout: float) -> str:
        self.calls.append(list(argv))
        return self.text


async def test_unit_main_pid_is_asked_with_argv_and_watched(spawn: Spawn) -> None:
    proc = spawn(marker())
    runner = MainPid(f"{proc.pid}\n")
    c = ProcessCheck("p", ProcessOptions(unit="app.service"), runner=runner,
                     booted=lambda: True)
    result = await c.run(ctx())
    assert runner.calls == [["systemctl", "--no-pager", "show", "-p", "MainPID", "--value",
                             "app.service"]]
    assert result.status is Status.OK
    assert result.summary.startswith(f"1 process of unit app.service running (pid {proc.pid}")


async def test_unit_without_main_pid_is_critical() -> None:
    c = ProcessCheck("p", ProcessOptions(unit="app.service"), runner=MainPid("0\n"),
                     booted=lambda: True)
    result = await c.run(ctx())
    assert (result.status, result.summary) == (
        Status.CRITICAL, "unit app.service has no running main process")


async def test_unit_main_pid_change_is_a_restart(spawn: Spawn) -> None:
    memory: dict[str, Any] = {}
    first, second = spawn(marker()), spawn(marker())
    runner = MainPid(f"{first.pid}\n")
    c = ProcessCheck("p", ProcessOptions(unit="app.service"), runner=runner,
                     booted=lambda: True)
    await c.run(ctx(memory))
    runner.text = f"{second.pid}\n"
    result = await c.run(ctx(memory))
    assert result.metrics["restarts"] == 1
    assert f"(pid {first.pid} -> {second.pid})" in result.summary


async def test_unit_selector_without_systemd_is_unknown() -> None:
    c = ProcessCheck("p", ProcessOptions(unit="app.service"), runner=MainPid("1\n"),
                     booted=lambda: False)
    result = await c.run(ctx())
    assert (result.status, result.summary) == (Status.UNKNOWN,
                                               "systemd is not running on this host")


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd runs this host")
async def test_unit_selector_on_this_host_is_unknown_by_default() -> None:
    result = await check(unit="ssh.service").run(ctx())
    assert result.summary == "systemd is not running on this host"


def test_pidfile_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO where the pidfile should be is not waited on (it would hold a thread of the
    agent's shared executor for good)."""
    fifo = tmp_path / "app.pid"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(PidfileError, match="is not a regular file"):
        read_pidfile(fifo)
    assert time.monotonic() - start < 1


async def test_pidfile_check_on_a_fifo_is_unknown_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "app.pid"
    os.mkfifo(fifo)
    start = time.monotonic()
    result = await check(pidfile=str(fifo)).run(ctx())
    assert time.monotonic() - start < 2
    assert result.status is Status.UNKNOWN
    assert result.summary == f"pidfile {fifo} is not a regular file"


# --- reads that hang do not take the agent's shared executor --------------------------------

@contextlib.asynccontextmanager
async def one_worker_executor() -> AsyncIterator[None]:
    """The loop's default executor cut to one thread, so one thread held for good shows."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    yield


async def assert_executor_free() -> None:
    assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 2) == 1


@pytest.mark.parametrize(("hung", "options"), [
    ("list_processes", {"process_name": "nginx"}),
    ("list_processes", {"cmdline": "nginx"}),
    ("process_info", {"pidfile": "PIDFILE"}),
    ("with_descendants", {"pidfile": "PIDFILE", "children": True}),
    ("read_usage", {"pidfile": "PIDFILE"}),
])
async def test_a_hung_proc_read_is_unknown_and_leaves_the_shared_executor_free(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hung: str,
        options: dict[str, Any]) -> None:
    """/proc/PID/cmdline of a process stuck in the kernel can block a reader for good: the
    check ends within its timeout as UNKNOWN and no thread of the shared pool is lost."""
    release = threading.Event()

    def hang(*_args: Any) -> Any:
        release.wait(10)
        raise AssertionError("released")

    monkeypatch.setattr(f"checks.process.check.{hung}", hang)
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    options = {k: str(pidfile) if v == "PIDFILE" else v for k, v in options.items()}
    short = CheckContext(check_name="proc", host="testhost", timeout=0.3, memory={})
    async with one_worker_executor():
        try:
            result = await asyncio.wait_for(check(**options).run(short), 3)
            await assert_executor_free()
        finally:
            release.set()
    assert result.status is Status.UNKNOWN
    assert result.summary == "reading the process table: no answer within 240ms"
