"""The ``disk`` check: space and inodes used on one mount, or on every real filesystem."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, ClassVar

import psutil
from pydantic import field_validator, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.errors import CheckError
from agent.model import CheckResult, Sample, Status, make_labels
from agent.thresholds.forecast import default_forecast
from agent.thresholds.rules import ThresholdRule
from agent.units import format_bytes, format_percent
from checks.shared.host import call_with_deadline, percent

#: Filesystem types that hold no user data worth watching (kernel views, memory-backed,
#: container layers, read-only images, automounter placeholders).
PSEUDO_FSTYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devfs", "devpts", "tmpfs", "ramfs", "rootfs", "shm",
    "cgroup", "cgroup2", "cpuset", "nsfs", "bpf", "pstore", "securityfs", "debugfs",
    "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "efivarfs",
    "selinuxfs", "rpc_pipefs", "nfsd", "autofs", "squashfs", "iso9660", "udf",
    "overlay", "overlayfs", "aufs", "shiftfs", "fuse.fuse-overlayfs", "fuse.lxcfs",
    "fuse.gvfsd-fuse", "fuse.portal", "fuse.snapfuse", "nullfs", "lofs",
})

#: Summaries list this many mounts (the fullest first) and count the rest.
SUMMARY_MOUNTS = 5

#: Share of the check's timeout one filesystem call may take before it counts as hung.
_DEADLINE_SHARE = 0.8


class DiskOptions(CheckOptions):
    """Either ``path`` (one mount, or any path on it) or ``all: true`` (every real
    filesystem), never both. With ``all``, ``exclude_mounts`` and ``exclude_fstypes`` are
    glob patterns (``/snap/*``, ``fuse.*``) matched against the mount point and the
    filesystem type."""

    path: str | None = None
    all: bool = False
    exclude_mounts: tuple[str, ...] = ()
    exclude_fstypes: tuple[str, ...] = ()

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not os.path.isabs(value):
            raise ValueError(f"path must be absolute (start with /), got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> DiskOptions:
        if self.path is not None and self.all:
            raise ValueError("set either path or all: true, not both")
        if self.path is None and not self.all:
            raise ValueError("set either path (one mount) or all: true (every real filesystem)")
        if self.path is not None and (self.exclude_mounts or self.exclude_fstypes):
            raise ValueError("exclude_mounts and exclude_fstypes apply only with all: true")
        return self


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of the mount table."""

    device: str
    mountpoint: str
    fstype: str
    opts: str = ""

    @property
    def read_only(self) -> bool:
        return "ro" in self.opts.split(",")


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """Space and inodes of one filesystem, as ``df`` sees them for an ordinary user.

    ``used_percent`` is used / (used + available): blocks reserved for root count neither
    as used nor as available. ``inodes_used_percent`` is 0 on filesystems without a fixed
    inode table (btrfs reports 0 files).
    """

    used_percent: float
    free_bytes: float
    inodes_used_percent: float

    @classmethod
    def of(cls, path: str) -> DiskUsage:
        """Measure the filesystem holding ``path`` (blocking; may hang on a dead mount)."""
        if not hasattr(os, "statvfs"):  # pragma: no cover - Windows has no statvfs
            du = shutil.disk_usage(path)
            return cls(percent(du.used, du.used + du.free), float(du.free), 0.0)
        st = os.statvfs(path)
        block = st.f_frsize or st.f_bsize
        used = max(st.f_blocks - st.f_bfree, 0) * block
        avail = max(st.f_bavail, 0) * block
        return cls(
            used_percent=percent(used, used + avail),
            free_bytes=float(avail),
            inodes_used_percent=percent(st.f_files - st.f_ffree, st.f_files),
        )

    def samples(self, mount: str) -> list[Sample]:
        labels = make_labels({"mount": mount})
        return [
            Sample("used_percent", self.used_percent, labels),
            Sample("free_bytes", self.free_bytes, labels),
            Sample("inodes_used_percent", self.inodes_used_percent, labels),
        ]

    def text(self) -> str:
        return f"{format_percent(self.used_percent)} used, {format_bytes(self.free_bytes)} free"


def read_mount_table() -> list[Mount]:
    """Every mounted filesystem, pseudo ones included, in mount order."""
    return [Mount(p.device, p.mountpoint, p.fstype, p.opts)
            for p in psutil.disk_partitions(all=True)]


def is_pseudo(mount: Mount) -> bool:
    """Whether the filesystem holds no user data worth watching (see PSEUDO_FSTYPES)."""
    return mount.fstype.lower() in PSEUDO_FSTYPES


def select_mounts(mounts: Iterable[Mount], exclude_mounts: Sequence[str] = (),
                  exclude_fstypes: Sequence[str] = ()) -> list[Mount]:
    """The real filesystems worth watching, sorted by mount point.

    A later mount on the same mount point hides the earlier one (statvfs sees the later).
    Pseudo filesystems, read-only mounts and excluded ones are dropped. Of several mounts
    of one device (bind mounts, btrfs subvolumes) the one with the shortest mount point is
    kept, since they all report the same space.
    """
    visible: dict[str, Mount] = {}
    for m in mounts:
        visible.pop(m.mountpoint, None)
        visible[m.mountpoint] = m
    kept = [
        m for m in visible.values()
        if not is_pseudo(m) and not m.read_only
        and not any(fnmatchcase(m.mountpoint, pat) for pat in exclude_mounts)
        and not any(fnmatchcase(m.fstype, pat) for pat in exclude_fstypes)
    ]
    by_device: dict[str, Mount] = {}
    for m in sorted(kept, key=lambda m: (len(m.mountpoint), m.mountpoint)):
        by_device.setdefault(m.device, m)
    return sorted(by_device.values(), key=lambda m: m.mountpoint)


def shown_mount(mountpoint: str) -> str:
    """A mount point as text for labels and summaries: the bytes of a name that is not
    UTF-8 (psutil hands them over as lone surrogates, which the store, a log line or
    /metrics cannot hold, so every result of the check was lost) written out as ``\\xff``;
    the real path is still what is measured."""
    return os.fsencode(mountpoint).decode("utf-8", "backslashreplace")


def mount_of(path: str, mounts: Iterable[Mount]) -> str:
    """The mount point holding an absolute, resolved ``path`` (the longest matching one)."""
    best = "/"
    for m in mounts:
        mp = m.mountpoint
        inside = path == mp or path.startswith(mp.rstrip("/") + "/")
        if inside and len(mp) > len(best):
            best = mp
    return best


@dataclass(frozen=True, slots=True)
class _PathUsage:
    mount: str
    usage: DiskUsage


class DiskCheck(Check[DiskOptions]):
    """Disk space and inodes.

    Metrics, each labelled with the ``mount`` point so alerts say which disk:
    ``used_percent`` (as ``df`` shows it), ``free_bytes`` (what an ordinary user can still
    write) and ``inodes_used_percent``. A path that does not exist is CRITICAL; so is a mount
    that does not answer (a dead NFS server) within most of the check's timeout. Filesystem
    calls run in a daemon thread, so a hung mount never blocks the agent.
    """

    kind: ClassVar[str] = "disk"
    Options: ClassVar[type[CheckOptions]] = DiskOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"used_percent", "free_bytes", "inodes_used_percent"})

    @classmethod
    def where(cls, options: DiskOptions) -> str | None:
        # With ``all``, each alert's ``mount`` label already says which disk.
        return options.path

    def measure(self, path: str) -> DiskUsage:
        """Measure one filesystem (blocking; runs in a daemon thread)."""
        return DiskUsage.of(path)

    @classmethod
    def default_thresholds(cls, options: Any) -> dict[str, ThresholdRule]:
        """A forecast towards 100 % on ``used_percent`` and ``inodes_used_percent``: a
        warning when a disk will be full within a week, critical within 6 hours."""
        return {m: ThresholdRule(m, forecast=default_forecast())
                for m in ("used_percent", "inodes_used_percent")}

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Measure the configured path, or every real filesystem."""
        deadline = max(ctx.timeout * _DEADLINE_SHARE, 0.1)
        if self.options.path is not None:
            return await self._run_path(self.options.path, deadline)
        return await self._run_all(ctx, deadline)

    async def _run_path(self, path: str, deadline: float) -> CheckResult:
        def work() -> _PathUsage | None:
            real = os.path.realpath(path)
            try:
                os.stat(real)
            except (FileNotFoundError, NotADirectoryError):
                return None
            return _PathUsage(mount_of(real, read_mount_table()), self.measure(real))

        try:
            found = await call_with_deadline(f"disk {path}", work, deadline)
        except TimeoutError as exc:
            return CheckResult.failed(Status.CRITICAL, f"{path} not responding ({exc})",
                                      error=str(exc))
        except PermissionError as exc:
            raise CheckError(f"cannot measure {path}: permission denied") from exc
        except OSError as exc:
            return CheckResult.failed(Status.CRITICAL, f"{path}: {exc.strerror or exc}",
                                      error=str(exc))
        if found is None:
            return CheckResult.failed(Status.CRITICAL, f"path {path} does not exist")
        at_mount = path.rstrip("/") == found.mount.rstrip("/")
        mount = shown_mount(found.mount)
        where = mount if at_mount else f"{path} (on {mount})"
        return CheckResult.ok(f"{where} {found.usage.text()}",
                              samples=found.usage.samples(mount))

    async def _run_all(self, ctx: CheckContext, deadline: float) -> CheckResult:
        try:
            # Not the shared executor either: nothing may hold one of its threads for good.
            table = await call_with_deadline("mount table", read_mount_table, deadline)
        except TimeoutError as exc:
            raise CheckError(f"reading the mount table: {exc}") from None
        mounts = select_mounts(table, self.options.exclude_mounts, self.options.exclude_fstypes)
        if not mounts:
            return CheckResult.unknown("no real filesystem left to watch after filtering")
        results = await asyncio.gather(
            *(call_with_deadline(f"statvfs {m.mountpoint}",
                                 functools.partial(self.measure, m.mountpoint), deadline)
              for m in mounts),
            return_exceptions=True,
        )
        measured: list[tuple[str, DiskUsage]] = []
        problems: list[str] = []
        for m, res in zip(mounts, results, strict=True):
            mount = shown_mount(m.mountpoint)
            if isinstance(res, DiskUsage):
                measured.append((mount, res))
            elif isinstance(res, PermissionError):
                # Another user's FUSE mount and the like: not ours to watch.
                ctx.logger.debug("disk: skipping %s: %s", mount, res.strerror or res)
            elif isinstance(res, TimeoutError):
                problems.append(f"{mount} not responding ({res})")
            elif isinstance(res, OSError):
                problems.append(f"{mount}: {res.strerror or res}")
            else:
                raise res
        samples = [s for mp, usage in measured for s in usage.samples(mp)]
        summary = _summary_all(measured)
        if problems:
            text = "; ".join([*problems, summary] if summary else problems)
            return CheckResult.failed(Status.CRITICAL, text, error="; ".join(problems),
                                      samples=samples)
        if not measured:
            return CheckResult.unknown("no filesystem could be measured")
        return CheckResult.ok(summary, samples=samples)


def _summary_all(measured: list[tuple[str, DiskUsage]]) -> str:
    fullest = sorted(measured, key=lambda mu: -mu[1].used_percent)
    parts = [f"{mp} {usage.text()}" for mp, usage in fullest[:SUMMARY_MOUNTS]]
    if len(fullest) > SUMMARY_MOUNTS:
        parts.append(f"{len(fullest) - SUMMARY_MOUNTS} more")
    return "; ".join(parts)
