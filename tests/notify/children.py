"""Looking at processes through /proc, the way an operator would: is it still there?"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` stops running within ``within`` seconds."""
    end = time.monotonic() + within
    while running(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


async def gone(pid: int, within: float = 10.0) -> bool:
    """``wait_gone`` without blocking the event loop."""
    end = time.monotonic() + within
    while running(pid):
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True
