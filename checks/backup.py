"""The ``backup`` check: is the newest backup file fresh, of a sane size, and readable?

``path`` is a file, a directory (its files) or a glob (``/backups/db-*.sql.gz``; ``**``
reaches into subdirectories). Metrics: ``age_hours`` and ``size_bytes`` of the newest file,
``size_change_percent`` against the previous newest one (negative when it shrank) and
``files`` (how many match). Thresholds on them say what is wrong ("older than 26h",
"smaller than 1GB", "shrank by more than 50%"); no matching file is CRITICAL.

A file modified within ``settle`` (default 1m) is taken to be still being written: the
newest complete file is judged instead (an older one, or the version of a rewritten file
seen on an earlier run), and a file is verified only once it has settled.

``verify`` is an argument list run with ``{file}`` replaced by the newest file's path
(``[gzip, -t, "{file}"]``); a non-zero exit is CRITICAL. It runs again only when the
newest file changed since the last verification (remembered across restarts), within the
check's ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import time
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from glob import glob
from typing import Any, ClassVar

from pydantic import Field, field_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.durations import Duration
from agent.errors import CheckError
from agent.model import CheckResult, Status
from agent.programs import PLAIN_ENV, exited, reap
from agent.textsafe import shortened
from agent.units import format_bytes, format_duration, format_percent
from checks.shared.host import call_with_deadline

PLACEHOLDER = "{file}"
_MAGIC = frozenset("*?[")
_STDERR_CAP = 64 * 1024
_LINE_CAP = 200
#: Share of the check's timeout that listing the files may take (a hung NFS mount).
_LIST_SHARE = 0.5


class BackupOptions(CheckOptions):
    """Options of a ``backup`` check (see the module docstring)."""

    path: str = Field(min_length=1)
    verify: tuple[str, ...] | None = None
    settle: Duration = 60.0

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not os.path.isabs(v):
            raise ValueError(f"path must be absolute (start with /), got {v!r}")
        return v

    @field_validator("verify")
    @classmethod
    def _verify(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v or not v[0]:
            raise ValueError('verify is empty; give a command like [gzip, -t, "{file}"]')
        if not any(PLACEHOLDER in word for word in v):
            raise ValueError(f'verify must name the file as "{PLACEHOLDER}", '
                             'like [gzip, -t, "{file}"]')
        return v


@dataclass(frozen=True, slots=True)
class BackupFile:
    """One matching regular file: its path, modification time and size."""

    path: str
    mtime_ns: int
    size: int

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


@dataclass(frozen=True, slots=True)
class Listing:
    """The matching files, newest first; ``missing`` names a directory that is not there."""

    files: list[BackupFile]
    missing: str | None = None


def fixed_dir(pattern: str) -> str:
    """The directory part of ``pattern`` before any glob character (``/backups``)."""
    parts = pattern.split(os.sep)
    fixed: list[str] = []
    for part in parts[:-1]:
        if _MAGIC & set(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or os.sep


def list_files(pattern: str) -> Listing:
    """The regular files ``pattern`` names, newest first (blocking).

    Raises PermissionError when the directory to search cannot be read.
    """
    is_glob = bool(_MAGIC & set(pattern))
    whole_dir = not is_glob and os.path.isdir(pattern)
    base = pattern if whole_dir else fixed_dir(pattern) if is_glob else os.path.dirname(pattern)
    if not os.path.isdir(base):
        return Listing([], missing=base)
    if not os.access(base, os.R_OK | os.X_OK):
        # glob() would say nothing matches: say why instead.
        raise PermissionError(f"cannot list {base}: permission denied")
    if whole_dir:
        with os.scandir(pattern) as entries:
            paths = [e.path for e in entries]
    else:
        paths = glob(pattern, recursive=True)
    files: list[BackupFile] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:  # removed since it was listed (rotation), or a dangling link
            continue
        if stat.S_ISREG(st.st_mode):
            files.append(BackupFile(p, st.st_mtime_ns, st.st_size))
    files.sort(key=lambda f: (f.mtime_ns, f.path), reverse=True)
    return Listing(files)


def size_change_percent(size: int, previous: int) -> float | None:
    """Change from ``previous`` to ``size`` in percent (None when previous was empty)."""
    if previous <= 0:
        return 0.0 if size == previous else None
    return (size - previous) / previous * 100.0


def command_text(argv: tuple[str, ...]) -> str:
    """The verify command as shown in messages, without its file argument (``gzip -t``)."""
    return " ".join(w for w in argv if PLACEHOLDER not in w)


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a verify run. ``final`` outcomes are remembered per file."""

    status: Status
    message: str
    final: bool = True


async def run_verify(argv: tuple[str, ...], file: str, budget: float) -> Verification:
    """Run the verify command on ``file`` for at most ``budget`` seconds."""
    words = [w.replace(PLACEHOLDER, file) for w in argv]
    shown = command_text(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *words, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
            env=PLAIN_ENV)
    except FileNotFoundError:
        return Verification(Status.UNKNOWN, f"verify command not found: {words[0]}", False)
    except OSError as exc:
        return Verification(Status.UNKNOWN, f"cannot run verify command {words[0]}: "
                                            f"{exc.strerror or exc}", False)
    reader = asyncio.create_task(_read_capped(proc.stderr))
    try:
        try:
            async with asyncio.timeout(budget):
                code = await exited(proc)
        except TimeoutError:
            return Verification(Status.UNKNOWN, f"verify timed out after "
                                                f"{format_duration(budget)}: {shown} (killed; "
                                                "raise the check's timeout for big files)",
                                False)
        # Exited: let stderr reach EOF, unless a child still holds it open.
        await asyncio.wait({reader}, timeout=0.5)
    finally:
        reader.cancel()
        await reap(proc)
    if code == 0:
        return Verification(Status.OK, "verified")
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
        return Verification(Status.CRITICAL, f"verify failed: {shown} {how}")
    line = _first_line(reader.result() if reader.done() and not reader.cancelled() else b"")
    return Verification(Status.CRITICAL, f"verify failed: {shown} exited {code}"
                                         + (f": {line}" if line else ""))


async def _read_capped(stream: asyncio.StreamReader | None) -> bytes:
    """Everything up to the cap; the rest is read and dropped so the writer never blocks."""
    data = bytearray()
    if stream is None:
        return b""
    while chunk := await stream.read(65536):
        if len(data) < _STDERR_CAP:
            data.extend(chunk[:_STDERR_CAP - len(data)])
    return bytes(data)


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip():
            text = line.strip()
            return shortened(text, _LINE_CAP)
    return ""


class BackupCheck(Check[BackupOptions]):
    """Freshness, size and (optionally) integrity of the newest backup file."""

    kind: ClassVar[str] = "backup"
    Options: ClassVar[type[CheckOptions]] = BackupOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"age_hours", "size_bytes", "size_change_percent", "files"})

    @classmethod
    def where(cls, options: BackupOptions) -> str | None:
        return options.path

    async def run(self, ctx: CheckContext) -> CheckResult:
        """List the files, measure the newest, verify it when it is new."""
        opts = self.options
        started = time.monotonic()
        try:
            listing = await call_with_deadline(
                f"backup {opts.path}", lambda: list_files(opts.path),
                max(ctx.timeout * _LIST_SHARE, 0.1))
        except TimeoutError as exc:
            return CheckResult.failed(Status.CRITICAL, f"{opts.path} not responding ({exc})",
                                      error=str(exc))
        except PermissionError as exc:
            raise CheckError(str(exc)) from exc
        except OSError as exc:
            raise CheckError(f"cannot list {opts.path}: {exc.strerror or exc}") from exc
        if not listing.files:
            why = f" ({listing.missing} does not exist)" if listing.missing else ""
            return CheckResult.failed(Status.CRITICAL, f"no file matches {opts.path}{why}",
                                      metrics={"files": 0})

        now = ctx.clock.wall()
        choice = choose(listing.files, now, opts.settle, ctx.memory)
        newest = choice.newest
        metrics = {"age_hours": max(now - newest.mtime, 0.0) / 3600.0,
                   "size_bytes": float(newest.size), "files": float(len(listing.files))}
        change = (size_change_percent(newest.size, choice.previous.size)
                  if choice.previous is not None else None)
        if change is not None:
            metrics["size_change_percent"] = change

        notes: list[str] = []
        if choice.writing:
            notes.append(f"{choice.writing} newer still being written")
        verification: Verification | None = None
        if opts.verify is not None:
            budget = max(_budget(ctx.timeout) - (time.monotonic() - started), 0.01)
            verification = await self._verify(ctx.memory, newest, budget, choice.verifiable)
            if verification is None:
                notes.append("verify waits until the file has settled")
        summary = _summary(newest, metrics, change, notes, verification)
        if verification is not None and verification.status is not Status.OK:
            error = verification.message if verification.status is Status.UNKNOWN else None
            return CheckResult.failed(verification.status, verification.message,
                                      error=error, metrics=metrics)
        return CheckResult.ok(summary, metrics)

    async def _verify(self, memory: MutableMapping[str, Any], newest: BackupFile,
                      budget: float, may_run: bool) -> Verification | None:
        """The remembered outcome for this very file, else a new run (when ``may_run``)."""
        assert self.options.verify is not None
        identity = asdict(newest)
        seen = memory.get("verified")
        if isinstance(seen, dict) and seen.get("file") == identity:
            with contextlib.suppress(KeyError, ValueError):
                return Verification(Status(seen["status"]), str(seen["message"]))
        if not may_run:
            return None
        outcome = await run_verify(self.options.verify, newest.path, budget)
        if outcome.final:
            memory["verified"] = {"file": identity, "status": outcome.status.value,
                                  "message": outcome.message}
        return outcome


@dataclass(frozen=True, slots=True)
class Choice:
    """Which file is judged as the newest backup, and which one it is compared with.

    ``verifiable``: the newest is on disk as it is and has not changed for ``settle``
    (it is complete). ``writing``: how many newer files are still being written.
    """

    newest: BackupFile
    previous: BackupFile | None
    verifiable: bool
    writing: int


def choose(files: list[BackupFile], now: float, settle: float,
           memory: MutableMapping[str, Any]) -> Choice:
    """Pick the newest complete file (files newest first) and the one before it.

    Files modified within ``settle`` are still being written. While an older file exists
    it is judged instead; when none does, the newest complete file remembered from an
    earlier run is (a fixed path being rewritten), else the file being written.
    ``memory`` remembers the newest complete file, and the one before, across runs, so a
    single file is compared with its previous version.
    """
    settled = [f for f in files if now - f.mtime >= settle]
    writing = len(files) - len(settled)
    known = _stored_file(memory.get("newest"))
    before = _stored_file(memory.get("previous"))
    if settled:
        newest = settled[0]
        if known != newest:
            if known is not None:
                memory["previous"] = asdict(known)
                before = known
            memory["newest"] = asdict(newest)
        previous = settled[1] if len(settled) > 1 else before
        return Choice(newest, previous, True, writing)
    if known is not None:
        return Choice(known, before, False, writing)
    return Choice(files[0], files[1] if len(files) > 1 else None, False, 0)


def _stored_file(value: Any) -> BackupFile | None:
    if not isinstance(value, dict):
        return None
    try:
        return BackupFile(str(value["path"]), int(value["mtime_ns"]), int(value["size"]))
    except (KeyError, TypeError, ValueError):  # written by another version: start afresh
        return None


def _budget(timeout: float) -> float:
    """Time the verify command gets: a little under the check's timeout."""
    return max(timeout - min(0.5, timeout * 0.1), 0.01)


def _summary(newest: BackupFile, metrics: dict[str, float], change: float | None,
             notes: list[str], verification: Verification | None) -> str:
    name = os.path.basename(newest.path)
    parts = [f"{name}: {format_bytes(newest.size)}, "
             f"{format_duration(metrics['age_hours'] * 3600)} old"]
    if change is not None:
        parts[0] += f", {'+' if change >= 0 else ''}{format_percent(change)} vs previous"
    count = int(metrics["files"])
    parts.append(f"{count} file{'s' if count != 1 else ''}")
    if verification is not None:
        parts.append(verification.message)
    parts.extend(notes)
    return "; ".join(parts)
