"""The systemd check, fed ``systemctl`` output as systemd prints it (``data/systemd``), and
once through the real subprocess path with a fake ``systemctl`` program."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.model import CheckResult, Status
from checks.systemd.check import Expect, SystemdCheck, SystemdOptions, judge
from checks.systemd.show import (
    ActiveState,
    LoadState,
    ShowParseError,
    parse_failed_units,
    parse_unit_state,
)
from checks.systemd.systemctl import SYSTEMD_RUNTIME_DIR, Systemctl, SystemctlError

DATA = Path(__file__).parent / "data" / "systemd"


def ctx(timeout: float = 5.0) -> CheckContext:
    return CheckContext(check_name="systemd", host="testhost", timeout=timeout)


def recorded(name: str) -> str:
    return (DATA / name).read_text()


class Recorded:
    """A runner that answers every call with one recorded output and keeps the argv."""

    def __init__(self, name: str) -> None:
        self.text = recorded(name)
        self.calls: list[list[str]] = []

    async def __call__(self, argv: Sequence[str], timeout: float) -> str:
        self.calls.append(list(argv))
        return self.text


def check_with(name: str, **options: object) -> tuple[SystemdCheck, Recorded]:
    runner = Recorded(name)
    opts = SystemdOptions.model_validate(options or {"unit": "nginx.service"})
    return SystemdCheck("systemd", opts, runner=runner, booted=lambda: True), runner


def test_kind_is_registered_as_entry_point() -> None:
    assert load_kind("systemd") is SystemdCheck


# --- every ActiveState and the sub-states that matter -------------------------------------

@pytest.mark.parametrize(("file", "status", "summary", "active", "restarts"), [
    ("active-running.txt", Status.OK, "nginx.service is active (running)", 1, 0),
    ("active-exited.txt", Status.OK, "netfilter-persistent.service is active (exited)", 1, 0),
    ("reloading-reload.txt", Status.WARNING, "nginx.service is reloading (reload)", 1, 0),
    ("reloading-reload-notify.txt", Status.WARNING,
     "nginx.service is reloading (reload-notify, 1 restart)", 1, 1),
    ("refreshing.txt", Status.WARNING, "portable.service is refreshing (refresh-extensions)",
     1, 0),
    ("activating-start-pre.txt", Status.WARNING, "nginx.service is activating (start-pre)",
     0, 0),
    ("activating-auto-restart.txt", Status.WARNING,
     "nginx.service is activating (auto-restart, Result=exit-code, 2 restarts)", 0, 2),
    ("deactivating-stop-sigterm.txt", Status.WARNING,
     "nginx.service is deactivating (stop-sigterm)", 0, 0),
    ("maintenance-cleaning.txt", Status.WARNING, "nginx.service is maintenance (cleaning)",
     0, 0),
    ("inactive-dead.txt", Status.CRITICAL,
     "nginx.service is inactive (dead), expected active", 0, 0),
    ("failed-exit-code.txt", Status.CRITICAL,
     "nginx.service is failed (Result=exit-code, 3 restarts)", 0, 3),
    ("failed-start-limit.txt", Status.CRITICAL,
     "nginx.service is failed (Result=start-limit-hit, 5 restarts)", 0, 5),
    ("masked.txt", Status.CRITICAL,
     "nginx.service is inactive (dead, masked), expected active", 0, 0),
    ("not-found.txt", Status.CRITICAL, "unit nosuch.service not found", 0, 0),
    ("bad-setting.txt", Status.CRITICAL,
     "unit broken.service cannot be loaded: Unit broken.service has a bad unit file setting.",
     0, 0),
])
async def test_unit_state_decides_status_and_summary(
        file: str, status: Status, summary: str, active: int, restarts: int) -> None:
    check, _ = check_with(file)
    result = await check.run(ctx())
    assert (result.status, result.summary) == (status, summary)
    assert result.metrics == {"active": active, "restarts": restarts}


@pytest.mark.parametrize(("file", "summary"), [
    ("timer-active-waiting.txt", "backup.timer is active (waiting)"),
    ("target-active.txt", "multi-user.target is active"),
])
async def test_units_without_restart_counter_report_no_restarts_metric(
        file: str, summary: str) -> None:
    check, _ = check_with(file)
    result = await check.run(ctx())
    assert (result.status, result.summary) == (Status.OK, summary)
    assert result.metrics == {"active": 1}


@pytest.mark.parametrize(("file", "expect", "status"), [
    ("inactive-dead.txt", Expect.INACTIVE, Status.OK),
    ("masked.txt", Expect.INACTIVE, Status.OK),
    ("active-running.txt", Expect.INACTIVE, Status.CRITICAL),
    ("reloading-reload.txt", Expect.INACTIVE, Status.CRITICAL),
    ("deactivating-stop-sigterm.txt", Expect.INACTIVE, Status.WARNING),
    ("failed-exit-code.txt", Expect.INACTIVE, Status.CRITICAL),
    ("not-found.txt", Expect.INACTIVE, Status.CRITICAL),
    ("inactive-dead.txt", Expect.NOT_FAILED, Status.OK),
    ("active-exited.txt", Expect.NOT_FAILED, Status.OK),
    ("activating-start-pre.txt", Expect.NOT_FAILED, Status.OK),
    ("activating-auto-restart.txt", Expect.NOT_FAILED, Status.WARNING),
    ("failed-exit-code.txt", Expect.NOT_FAILED, Status.CRITICAL),
    ("not-found.txt", Expect.NOT_FAILED, Status.CRITICAL),
])
def test_expectation_changes_what_is_a_problem(file: str, expect: Expect,
                                               status: Status) -> None:
    got, _ = judge(parse_unit_state(recorded(file), "x.service"), expect)
    assert got is status


def test_active_unit_expected_inactive_says_so() -> None:
    _, summary = judge(parse_unit_state(recorded("active-running.txt"), "nginx"),
                       Expect.INACTIVE)
    assert summary == "nginx.service is active (running), expected inactive"


@pytest.mark.parametrize("state", list(ActiveState))
@pytest.mark.parametrize("expect", list(Expect))
def test_every_active_state_has_a_verdict_for_every_expectation(
        state: ActiveState, expect: Expect) -> None:
    text = f"Id=x.service\nLoadState=loaded\nActiveState={state.value}\nSubState=running\n"
    status, summary = judge(parse_unit_state(text, "x.service"), expect)
    assert status in (Status.OK, Status.WARNING, Status.CRITICAL)
    assert summary.startswith(f"x.service is {state.value}")


# --- parsing -----------------------------------------------------------------------------

def test_parser_reads_properties_in_any_order_and_unit_id() -> None:
    text = "SubState=running\nActiveState=active\nLoadState=loaded\nId=nginx.service\n"
    state = parse_unit_state(text, "nginx")
    assert state.unit == "nginx.service"
    assert state.active_state is ActiveState.ACTIVE
    assert state.load_state is LoadState.LOADED
    assert state.n_restarts is None and state.result is None


def test_parser_keeps_values_holding_equals_signs() -> None:
    state = parse_unit_state(recorded("not-found.txt"), "nosuch.service")
    assert state.load_error == "Unit nosuch.service not found."


@pytest.mark.parametrize(("file", "message"), [
    ("garbage.txt", "not a Key=Value property line"),
    ("empty.txt", "printed no properties"),
    ("unknown-state.txt", "ActiveState='exploding', not one of active"),
    ("no-active-state.txt", "printed no ActiveState"),
])
def test_parser_refuses_output_it_does_not_understand(file: str, message: str) -> None:
    with pytest.raises(ShowParseError, match=message):
        parse_unit_state(recorded(file), "nginx.service")


@pytest.mark.parametrize("file", ["garbage.txt", "empty.txt", "unknown-state.txt"])
async def test_unparseable_output_is_unknown_not_a_crash(file: str) -> None:
    check, _ = check_with(file)
    result = await check.run(ctx())
    assert result.status is Status.UNKNOWN
    assert "systemctl" in result.summary


def test_non_numeric_restart_count_is_refused() -> None:
    text = "Id=x.service\nLoadState=loaded\nActiveState=active\nNRestarts=lots\n"
    with pytest.raises(ShowParseError, match="NRestarts"):
        parse_unit_state(text, "x.service")


@pytest.mark.parametrize(("file", "units"), [
    ("failed-units-two.txt", ["backup.service", "certbot-renew.timer"]),
    ("failed-units-bullets.txt",
     ["backup.service", "disk-check.service", "systemd-networkd-wait-online.service"]),
    ("failed-units-none.txt", []),
    ("garbage.txt", []),
])
def test_failed_units_are_read_from_list_units(file: str, units: list[str]) -> None:
    assert parse_failed_units(recorded(file)) == units


# --- the command line --------------------------------------------------------------------

async def test_unit_is_queried_with_one_argv_and_no_shell() -> None:
    check, runner = check_with("active-running.txt", unit="nginx", systemctl="/opt/sd/systemctl")
    await check.run(ctx())
    assert runner.calls == [[
        "/opt/sd/systemctl", "--no-pager", "show", "nginx",
        "--property=Id,LoadState,ActiveState,SubState,Result,NRestarts,UnitFileState,"
        "LoadError"]]


async def test_failed_units_mode_counts_and_names_them() -> None:
    check, runner = check_with("failed-units-two.txt", failed_units=True)
    result = await check.run(ctx())
    assert runner.calls == [["systemctl", "--no-pager", "list-units", "--state=failed",
                             "--plain", "--no-legend"]]
    assert result.status is Status.CRITICAL
    assert result.summary == "2 failed units: backup.service, certbot-renew.timer"
    assert result.metrics == {"failed_units": 2}


async def test_failed_units_mode_skips_ignored_units() -> None:
    check, _ = check_with("failed-units-bullets.txt", failed_units=True,
                          ignore_units=["systemd-networkd-wait-online.service", "disk-*"])
    result = await check.run(ctx())
    assert result.summary == "1 failed unit: backup.service (2 ignored)"
    assert result.metrics == {"failed_units": 1}


async def test_no_failed_units_is_ok() -> None:
    check, _ = check_with("failed-units-none.txt", failed_units=True)
    result = await check.run(ctx())
    assert (result.status, result.summary) == (Status.OK, "no failed units")
    assert result.metrics == {"failed_units": 0}


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({}, "set either unit"),
    ({"unit": "a.service", "failed_units": True}, "not both"),
    ({"unit": "-H evil"}, "is not a systemd unit name"),
    ({"unit": "nginx.service; reboot"}, "is not a systemd unit name"),
    ({"unit": "a.service", "ignore_units": ["x"]}, "ignore_units applies only"),
    ({"failed_units": True, "expect": "active"}, "expect applies only with unit"),
    ({"unit": "a.service", "expect": "running"}, "expect"),
    ({"unit": "a.service", "extra": 1}, "extra"),
])
def test_bad_options_are_refused_with_a_clear_message(options: dict[str, object],
                                                      message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SystemdOptions.model_validate(options)


def test_expect_accepts_not_failed() -> None:
    options = SystemdOptions.model_validate({"unit": "a.timer", "expect": "not-failed"})
    assert options.expect is Expect.NOT_FAILED


# --- no systemd, no systemctl, the real subprocess ---------------------------------------

async def test_host_without_systemd_is_unknown_and_nothing_is_run() -> None:
    runner = Recorded("active-running.txt")
    check = SystemdCheck("s", SystemdOptions(unit="nginx"), runner=runner, booted=lambda: False)
    result = await check.run(ctx())
    assert (result.status, result.summary) == (Status.UNKNOWN,
                                               "systemd is not running on this host")
    assert runner.calls == []


@pytest.mark.skipif(SYSTEMD_RUNTIME_DIR.is_dir(), reason="systemd runs this host")
async def test_default_check_on_this_host_says_systemd_is_not_running() -> None:
    result = await SystemdCheck("s", SystemdOptions(failed_units=True)).run(ctx())
    assert (result.status, result.summary) == (Status.UNKNOWN,
                                               "systemd is not running on this host")


def fake_systemctl(folder: Path, body: str, name: str = "systemctl") -> Path:
    """An executable ``systemctl`` that logs its arguments, one a line, then runs ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{folder}/argv"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


async def test_real_subprocess_path_with_fake_systemctl_first_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    fake_systemctl(bindir, f'cat "{DATA / "failed-exit-code.txt"}"')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    check = SystemdCheck("s", SystemdOptions(unit="nginx.service"), booted=lambda: True)
    result = await check.run(ctx())
    assert result.status is Status.CRITICAL
    assert result.summary == "nginx.service is failed (Result=exit-code, 3 restarts)"
    assert result.metrics == {"active": 0, "restarts": 3}
    argv = (bindir / "argv").read_text().splitlines()
    assert argv[:3] == ["--no-pager", "show", "nginx.service"]
    assert argv[3].startswith("--property=")


async def test_systemctl_option_names_the_binary(tmp_path: Path) -> None:
    script = fake_systemctl(tmp_path / "sd", f'cat "{DATA / "active-running.txt"}"',
                            name="my-systemctl")
    check = SystemdCheck("s", SystemdOptions(unit="nginx", systemctl=str(script)),
                         booted=lambda: True)
    result = await check.run(ctx())
    assert (result.status, result.summary) == (Status.OK, "nginx.service is active (running)")


@pytest.mark.parametrize(("body", "summary"), [
    ('echo "System has not been booted with systemd as init system (PID 1). Can\'t operate." '
     '>&2; echo "Failed to connect to bus: Host is down" >&2; exit 1',
     "systemd is not running on this host"),
    ('echo "Failed to connect to bus: Permission denied" >&2; exit 1',
     "systemctl show failed (exit 1): Failed to connect to bus: Permission denied"),
    ("exec sleep 5", "gave no answer within"),
])
async def test_systemctl_failures_are_unknown_with_their_reason(
        tmp_path: Path, body: str, summary: str) -> None:
    script = fake_systemctl(tmp_path / "sd", body)
    check = SystemdCheck("s", SystemdOptions(unit="nginx", systemctl=str(script)),
                         booted=lambda: True)
    result = await check.run(ctx(timeout=0.5))
    assert result.status is Status.UNKNOWN
    assert summary in result.summary


async def test_missing_systemctl_binary_is_unknown(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "systemctl"
    check = SystemdCheck("s", SystemdOptions(unit="nginx", systemctl=str(missing)),
                         booted=lambda: True)
    result = await check.run(ctx())
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(f"{missing} not found")


async def test_main_pid_must_be_a_number() -> None:
    async def says(argv: Sequence[str], timeout: float) -> str:
        return "MainPID=12\n"

    with pytest.raises(SystemctlError, match="not a process id"):
        await Systemctl(runner=says, booted=lambda: True).main_pid("x.service", 1.0)


def assert_sound(result: CheckResult) -> None:
    assert result.problems() == []
