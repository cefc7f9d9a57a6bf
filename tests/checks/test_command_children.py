"""What a command check's plugin leaves behind: no descriptor, no process, whatever it does.

Real plugins (shell and Python scripts in tmp_path), real processes, looked at in /proc.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest

from agent import strays
from agent.check import CheckContext
from agent.model import CheckResult, Status
from checks.command.check import CommandCheck, CommandOptions
from tests.notify.children import gone, running

#: A plugin that starts a sleeper in a session of its own (as a daemonising plugin does),
#: writes its pid to argv[1], prints a verdict, then sleeps for argv[2] seconds.
DETACHING = """\
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if len(sys.argv) > 3:  # a proper daemon: lets go of the check's pipes too
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    time.sleep(300)
    os._exit(0)
open(sys.argv[1], "w").write(str(pid))
print("OK - started a helper", flush=True)
time.sleep(float(sys.argv[2]))
"""


def plugin(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def run(check: CommandCheck, timeout: float = 5.0) -> CheckResult:
    return await check.run(CheckContext(check.name, "testhost", timeout))


async def test_output_past_max_output_leaves_no_descriptor_behind_over_many_runs(
        tmp_path: Path) -> None:
    # Far more than the cap, in one go and then slowly: both the kill and the drain count.
    script = plugin(tmp_path, "flood.sh", "#!/bin/sh\nhead -c 300000 /dev/zero\n"
                                          "while :; do echo more; done\n")
    check = CommandCheck("flood", CommandOptions(command=(str(script),), max_output=4096))
    first = await run(check)
    assert first.summary == "command output exceeded 4 KiB (stopped)"
    before = open_fds()
    for _ in range(60):
        assert (await run(check)).status is Status.UNKNOWN
    assert open_fds() == before


async def test_finished_timed_out_and_failed_runs_leave_no_descriptor_behind(
        tmp_path: Path) -> None:
    checks = [
        CommandCheck("ok", CommandOptions(command=("/bin/echo", "OK | a=1"))),
        CommandCheck("slow", CommandOptions(command=("sleep", "30"))),
        CommandCheck("lingering", CommandOptions(command="sleep 30 & echo OK", shell=True)),
        CommandCheck("missing", CommandOptions(command=(str(tmp_path / "nope"),))),
    ]
    for check in checks:  # warm up whatever a first run opens for good (the child watcher)
        await run(check, timeout=0.5)
    before = open_fds()
    for _ in range(5):
        for check in checks:
            await run(check, timeout=0.5)
    assert open_fds() == before


async def test_a_setsid_grandchild_is_killed_and_reported_on_timeout(tmp_path: Path) -> None:
    script = plugin(tmp_path, "detach.py", f"#!{sys.executable}\n{DETACHING}")
    check = CommandCheck("detach", CommandOptions(
        command=(str(script), str(tmp_path / "child.pid"), "30")))
    result = await run(check, timeout=1.5)
    assert result.status is Status.UNKNOWN
    assert result.summary == ("command timed out after 1.5s (killed) [stopped 1 process it "
                              "had moved out of its process group: detach.py]")
    grandchild = int((tmp_path / "child.pid").read_text())
    assert await gone(grandchild), "the setsid'd sleeper is still running"


async def test_a_setsid_grandchild_left_by_a_finished_plugin_is_killed_and_named(
        tmp_path: Path) -> None:
    script = plugin(tmp_path, "detach.py", f"#!{sys.executable}\n{DETACHING}")
    check = CommandCheck("detach", CommandOptions(
        command=(str(script), str(tmp_path / "child.pid"), "0", "daemon")))
    result = await run(check)
    assert result.status is Status.OK
    assert result.summary == ("OK - started a helper [stopped 1 process it had moved out of "
                              "its process group: detach.py]")
    grandchild = int((tmp_path / "child.pid").read_text())
    assert await gone(grandchild)


async def test_the_plugin_is_asked_to_die_with_its_parent(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG shows in /proc as nothing; the plugin reads it back itself.
    script = plugin(tmp_path, "pdeath.py", f"""#!{sys.executable}
import ctypes, signal
libc = ctypes.CDLL(None)
sig = ctypes.c_int()
libc.prctl(2, ctypes.byref(sig))  # PR_GET_PDEATHSIG
print("OK - death signal", signal.Signals(sig.value).name if sig.value else "none")
""")
    result = await run(CommandCheck("pdeath", CommandOptions(command=(str(script),))))
    assert result.summary == "OK - death signal SIGKILL"


async def test_a_plugin_that_runs_on_after_close_is_gone(tmp_path: Path) -> None:
    script = plugin(tmp_path, "detach.py", f"#!{sys.executable}\n{DETACHING}")
    check = CommandCheck("detach", CommandOptions(
        command=(str(script), str(tmp_path / "child.pid"), "30")))
    task = asyncio.create_task(run(check, timeout=20))
    for _ in range(300):
        if (tmp_path / "child.pid").exists() and (tmp_path / "child.pid").read_text():
            break
        await asyncio.sleep(0.01)
    grandchild = int((tmp_path / "child.pid").read_text())
    assert running(grandchild)
    await check.close()
    result = await asyncio.wait_for(task, 5)
    assert result.status is Status.UNKNOWN
    assert await gone(grandchild)


def test_a_runs_mark_names_this_agent_process_its_state_and_is_never_reused(
        tmp_path: Path) -> None:
    strays.set_scope(tmp_path)
    first, second = strays.new_mark(), strays.new_mark()
    assert first != second
    pid, started, scope, _ = first.split(".")
    assert int(pid) == os.getpid() and started.isdigit() and len(scope) == 12


@pytest.mark.parametrize(("mark", "orphaned"), [
    ("{me}.{started}.{scope}.abc", False),       # this agent's own runs
    ("1.{started_1}.{scope}.abc", False),        # an agent that still runs (pid 1 here)
    ("1.-1.{scope}.abc", True),                  # that pid, but a later process: it died
    ("999999999.1.{scope}.abc", True),           # no such process any more
    ("999999999.1.0123456789ab.abc", False),     # a dead agent of another state: its own
    ("999999999.1.abc", True),                   # a mark made before marks named the state
    ("not-ours", False),                         # not a mark this code made: left alone
])
def test_whose_orphans_are_stopped(mark: str, orphaned: bool, tmp_path: Path) -> None:
    strays.set_scope(tmp_path)
    text = mark.format(me=os.getpid(), started=strays._started_at(os.getpid()),
                       started_1=strays._started_at(1), scope=strays._SCOPE[0])
    assert strays._orphaned(text) is orphaned
