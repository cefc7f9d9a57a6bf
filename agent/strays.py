"""Finding what a program left running outside its process group, without cgroups.

Killing a program's process group stops everything it started, except what moved to a
group or session of its own (``setsid``, a daemonising plugin). Such a process keeps the
environment it was started with, so each run puts a mark of its own in the program's
environment (``WATCHKEEPER_RUN=<random>``) and, once the group is killed, looks for that
mark among the processes started since the program (by pid, from ``/proc``): those found
outside the group are killed where this process may, and named either way.

Only the processes newer than the program are read (pids are handed out in order), so a
sweep costs a directory listing and a few small reads. A process that wiped its
environment, or whose environment this user may not read (setuid), is not found.

The mark also names the agent process that made it (pid and start time). The kernel kills
a plugin when the agent dies, but not what the plugin started (a shell plugin's
``sleep``): the first run of a new agent process looks through all processes once and
stops those marked by an agent of its own state directory that no longer runs
(``sweep_orphans``; another agent on the host, of another state, cleans up its own).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from agent.units import format_count

#: The environment variable that marks a run's processes.
MARK_ENV = "WATCHKEEPER_RUN"
_NEEDLE = MARK_ENV.encode() + b"="
#: The agent processes (this one, after a fork) whose orphans were looked for.
_SWEPT: set[int] = set()
#: The state directory's share of every mark (``set_scope``; "-" before it is set).
_SCOPE = ["-"]


def _started_at(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot), to tell it from a later one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def set_scope(state_dir: Path) -> None:
    """Name this agent's state directory in its marks (one agent runs per state)."""
    digest = hashlib.sha256(os.fsencode(state_dir.resolve())).hexdigest()
    _SCOPE[0] = digest[:12]


def new_mark() -> str:
    """A mark for one run: this agent process (pid and start time), its state directory
    and a random part (so one run never claims another's processes)."""
    pid = os.getpid()
    return f"{pid}.{_started_at(pid)}.{_SCOPE[0]}.{secrets.token_hex(8)}"


def _orphaned(mark: str) -> bool:
    """Whether ``mark`` names an agent process of this state directory that no longer
    runs (a mark of three parts, made before marks named the state, counts as ours)."""
    parts = mark.split(".")
    if len(parts) not in (3, 4) or not parts[0].isdigit():
        return False  # not a mark this code made: leave it alone
    if len(parts) == 4 and parts[2] != _SCOPE[0]:
        return False
    pid, started = int(parts[0]), parts[1]
    return pid != os.getpid() and _started_at(pid) != started


@dataclass(frozen=True, slots=True)
class Stray:
    """A process a run left outside its process group: ``killed`` unless it could not be."""

    pid: int
    name: str
    killed: bool


def _last_pid() -> int | None:
    """The pid handed out last (the fifth field of /proc/loadavg)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[4])
    except (OSError, ValueError, IndexError):
        return None


def _newer(pid: int, first: int, last: int | None) -> bool:
    """Whether ``pid`` was handed out after ``first`` (and up to ``last``, wrapping)."""
    if last is None:
        return pid != first
    if first <= last:
        return first < pid <= last
    return pid > first or pid <= last


def _group_and_name(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    head, _, rest = stat.rpartition(")")
    fields = rest.split()
    if len(fields) < 3 or fields[0] == "Z":
        return None  # gone, or a zombie: nothing left to stop
    return int(fields[2]), head.partition("(")[2]


def _marked(pid: int, mark: bytes) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return environ.startswith(mark) or b"\0" + mark in environ


def _kill(pid: int, mark: bytes) -> bool:
    """SIGKILL ``pid`` if it still carries ``mark`` (a pidfd pins the process checked)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        if not _marked(pid, mark):
            return True  # gone meanwhile (or the pid is another process now)
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: setuid, or another user's now
        return False
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _pids() -> list[int]:
    """Every process now (none when /proc cannot be read)."""
    try:
        return [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def sweep(mark: str, leader: int) -> list[Stray]:
    """Kill the processes carrying ``mark`` outside ``leader``'s process group (the program
    the run started, in a session of its own) and say which they were."""
    needle = f"{MARK_ENV}={mark}".encode() + b"\0"
    last = _last_pid()
    found: list[Stray] = []
    for pid in _pids():
        if pid == leader or not _newer(pid, leader, last):
            continue
        seen = _group_and_name(pid)
        if seen is None or seen[0] == leader:
            continue  # its group is killed already
        if _marked(pid, needle):
            found.append(Stray(pid, seen[1], _kill(pid, needle)))
    return found


def _mark_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(_NEEDLE):
            return entry[len(_NEEDLE):].decode("ascii", "replace")
    return None


def sweep_orphans() -> list[Stray]:
    """Once per agent process: stop the processes marked by an agent process that no
    longer runs (what its plugins left when it was killed). Later calls return []."""
    if os.getpid() in _SWEPT:
        return []
    _SWEPT.add(os.getpid())
    found: list[Stray] = []
    for pid in _pids():
        mark = _mark_of(pid)
        if mark is None or not _orphaned(mark):
            continue
        seen = _group_and_name(pid)
        if seen is not None:
            found.append(Stray(pid, seen[1], _kill(pid, f"{MARK_ENV}={mark}".encode() + b"\0")))
    return found


def describe(strays: list[Stray]) -> str:
    """``stopped 1 process it had moved out of its process group: sleep`` (and those that
    could not be stopped, with their pids)."""
    parts = []
    killed = [s for s in strays if s.killed]
    left = [s for s in strays if not s.killed]
    if killed:
        names = ", ".join(sorted({s.name for s in killed}))
        count = format_count(len(killed), "process", "processes")
        parts.append(f"stopped {count} it had moved out of its process group: {names}")
    if left:
        names = ", ".join(f"{s.name} (pid {s.pid})" for s in left)
        count = format_count(len(left), "process", "processes")
        parts.append(f"{count} it started could not be stopped: {names}")
    return "; ".join(parts)

