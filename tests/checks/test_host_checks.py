"""The built-in host checks (cpu, memory, load, disk) measured on this very machine."""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from agent.check import Check, CheckContext, load_kind
from agent.errors import CheckError
from agent.model import CheckResult, Status
from checks.cpu import FIRST_SAMPLE_SECONDS, CpuCheck, CpuOptions, CpuReading, cpu_usage
from checks.disk import DiskCheck, DiskOptions, DiskUsage, Mount, mount_of, select_mounts
from checks.load import LoadCheck, LoadOptions, logical_cpus
from checks.memory import MemoryCheck, MemoryOptions
from checks.shared.host import call_with_deadline, pending_calls, percent


def ctx(timeout: float = 10.0) -> CheckContext:
    return CheckContext(check_name="test", host="testhost", timeout=timeout)


def assert_sound(result: CheckResult) -> None:
    assert result.problems() == []
    for s in result.samples:
        assert math.isfinite(s.value), s


def values(result: CheckResult, metric: str) -> dict[str, float]:
    """{mount: value} of one labelled metric."""
    return {dict(s.labels)["mount"]: s.value for s in result.samples if s.metric == metric}


# --- registration ------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "cls"), [
    ("cpu", CpuCheck), ("memory", MemoryCheck), ("load", LoadCheck), ("disk", DiskCheck),
])
def test_kind_is_registered_as_entry_point(kind: str, cls: type[Check[Any]]) -> None:
    assert load_kind(kind) is cls
    assert cls.kind == kind


# --- cpu ---------------------------------------------------------------------------------

def burn(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


async def test_cpu_first_run_measures_a_real_sample() -> None:
    stop = threading.Event()
    spinner = threading.Thread(target=burn, args=(stop,), daemon=True)
    spinner.start()
    try:
        result = await CpuCheck("cpu", CpuOptions()).run(ctx())
    finally:
        stop.set()
        spinner.join()
    assert_sound(result)
    assert result.status is Status.OK
    usage = result.metrics["usage_percent"]
    # One core was kept busy during the sample, so usage cannot read as idle.
    assert 100 / logical_cpus() * 0.5 < usage <= 100
    assert 0 <= result.metrics["iowait_percent"] <= 100
    assert 0 <= result.metrics["steal_percent"] <= 100
    assert result.summary.startswith("cpu ")
    assert "iowait" in result.summary


async def test_cpu_later_run_uses_previous_reading_without_sampling_again() -> None:
    check = CpuCheck("cpu", CpuOptions())
    await check.run(ctx())
    end = time.monotonic() + 0.05
    while time.monotonic() < end:  # let some CPU time pass between the runs
        sum(range(1000))
    started = time.monotonic()
    result = await check.run(ctx())
    assert time.monotonic() - started < FIRST_SAMPLE_SECONDS
    assert_sound(result)
    assert 0 < result.metrics["usage_percent"] <= 100


def reading(total: float, idle: float, iowait: float = 0.0, steal: float = 0.0) -> CpuReading:
    return CpuReading(total=total, idle=idle, iowait=iowait, steal=steal)


@pytest.mark.parametrize(("before", "after", "expected"), [
    (reading(100, 80), reading(200, 130), (50.0, 0.0, 0.0)),
    (reading(100, 50, 10, 0), reading(200, 100, 30, 5), (30.0, 20.0, 5.0)),
    (reading(100, 0), reading(200, 100), (0.0, 0.0, 0.0)),
    # counters that went backwards count as zero, not as negative time
    (reading(100, 80, 50), reading(200, 70, 40), (100.0, 0.0, 0.0)),
])
def test_cpu_usage_shares_between_readings(
        before: CpuReading, after: CpuReading, expected: tuple[float, float, float]) -> None:
    usage = cpu_usage(before, after)
    assert usage is not None
    got = (usage.usage_percent, usage.iowait_percent, usage.steal_percent)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("after_total", [100.0, 99.0])
def test_cpu_usage_is_none_when_no_cpu_time_passed(after_total: float) -> None:
    assert cpu_usage(reading(100, 50), reading(after_total, 50)) is None


def test_cpu_reading_leaves_guest_time_out_of_the_total() -> None:
    times = psutil.cpu_times()
    fields = times._asdict()
    r = CpuReading.from_psutil(times)
    expected = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    assert r.total == pytest.approx(expected)
    assert r.idle == fields["idle"]


# --- memory ------------------------------------------------------------------------------

async def test_memory_reports_use_in_range() -> None:
    result = await MemoryCheck("memory", MemoryOptions()).run(ctx())
    assert_sound(result)
    m = result.metrics
    vm = psutil.virtual_memory()
    assert 0 < m["used_percent"] < 100
    assert m["used_percent"] == pytest.approx(vm.percent, abs=5)
    assert 0 < m["available_bytes"] <= vm.total
    assert 0 <= m["swap_used_percent"] <= 100
    if psutil.swap_memory().total == 0:
        assert m["swap_used_percent"] == 0
        assert "no swap" in result.summary
    else:
        assert "swap" in result.summary and "no swap" not in result.summary


# --- load --------------------------------------------------------------------------------

async def test_load_reports_averages_and_per_core_shares() -> None:
    result = await LoadCheck("load", LoadOptions()).run(ctx())
    assert_sound(result)
    m = result.metrics
    assert set(m) == LoadCheck.metrics
    cores = logical_cpus()
    for window, now in zip(("load1", "load5", "load15"), os.getloadavg(), strict=True):
        assert m[window] >= 0
        assert m[window] == pytest.approx(now, abs=1.0)
        assert m[f"{window}_per_core"] == pytest.approx(m[window] / cores)
    assert result.summary.startswith("load ")


# --- disk: one path ----------------------------------------------------------------------

async def test_disk_path_measures_its_filesystem_labelled_with_the_mount(
        tmp_path: Path) -> None:
    result = await DiskCheck("disk", DiskOptions(path=str(tmp_path))).run(ctx())
    assert_sound(result)
    assert result.status is Status.OK
    used = values(result, "used_percent")
    assert len(used) == 1
    (mount, used_percent), = used.items()
    mountpoints = {p.mountpoint for p in psutil.disk_partitions(all=True)}
    assert mount in mountpoints
    assert str(tmp_path.resolve()).startswith(mount.rstrip("/") + "/")
    assert used_percent == pytest.approx(psutil.disk_usage(str(tmp_path)).percent, abs=1)
    assert values(result, "free_bytes")[mount] > 0
    assert 0 <= values(result, "inodes_used_percent")[mount] <= 100
    assert f"{tmp_path} (on {mount})" in result.summary
    assert "% used" in result.summary and "free" in result.summary


async def test_disk_path_that_does_not_exist_is_critical(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = await DiskCheck("disk", DiskOptions(path=str(missing))).run(ctx())
    assert result.status is Status.CRITICAL
    assert result.summary == f"path {missing} does not exist"
    assert result.samples == ()


class HungDisk(DiskCheck):
    """A disk check whose filesystem call hangs until released, like a dead NFS mount."""

    release = threading.Event()

    def measure(self, path: str) -> DiskUsage:
        self.release.wait(10)
        return super().measure(path)


async def test_disk_hung_mount_is_critical_without_blocking_the_loop(tmp_path: Path) -> None:
    check = HungDisk("disk", DiskOptions(path=str(tmp_path)))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        first = await check.run(ctx(timeout=0.3))
        threads = threading.active_count()
        second = await check.run(ctx(timeout=0.3))
        elapsed = time.monotonic() - started
        # The second run waits on the call still hanging instead of starting another.
        assert threading.active_count() == threads
        assert pending_calls().count(f"disk {tmp_path}") == 1
    finally:
        task.cancel()
        HungDisk.release.set()
    for result in (first, second):
        assert result.status is Status.CRITICAL
        assert result.summary.startswith(f"{tmp_path} not responding")
    assert elapsed < 2
    assert ticks >= 10  # the event loop kept running while the mount hung


# --- disk: all filesystems ---------------------------------------------------------------

async def test_disk_all_reports_root_and_skips_pseudo_filesystems() -> None:
    result = await DiskCheck("disk", DiskOptions(all=True)).run(ctx())
    assert_sound(result)
    assert result.status is Status.OK
    used = values(result, "used_percent")
    assert "/" in used
    assert all(0 <= v <= 100 for v in used.values())
    assert set(values(result, "free_bytes")) == set(used)
    assert set(values(result, "inodes_used_percent")) == set(used)
    pseudo = {"proc", "sysfs", "overlay", "tmpfs", "devtmpfs", "cgroup", "cgroup2"}
    skipped = {p.mountpoint for p in psutil.disk_partitions(all=True) if p.fstype in pseudo}
    assert not skipped & set(used)
    assert result.metrics == {}  # every sample carries its mount label
    assert "/ " in result.summary


def mnt(device: str, mountpoint: str, fstype: str = "ext4", opts: str = "rw") -> Mount:
    return Mount(device, mountpoint, fstype, opts)


HOST_TABLE = [
    mnt("proc", "/proc", "proc"),
    mnt("sysfs", "/sys", "sysfs"),
    mnt("devtmpfs", "/dev", "devtmpfs"),
    mnt("tmpfs", "/run", "tmpfs"),
    mnt("cgroup2", "/sys/fs/cgroup", "cgroup2"),
    mnt("/dev/sda1", "/"),
    mnt("/dev/sda2", "/var", "xfs"),
    mnt("/dev/sda2", "/srv/var-bind", "xfs"),  # bind mount of /var
    mnt("/dev/loop3", "/snap/core/1", "squashfs", "ro,nodev"),
    mnt("overlay", "/var/lib/docker/overlay2/x/merged", "overlay"),
    mnt("nsfs", "/run/netns/a", "nsfs"),
    mnt("systemd-1", "/home", "autofs"),
    mnt("/dev/sdb1", "/home", "btrfs"),  # the automounted fs over its autofs placeholder
    mnt("/dev/sdc1", "/mnt/cdrom", "ext4", "ro,relatime"),
    mnt("nas:/export", "/mnt/nas", "nfs4", "rw,hard"),
    mnt("/dev/sdd1", "/media/usb", "vfat", "rw,nosuid,errors=remount-ro"),
]


@pytest.mark.parametrize(("exclude_mounts", "exclude_fstypes", "expected"), [
    ((), (), ["/", "/home", "/media/usb", "/mnt/nas", "/var"]),
    (("/mnt/*",), (), ["/", "/home", "/media/usb", "/var"]),
    ((), ("nfs*",), ["/", "/home", "/media/usb", "/var"]),
    (("/var",), (), ["/", "/home", "/media/usb", "/mnt/nas", "/srv/var-bind"]),
    (("/media/*",), ("btrfs", "xfs"), ["/", "/mnt/nas"]),
])
def test_select_mounts_keeps_only_real_writable_distinct_filesystems(
        exclude_mounts: tuple[str, ...], exclude_fstypes: tuple[str, ...],
        expected: list[str]) -> None:
    got = select_mounts(HOST_TABLE, exclude_mounts, exclude_fstypes)
    assert [m.mountpoint for m in got] == expected


@pytest.mark.parametrize("kind", ["all", "path"])
async def test_disk_mount_point_that_is_not_utf8_is_labelled_as_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    # A mount point named in bytes that are not UTF-8 comes from psutil with lone
    # surrogates: labels made of them could not be stored, so every result was lost.
    raw = os.fsdecode(bytes(tmp_path) + b"/x\xffy")
    os.mkdir(raw)
    link = tmp_path / "link"
    link.symlink_to(raw)  # a path option is text; it may still lead onto such a mount
    monkeypatch.setattr("checks.disk.read_mount_table",
                        lambda: [mnt("/dev/root", "/"), mnt("/dev/loop7", raw)])
    options = DiskOptions(all=True) if kind == "all" else DiskOptions(path=str(link))
    result = await DiskCheck("disk", options).run(ctx())
    assert result.status is Status.OK, result.summary
    shown = f"{tmp_path}/x\\xffy"
    assert shown in values(result, "used_percent")
    assert shown in result.summary
    result.summary.encode()
    for sample in result.samples:
        for name, value in sample.labels:
            (name + value).encode()


def test_select_mounts_judges_a_mount_point_by_its_topmost_mount() -> None:
    table = [mnt("/dev/sda3", "/data"), mnt("tmpfs", "/data", "tmpfs")]
    assert select_mounts(table) == []
    assert select_mounts(list(reversed(table))) == [mnt("/dev/sda3", "/data")]


@pytest.mark.parametrize(("path", "expected"), [
    ("/", "/"),
    ("/etc/hosts", "/"),
    ("/var", "/var"),
    ("/var/lib/x", "/var"),
    ("/variable", "/"),
    ("/srv/var-bind/log", "/srv/var-bind"),
])
def test_mount_of_finds_the_longest_containing_mount_point(path: str, expected: str) -> None:
    assert mount_of(path, HOST_TABLE) == expected


# --- options -----------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"path": "/", "all": True}, "not both"),
    ({}, "set either path"),
    ({"all": False}, "set either path"),
    ({"path": "var/log"}, "must be absolute"),
    ({"path": ""}, "must be absolute"),
    ({"path": "/", "exclude_mounts": ["/snap/*"]}, "only with all"),
    ({"all": True, "mount": "/"}, "Extra inputs are not permitted"),
])
def test_disk_options_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DiskOptions.model_validate(options)


def test_disk_options_take_exclusions_with_all() -> None:
    opts = DiskOptions.model_validate(
        {"all": True, "exclude_mounts": ["/snap/*"], "exclude_fstypes": ["fuse.*"]})
    assert opts.exclude_mounts == ("/snap/*",)
    assert opts.exclude_fstypes == ("fuse.*",)


@pytest.mark.parametrize("cls", [CpuCheck, MemoryCheck, LoadCheck])
def test_optionless_checks_reject_unknown_keys(cls: type[Check[Any]]) -> None:
    cls.Options.model_validate({})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        cls.Options.model_validate({"interval_ms": 5})


# --- shared helpers ----------------------------------------------------------------------

@pytest.mark.parametrize(("part", "whole", "expected"), [
    (1, 4, 25.0),
    (5, 0, 0.0),
    (0, 0, 0.0),
    (5, -1, 0.0),
    (math.nan, 10, 0.0),
    (1, math.inf, 0.0),
    (12, 10, 100.0),
    (-1, 10, 0.0),
])
def test_percent_never_leaves_0_to_100(part: float, whole: float, expected: float) -> None:
    assert percent(part, whole) == expected


async def test_call_with_deadline_returns_result_and_raises_callee_errors() -> None:
    assert await call_with_deadline("t-ok", lambda: 42, 1.0) == 42

    def boom() -> int:
        raise PermissionError("denied")

    with pytest.raises(PermissionError, match="denied"):
        await call_with_deadline("t-err", boom, 1.0)
    assert "t-ok" not in pending_calls() and "t-err" not in pending_calls()


async def test_call_with_deadline_joins_a_call_still_running() -> None:
    release = threading.Event()
    calls = 0

    def slow() -> str:
        nonlocal calls
        calls += 1
        release.wait(10)
        return "done"

    with pytest.raises(TimeoutError, match=r"no answer within 50ms"):
        await call_with_deadline("t-slow", slow, 0.05)
    assert "t-slow" in pending_calls()
    later = asyncio.create_task(call_with_deadline("t-slow", slow, 5.0))
    await asyncio.sleep(0.05)
    release.set()
    assert await later == "done"
    assert calls == 1


async def test_disk_all_with_a_hung_mount_table_read_leaves_the_shared_executor_free(
        monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang() -> Any:
        release.wait(10)
        raise AssertionError("released")

    monkeypatch.setattr("checks.disk.read_mount_table", hang)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    check = DiskCheck("disk", DiskOptions(all=True))
    try:
        with pytest.raises(CheckError, match=r"^reading the mount table: no answer within"):
            await asyncio.wait_for(check.run(ctx(timeout=0.3)), 3)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 2) == 1
    finally:
        release.set()
