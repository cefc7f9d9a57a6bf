"""The shipped systemd unit: its hardening rating and what it must leave the checks."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

from tests.packaging.throwaway_root import require

UNIT = Path(__file__).resolve().parents[2] / "packaging" / "watchkeeper.service"


def _service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text())
    return unit["Service"]


def test_systemd_rates_the_unit_ok_at_4_or_better() -> None:
    analyze = require("systemd-analyze")
    done = subprocess.run([analyze, "security", "--offline=yes", "--threshold=40", str(UNIT)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    overall = next(line for line in done.stdout.splitlines() if "Overall exposure" in line)
    assert overall.split()[-2] == "OK", overall


@pytest.mark.parametrize(("key", "value"), [
    ("Type", "notify"),
    ("NotifyAccess", "main"),
    ("WatchdogSec", "60s"),
    ("RestartPreventExitStatus", "2"),  # a broken config is not retried
    ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ("SupplementaryGroups", "adm"),  # the logins check reads /var/log/auth.log
    ("ProtectHome", "read-only"),  # disk and backup checks look under /home
])
def test_the_unit_sets(key: str, value: str) -> None:
    assert _service()[key] == value


@pytest.mark.parametrize("key", [
    "ExecStartPre",  # its exit 2 would not stop the restarts
    "ProtectProc",  # the process check sees every user's processes
    "ProcSubset",  # cpu, memory and load read /proc/stat, /proc/meminfo, /proc/loadavg
    "PrivateNetwork", "IPAddressDeny",  # network checks
    "PrivateUsers",  # systemctl over D-Bus and the adm group as they are
    "MemoryDenyWriteExecute",  # plugins with a JIT (perl, java, node)
])
def test_the_unit_leaves_the_checks_what_they_need(key: str) -> None:
    assert key not in _service()


def _syscalls(analyze: str, groups: list[str]) -> set[str]:
    listing = subprocess.run([analyze, "syscall-filter", *groups], capture_output=True,
                             text=True, check=True).stdout
    return {w for line in listing.splitlines() if not line.lstrip().startswith("#")
            for w in line.split()}


def test_plugins_can_fork_and_exec_under_the_system_call_filter() -> None:
    analyze = require("systemd-analyze")
    filters = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines()
               if line.startswith("SystemCallFilter=")]
    allowed = [f for f in filters if not f.startswith("~")]
    denied = [g for f in filters if f.startswith("~") for g in f[1:].split()]
    assert allowed == ["@system-service"]
    assert "@process" in _syscalls(analyze, ["@system-service"])
    process = {"execve", "clone", "clone3", "fork", "vfork", "setsid", "wait4", "kill"}
    # @default is in every allow list; @process and @signal are in @system-service.
    allowed_calls = _syscalls(analyze, ["@default", "@process", "@signal", "@system-service"])
    assert process <= allowed_calls
    assert not process & _syscalls(analyze, denied)
