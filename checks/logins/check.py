"""The ``logins`` check: failed SSH logins, and logins from sources never seen before."""

from __future__ import annotations

import enum
import grp
import os
import pwd
import shutil
import stat
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, field_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult
from agent.units import format_bytes, parse_size
from checks.logins.authlog import (
    AttemptCounter,
    LoginTally,
    SshEvent,
    parse_message,
    parse_syslog_line,
)
from checks.logins.journaltail import (
    JournalError,
    JournalPosition,
    JournalRunner,
    default_runner,
    read_journal,
)
from checks.logins.logtail import LogPosition, TailRead, read_new
from checks.shared.host import call_with_deadline

DEFAULT_MAX_READ = 16 * 1024 * 1024
#: Summaries name this many sources.
SUMMARY_SOURCES = 3


class Source(enum.Enum):
    """Where the sshd messages are read from."""

    AUTO = "auto"
    FILE = "file"
    JOURNAL = "journal"


def _size(value: Any) -> Any:
    return int(parse_size(value)) if isinstance(value, str) else value


class LoginsOptions(CheckOptions):
    """``source``: ``file`` (the auth log at ``path``; ``/var/log/secure`` on RHEL),
    ``journal`` (journalctl, sshd's ``journal_units``) or ``auto`` (the file when it
    exists, else the journal). ``max_read`` caps the bytes read per run;
    ``remember_sources`` is how many source addresses are remembered as seen."""

    source: Source = Source.AUTO
    path: Path = Path("/var/log/auth.log")
    journalctl: str = "journalctl"
    journal_units: tuple[str, ...] = ("ssh", "sshd")
    max_read: Annotated[int, BeforeValidator(_size), Field(ge=4096)] = DEFAULT_MAX_READ
    remember_sources: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError(f"path must be absolute, got {str(value)!r}")
        return value

    @field_validator("journal_units")
    @classmethod
    def _units(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not u.strip() or u.startswith("-") for u in value):
            raise ValueError("journal_units must name one or more units, like ssh")
        return value


class LoginsCheck(Check[LoginsOptions]):
    """Failed SSH logins and successful logins from new source addresses.

    Metrics: ``failed_logins`` (failed attempts since the previous run, counted once each as
    ``checks.logins.authlog`` documents) and ``new_source_logins`` (successful logins from an
    address not among the ``remember_sources`` most recently seen ones). The summary names
    the sources with the most failures. The check's own status is OK whenever it could
    read; thresholds on the metrics decide what alerts.

    The very first run reads nothing: it records where the log (or journal) ends now, so
    history never alerts, and it marks no source as seen, so the first login from each
    address after that counts as new. ``ctx.memory`` keeps the position (file: inode, offset
    and a fingerprint; journal: a cursor) and the seen sources, so restarts and log rotation
    (see ``checks.logins.logtail``) lose nothing. At most ``max_read`` bytes are read per run; the
    rest waits for the next run, and the summary says so.

    ``journal_runner`` (what starts journalctl) may be injected for tests.
    """

    kind: ClassVar[str] = "logins"
    Options: ClassVar[type[CheckOptions]] = LoginsOptions
    metrics: ClassVar[frozenset[str]] = frozenset({"failed_logins", "new_source_logins"})

    def __init__(self, name: str, options: LoginsOptions, *,
                 journal_runner: JournalRunner | None = None,
                 which: Callable[[str], str | None] = shutil.which) -> None:
        super().__init__(name, options)
        self._journal_runner = journal_runner or default_runner
        self._which = which
        # Connection state lives on the instance: lines of one sshd connection split
        # across two runs are still one attempt.
        self._counter = AttemptCounter()

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Read what sshd logged since the previous run and count it."""
        source = await self._pick_source(ctx)
        if source is None:
            return CheckResult.unknown(
                f"{self.options.path} does not exist and {self.options.journalctl} is not "
                "installed: set path to the auth log (/var/log/secure on RHEL)")
        if source is Source.FILE:
            return await self._run_file(ctx)
        return await self._run_journal(ctx)

    async def _pick_source(self, ctx: CheckContext) -> Source | None:
        src = self.options.source
        if src is not Source.AUTO:
            return src
        path = self.options.path
        try:
            exists = await call_with_deadline(f"logins {self.name} exists {path}", path.exists,
                                              max(ctx.timeout * 0.4, 0.1))
        except TimeoutError:
            exists = True  # a hung mount: reading the file will say so
        if exists:
            return Source.FILE
        if self._which(self.options.journalctl) is not None:
            return Source.JOURNAL
        return None

    async def _run_file(self, ctx: CheckContext) -> CheckResult:
        path = self.options.path
        saved = ctx.memory.get("file")
        position = None
        if isinstance(saved, dict) and saved.get("path") == str(path):
            position = LogPosition.from_memory(saved)
        try:
            # A daemon thread with a deadline, not the shared executor: an auth log on a
            # hung mount (or a FIFO under its name) would hold that thread for good.
            read = await call_with_deadline(
                f"logins {self.name} {path}",
                lambda: read_new(path, position, self.options.max_read),
                max(ctx.timeout * 0.8, 0.1))
        except TimeoutError as exc:
            return CheckResult.unknown(f"auth log {path} could not be read: {exc}")
        except FileNotFoundError:
            return CheckResult.unknown(
                f"auth log {path} does not exist (set path: /var/log/secure on RHEL, "
                "or source: journal)")
        except PermissionError:
            return CheckResult.unknown(f"cannot read {path}: permission denied; "
                                       f"{permission_fix(path)}")
        except IsADirectoryError:
            return CheckResult.unknown(f"auth log {path} is a directory, not a file")
        ctx.memory["file"] = {"path": str(path), **read.position.to_memory()}
        if read.first_run:
            size = format_bytes(read.position.offset)
            return _first_run(f"started at the end of {path} ({size} already there is "
                              "not counted)")
        lines = read.data.decode("utf-8", "replace").splitlines()
        events = [e for line in lines if (e := parse_syslog_line(line)) is not None]
        return self._result(ctx.memory, events, _file_notes(path, read, self.options.max_read))

    async def _run_journal(self, ctx: CheckContext) -> CheckResult:
        opts = self.options
        position = JournalPosition.from_memory(ctx.memory.get("journal"))
        try:
            read = await read_journal(
                opts.journalctl, opts.journal_units, position, now=ctx.clock.wall(),
                timeout=max(ctx.timeout * 0.8, 0.1), cap=opts.max_read,
                runner=self._journal_runner)
        except JournalError as exc:
            return CheckResult.unknown(str(exc))
        ctx.memory["journal"] = read.position.to_memory()
        if read.first_run:
            return _first_run("started at the end of the journal (earlier entries are "
                              "not counted)")
        events = [e for entry in read.entries
                  if (e := parse_message(entry.message, entry.pid)) is not None]
        notes = [f"read capped at {format_bytes(opts.max_read)}; the rest is read next run"
                 ] if read.capped else []
        return self._result(ctx.memory, events, notes)

    def _result(self, memory: MutableMapping[str, Any], events: list[SshEvent],
                notes: list[str]) -> CheckResult:
        tally = self._counter.tally(events)
        new = remember_sources(memory, tally, self.options.remember_sources)
        summary = summarize(tally, new)
        if notes:
            summary += f" ({'; '.join(notes)})"
        return CheckResult.ok(summary, metrics={
            "failed_logins": float(tally.failed_total),
            "new_source_logins": float(len(new)),
        })


def remember_sources(memory: MutableMapping[str, Any], tally: LoginTally,
                     keep: int) -> list[SshEvent]:
    """The accepted logins from sources not seen before, each source once; all sources of
    accepted logins become the most recently seen (the ``keep`` most recent are kept)."""
    saved = memory.get("seen_sources")
    seen: dict[str, None] = dict.fromkeys(
        s for s in (saved if isinstance(saved, list) else []) if isinstance(s, str))
    new: list[SshEvent] = []
    for event in tally.accepted:
        if event.source in seen:
            del seen[event.source]  # re-inserted below as the most recent
        else:
            new.append(event)
        seen[event.source] = None
    memory["seen_sources"] = list(seen)[-keep:]
    return new


def summarize(tally: LoginTally, new: list[SshEvent]) -> str:
    """``37 failed SSH logins, most from 203.0.113.9 (30); 1 login from a new source:
    alice from 198.51.100.7``."""
    total = tally.failed_total
    if total == 0:
        parts = ["no failed SSH logins"]
    else:
        head = f"{total} failed SSH login{'s' if total != 1 else ''}"
        if len(tally.failed) == 1:
            (src, _), = tally.failed.items()
            parts = [f"{head}, {'all ' if total > 1 else ''}from {src}"]
        else:
            top = ", ".join(f"{src} ({n})"
                            for src, n in tally.failed.most_common(SUMMARY_SOURCES))
            parts = [f"{head}, most from {top}"]
    if new:
        who = ", ".join(f"{e.user} from {e.source}" for e in new[:SUMMARY_SOURCES])
        if len(new) > SUMMARY_SOURCES:
            who += f" and {len(new) - SUMMARY_SOURCES} more"
        plural = "s from new sources" if len(new) != 1 else " from a new source"
        parts.append(f"{len(new)} login{plural}: {who}")
    return "; ".join(parts)


def permission_fix(path: Path) -> str:
    """How to let the agent read ``path``: join the file's group when the group may read
    it (``adm`` for Debian's auth.log), else an ACL (RHEL's /var/log/secure is 0600)."""
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        st = path.stat()
    except OSError:
        return f"let the agent's user ({user}) read it"
    if st.st_mode & stat.S_IRGRP:
        try:
            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
        return (f"add the agent's user to group {group} (usermod -aG {group} {user}), "
                "then restart the agent")
    return (f"give the agent's user read access (setfacl -m u:{user}:r {path}; "
            "logrotate's create mode must keep it)")


def _file_notes(path: Path, read: TailRead, cap: int) -> list[str]:
    notes: list[str] = []
    if read.rotated:
        notes.append(f"{path} was rotated")
    if read.rotated_lost:
        notes.append(f"the rotated file {path}.1 was not found, its last lines were missed")
    if read.truncated:
        notes.append(f"{path} was truncated, read again from its start")
    if read.capped:
        notes.append(f"read capped at {format_bytes(cap)}; "
                     f"{format_bytes(read.left)} left for the next run")
    return notes


def _first_run(what: str) -> CheckResult:
    return CheckResult.ok(f"first run: {what}",
                          metrics={"failed_logins": 0.0, "new_source_logins": 0.0})
