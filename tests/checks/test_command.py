"""The command check running real plugin scripts written into tmp_path."""

from __future__ import annotations

import asyncio
import stat
import sys
import time
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.model import CheckResult, Status
from checks.command.check import CommandCheck, CommandOptions


def script(tmp_path: Path, body: str, name: str = "plugin.sh") -> Path:
    """An executable shell script in tmp_path."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def run(command: list[str] | str, timeout: float = 5.0, **options: object) -> CheckResult:
    check = CommandCheck("plugin", CommandOptions.model_validate({"command": command,
                                                                  **options}))
    return await check.run(CheckContext("plugin", "testhost", timeout))


async def gone(pid: int, within: float = 2.0) -> bool:
    """Whether a process stops running soon (a zombie waiting for its reaper is gone).

    A SIGKILL takes effect shortly after kill() returns, hence the short wait.
    """
    end = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.01)


async def wait_for_file(path: Path, timeout: float = 3.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never written")


def test_the_entry_point_names_this_class() -> None:
    assert load_kind("command") is CommandCheck
    assert CommandCheck.kind == "command"


@pytest.mark.parametrize(("code", "status"), [
    (0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN),
])
async def test_exit_code_gives_the_status(tmp_path: Path, code: int, status: Status) -> None:
    path = script(tmp_path, f"echo 'SERVICE {code} - text | v=1'\nexit {code}\n")
    result = await run([str(path)])
    assert result.status is status
    assert result.summary == f"SERVICE {code} - text"
    assert result.metrics == {"v": 1.0}


@pytest.mark.parametrize("code", [4, 127, 255])
async def test_unexpected_exit_code_is_unknown_and_named(tmp_path: Path, code: int) -> None:
    path = script(tmp_path, f"echo 'weird'\nexit {code}\n")
    result = await run([str(path)])
    assert result.status is Status.UNKNOWN
    assert result.summary == f"exit code {code}: weird"


async def test_perfdata_becomes_metrics_with_normalised_units(tmp_path: Path) -> None:
    path = script(tmp_path, "echo \"HTTP OK | time=0.12s;1;2;0 size=2KB 'Free Space'=40%\"\n"
                            "echo 'long text | reqs=10c'\necho 'load1=0.5'\n")
    result = await run([str(path)])
    assert result.status is Status.OK
    assert result.summary == "HTTP OK"
    assert result.metrics == {"time_seconds": 0.12, "size_bytes": 2048.0,
                              "free_space_percent": 40.0, "reqs_total": 10.0, "load1": 0.5}
    assert result.problems() == []


async def test_a_value_in_its_perfdata_crit_range_is_critical_and_shown(
        tmp_path: Path) -> None:
    # The plugin says OK, but its own perfdata puts load1 in the critical range.
    path = script(tmp_path, "echo 'LOAD OK | load1=7.5;4;6;0'\nexit 0\n")
    check = CommandCheck("load", CommandOptions(command=(str(path),)))
    result = await check.run(CheckContext("load", "testhost", 5.0))
    assert result.status is Status.CRITICAL
    assert result.summary == "LOAD OK [load1 7.5 outside crit range 0:6]"
    assert [(d.metric, str(d.warn), str(d.crit)) for d in check.last_perfdata] == [
        ("load1", "0:4", "0:6")]


async def test_range_notes_survive_a_long_summary(tmp_path: Path) -> None:
    long_text = "x" * 2000
    perf = " ".join(f"m{i}=9;1;5" for i in range(5))
    path = script(tmp_path, f"echo 'OK {long_text} | {perf}'\n")
    result = await run([str(path)])
    assert result.status is Status.CRITICAL
    assert len(result.summary) < 800
    assert result.summary.endswith("[m0 9 outside crit range 0:5; m1 9 outside crit range 0:5; "
                                   "m2 9 outside crit range 0:5; 2 more outside their ranges]")


async def test_the_worse_of_exit_code_and_ranges_wins(tmp_path: Path) -> None:
    path = script(tmp_path, "echo 'DISK CRITICAL | used=95%;80;90'\nexit 2\n")
    result = await run([str(path)])
    assert result.status is Status.CRITICAL
    assert "used_percent 95 outside crit range 0:90" in result.summary


async def test_malformed_perfdata_is_ignored_and_said(tmp_path: Path) -> None:
    path = script(tmp_path, "echo 'OK | good=1 bad=abc'\n")
    result = await run([str(path)])
    assert result.status is Status.OK
    assert result.metrics == {"good": 1.0}
    assert "ignored malformed perfdata 'bad=abc'" in result.summary


async def test_timeout_kills_the_script_and_its_child(tmp_path: Path) -> None:
    path = script(tmp_path, f"sleep 30 &\necho $! > {tmp_path}/child.pid\n"
                            f"echo $$ > {tmp_path}/main.pid\nsleep 30\n")
    started = time.monotonic()
    result = await run([str(path)], timeout=1.0)
    elapsed = time.monotonic() - started
    assert result.status is Status.UNKNOWN
    assert result.summary == "command timed out after 1s (killed)"
    assert elapsed < 1.5  # gave up at the timeout (slack for a busy machine)
    for name in ("main.pid", "child.pid"):
        pid = int((tmp_path / name).read_text())
        assert await gone(pid), f"{name} {pid} still running"


async def test_a_child_holding_the_output_open_does_not_stall_the_check(
        tmp_path: Path) -> None:
    path = script(tmp_path, f"sleep 30 &\necho $! > {tmp_path}/child.pid\necho 'OK - done'\n")
    started = time.monotonic()
    result = await run([str(path)], timeout=5.0)
    assert time.monotonic() - started < 2.0
    assert (result.status, result.summary) == (Status.OK, "OK - done")
    assert await gone(int((tmp_path / "child.pid").read_text()))


async def test_output_past_the_cap_stops_the_command(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run([sys.executable, "-c", "import sys; sys.stdout.write('x' * 10_000_000)"])
    assert time.monotonic() - started < 4.0
    assert result.status is Status.UNKNOWN
    assert result.summary == "command output exceeded 64 KiB (stopped)"


async def test_output_cap_is_configurable(tmp_path: Path) -> None:
    path = script(tmp_path, "echo 'OK | a=1'\nhead -c 5000 /dev/zero | tr '\\0' x\n")
    assert (await run([str(path)], max_output="4KiB")).summary == (
        "command output exceeded 4 KiB (stopped)")
    assert (await run([str(path)], max_output="8KiB")).status is Status.OK


async def test_non_utf8_output_is_decoded_with_replacement_and_said(tmp_path: Path) -> None:
    path = script(tmp_path, "printf 'Temp\\351rature OK | t=21\\n'\n")
    result = await run([str(path)])
    assert result.status is Status.OK
    assert result.summary == "Temp\ufffdrature OK [output was not valid UTF-8]"
    assert result.metrics == {"t": 21.0}


async def test_binary_output_is_unknown(tmp_path: Path) -> None:
    path = script(tmp_path, "printf 'OK\\000\\001\\002'\n")
    result = await run([str(path)])
    assert result.status is Status.UNKNOWN
    assert result.summary == "command printed binary output, not plugin text"


async def test_output_without_final_newline_is_read(tmp_path: Path) -> None:
    path = script(tmp_path, "printf 'WARNING - almost | x=3;2'\nexit 1\n")
    result = await run([str(path)])
    assert (result.status, result.metrics) == (Status.WARNING, {"x": 3.0})


async def test_no_output_falls_back_to_stderr(tmp_path: Path) -> None:
    path = script(tmp_path, "echo 'something broke' >&2\nexit 2\n")
    result = await run([str(path)])
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               "no output; stderr: something broke")


async def test_killed_by_a_signal_is_unknown(tmp_path: Path) -> None:
    path = script(tmp_path, "echo 'about to crash'\nkill -SEGV $$\n")
    result = await run([str(path)])
    assert (result.status, result.summary) == (Status.UNKNOWN, "command killed by SIGSEGV")


@pytest.mark.parametrize("command", ["/nonexistent/check_thing", "no-such-plugin-here"])
async def test_missing_executable_is_unknown(command: str) -> None:
    result = await run([command, "-w", "1"])
    assert (result.status, result.summary) == (Status.UNKNOWN, f"command not found: {command}")


async def test_file_without_execute_permission_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "plugin.sh"
    path.write_text("#!/bin/sh\necho OK\n")
    path.chmod(0o644)
    result = await run([str(path)])
    assert (result.status, result.summary) == (Status.UNKNOWN, f"permission denied: {path}")


async def test_shell_only_when_asked(tmp_path: Path) -> None:
    result = await run("echo 'OK - piped | n=4' | cat", shell=True)
    assert (result.status, result.summary, result.metrics) == (Status.OK, "OK - piped",
                                                               {"n": 4.0})
    missing = await run("no-such-plugin-here", shell=True)
    assert missing.status is Status.UNKNOWN
    assert missing.summary.startswith("exit code 127: no output; stderr: ")
    assert "not found" in missing.summary


async def test_a_plain_string_is_split_into_arguments_not_given_to_a_shell(
        tmp_path: Path) -> None:
    path = script(tmp_path, 'echo "OK - $1 $2"\n')
    result = await run(f"{path} 'two words' '$HOME'")
    assert result.summary == "OK - two words $HOME"


async def test_environment_is_minimal_plus_configured(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_TEST_LEAK", "leaked")
    path = script(tmp_path, 'echo "OK - $(env | cut -d= -f1 | sort | tr \'\\n\' \' \')"\n')
    result = await run([str(path)], env={"PLUGIN_TOKEN": "s3cr3t"})
    names = set(result.summary.removeprefix("OK - ").split())
    assert {"PATH", "LANG", "PLUGIN_TOKEN"} <= names
    assert "WATCHKEEPER_TEST_LEAK" not in names
    assert "HOME" not in names


async def test_secret_env_values_the_plugin_prints_are_masked(tmp_path: Path) -> None:
    """A plugin that echoes its password (a debug line, a failed client's message) does
    not get it into the summary or the error; values that are what a summary is about
    (a host, a threshold) still show."""
    path = script(tmp_path, 'echo "CRITICAL - login as app:$DBPASS to $DBHOST failed, '
                            'token $API_TOKEN, dsn $DSN_URL"\n'
                            'echo "auth $DBPASS rejected" >&2\nexit 3\n')
    result = await run([str(path)], env={"DBPASS": "s3cret", "DBHOST": "db1.example.com",
                                         "API_TOKEN": "t0k", "WARN": "80",
                                         "DSN_URL": "postgres://app:hunter22@db1/x"})
    shown = f"{result.summary} {result.error}"
    assert "s3cret" not in shown and "hunter22" not in shown, shown
    assert result.summary == ("CRITICAL - login as app:**** to db1.example.com"
                              " failed, token t0k, dsn ****")
    assert result.error == "auth **** rejected"


def test_env_values_do_not_show_in_the_options_repr() -> None:
    options = CommandOptions(command=("true",), env={"PLUGIN_TOKEN": "s3cr3t"})
    assert "s3cr3t" not in repr(options)


async def test_cwd_is_where_the_command_runs(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = await run(["/bin/sh", "-c", "echo \"OK - $(pwd)\""], cwd=str(workdir))
    assert result.summary == f"OK - {workdir}"
    missing = await run(["true"], cwd=str(tmp_path / "nope"))
    assert (missing.status, missing.summary) == (
        Status.UNKNOWN, f"working directory not found: {tmp_path / 'nope'}")


async def test_close_stops_a_running_command(tmp_path: Path) -> None:
    path = script(tmp_path, f"echo $$ > {tmp_path}/main.pid\nsleep 30\n")
    check = CommandCheck("plugin", CommandOptions(command=(str(path),)))
    task = asyncio.create_task(check.run(CheckContext("plugin", "testhost", 20.0)))
    pid = int(await wait_for_file(tmp_path / "main.pid"))
    await check.close()
    result = await asyncio.wait_for(task, 3.0)
    assert result.status is Status.UNKNOWN
    assert await gone(pid)


async def test_close_while_the_command_is_starting_stops_it(tmp_path: Path) -> None:
    path = script(tmp_path, "sleep 30\n")
    check = CommandCheck("plugin", CommandOptions(command=(str(path),)))
    task = asyncio.create_task(check.run(CheckContext("plugin", "testhost", 20.0)))
    await asyncio.sleep(0)  # the run is inside create_subprocess_exec now
    await check.close()
    result = await asyncio.wait_for(task, 3.0)
    assert result.status is Status.UNKNOWN


async def test_a_cancelled_run_leaves_no_process(tmp_path: Path) -> None:
    path = script(tmp_path, f"echo $$ > {tmp_path}/main.pid\nsleep 30\n")
    task = asyncio.create_task(run([str(path)], timeout=20.0))
    pid = int(await wait_for_file(tmp_path / "main.pid"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(pid)


@pytest.mark.parametrize(("options", "message"), [
    ({"command": []}, "command is empty"),
    ({"command": "  "}, "command is empty"),
    ({"command": "check | grep x"}, "uses shell syntax"),
    ({"command": "check \"$HOME\""}, "uses shell syntax"),
    ({"command": "check *.log"}, "uses shell syntax"),
    ({"command": "check 'open"}, "cannot split command"),
    ({"command": ["a", "b"], "shell": True}, "give the command as one string"),
    ({"command": ["true"], "bogus": 1}, "Extra inputs are not permitted"),
    ({"command": ["true"], "max_output": "lots"}, "expected a size"),
    ({"command": ["true"], "max_output": 0}, "greater than 0"),
])
def test_bad_options_are_clear_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CommandOptions.model_validate(options)


@pytest.mark.parametrize(("options", "argv"), [
    ({"command": ["/p/check", "-w", "5,4"]}, ["/p/check", "-w", "5,4"]),
    ({"command": "/p/check -w '5 4'"}, ["/p/check", "-w", "5 4"]),
    ({"command": "/p/check -x '$1|*' a\\ b"}, ["/p/check", "-x", "$1|*", "a b"]),
    ({"command": "a | b", "shell": True}, ["/bin/sh", "-c", "a | b"]),
])
def test_argv_from_the_options(options: dict[str, object], argv: list[str]) -> None:
    assert CommandOptions.model_validate(options).argv() == argv


@pytest.mark.parametrize(("printf", "code", "summary"), [
    (r"\033[2J\033]0;pwned\007OK - fine", 0, "\\x1b[2J\\x1b]0;pwned\\x07OK - fine"),
    (r"DISK OK\tall\r", 0, "DISK OK\\tall"),
    (r"CRIT \033[31mred\033[0m | x=1", 2, "CRIT \\x1b[31mred\\x1b[0m"),
])
async def test_control_characters_in_the_plugin_output_are_escaped(
        tmp_path: Path, printf: str, code: int, summary: str) -> None:
    """Escape sequences and BELs never reach a terminal, the journal or a notification raw."""
    path = script(tmp_path, f"printf '{printf}\\n'\nexit {code}\n")
    result = await run([str(path)])
    assert result.summary.startswith(summary), result.summary
    assert result.summary.isprintable()


async def test_control_characters_in_stderr_are_escaped_in_the_error(tmp_path: Path) -> None:
    path = script(tmp_path, "printf 'bad \\033[2J\\007\\n' >&2\nexit 3\n")
    result = await run([str(path)])
    assert result.status is Status.UNKNOWN
    assert result.error == "bad \\x1b[2J\\x07"
    assert result.summary == "no output; stderr: bad \\x1b[2J\\x07"
