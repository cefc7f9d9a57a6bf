"""Following sshd's messages in the systemd journal across runs, through ``journalctl``.

``journalctl -o json`` prints one entry per line with its own cursor, so a read cut short
by the byte cap still ends at an exact entry and the next read resumes right after it
(``--after-cursor``). Without a cursor yet (the journal held no sshd entry on the first
run), reading resumes ``--since`` the time of that run. The units come from the trusted
``_SYSTEMD_UNIT`` field, so a user writing "sshd[1]: Failed ..." with ``logger`` does not
count.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.errors import CheckError
from agent.programs import Output, run_capped

#: Runs argv with a timeout and an output cap (``agent.programs.run_capped`` by default).
JournalRunner = Callable[[Sequence[str], float, int], Awaitable[Output]]

_NO_ACCESS_HINTS = ("insufficient permissions", "not seeing messages from other users")
_SSHD_IDENTIFIERS = frozenset({"sshd", "sshd-session", "sshd-auth"})


async def default_runner(argv: Sequence[str], timeout: float, cap: int) -> Output:
    """Start journalctl for real."""
    return await run_capped(argv, timeout=timeout, cap=cap)


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """The cursor of the last entry read, or the time (epoch seconds) reading starts from."""

    cursor: str | None = None
    since: float | None = None

    def to_memory(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "since": self.since}

    @classmethod
    def from_memory(cls, data: Any) -> JournalPosition | None:
        if not isinstance(data, Mapping):
            return None
        cursor, since = data.get("cursor"), data.get("since")
        if isinstance(cursor, str) and cursor:
            return cls(cursor=cursor)
        if isinstance(since, int | float) and not isinstance(since, bool):
            return cls(since=float(since))
        return None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One sshd message: the process that logged it and the text."""

    pid: int
    message: str


@dataclass(frozen=True, slots=True)
class JournalRead:
    """Entries read, the position after them, and whether the cap cut the read short."""

    entries: list[JournalEntry]
    position: JournalPosition
    first_run: bool = False
    capped: bool = False


class JournalError(CheckError):
    """journalctl could not be run or could not read the journal."""


def journal_argv(binary: str, units: Sequence[str], position: JournalPosition | None
                 ) -> list[str]:
    """The journalctl command line (no shell) for reading on from ``position``; without a
    position, the last entry only (to learn where the journal ends)."""
    # No --quiet: it would also hide the hint that the journal is not readable to us.
    argv = [binary, "--no-pager", "-o", "json"]
    for unit in units:
        argv += ["-u", unit]
    if position is None:
        return [*argv, "-n", "1"]
    if position.cursor is not None:
        return [*argv, f"--after-cursor={position.cursor}"]
    return [*argv, f"--since=@{int(position.since or 0)}"]


def parse_entries(data: bytes, *, capped: bool) -> tuple[list[JournalEntry], str | None]:
    """sshd's entries in ``journalctl -o json`` output and the cursor of the last entry.

    A last line cut by the cap is dropped (it is read again next time). Lines that are not
    JSON objects are skipped.
    """
    lines = data.split(b"\n")
    if capped and lines:
        lines = lines[:-1]
    entries: list[JournalEntry] = []
    cursor: str | None = None
    for raw in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("__CURSOR"), str):
            cursor = obj["__CURSOR"]
        ident = obj.get("SYSLOG_IDENTIFIER") or obj.get("_COMM")
        message = _text(obj.get("MESSAGE"))
        pid = str(obj.get("SYSLOG_PID") or obj.get("_PID") or "0")
        if ident in _SSHD_IDENTIFIERS and message is not None and pid.isdigit():
            entries.append(JournalEntry(int(pid), message))
    return entries, cursor


def _text(value: Any) -> str | None:
    """MESSAGE is a string, or an array of bytes when it is not valid UTF-8."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "replace")
    return None


async def read_journal(binary: str, units: Sequence[str], position: JournalPosition | None,
                       *, now: float, timeout: float, cap: int,
                       runner: JournalRunner = default_runner) -> JournalRead:
    """sshd's entries since ``position``; on the first run (no position) none, only where
    the journal ends. Raises JournalError with a message for a user."""
    argv = journal_argv(binary, units, position)
    try:
        out = await runner(argv, timeout, cap)
    except FileNotFoundError:
        raise JournalError(f"{binary} not found: set path to the auth log file "
                           "(source: file) or install journalctl") from None
    except PermissionError:
        raise JournalError(f"permission denied running {binary}") from None
    except TimeoutError as exc:
        raise JournalError(str(exc)) from None
    err = out.stderr.decode("utf-8", "replace").lower()
    if any(hint in err for hint in _NO_ACCESS_HINTS):
        raise JournalError("journalctl cannot read the system journal: add the agent's user "
                           "to group systemd-journal (or adm), then restart the agent")
    if not out.capped and out.returncode != 0:
        if position is not None and position.cursor is not None and "cursor" in err:
            # The cursor no longer names an entry (journal vacuumed): start afresh.
            return JournalRead([], JournalPosition(since=now), first_run=True)
        raise JournalError(f"journalctl failed (exit {out.returncode}): "
                           f"{out.stderr_text or 'no message'}")
    entries, cursor = parse_entries(out.stdout, capped=out.capped)
    if position is None:
        # First run: remember where the journal ends; count nothing from its history.
        return JournalRead([], JournalPosition(cursor=cursor) if cursor
                           else JournalPosition(since=now), first_run=True)
    return JournalRead(entries, JournalPosition(cursor=cursor) if cursor else position,
                       capped=out.capped)
