"""One agent per state directory: the lock, its holder's pid, and its release on exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import StateError
from agent.state_lock import StateLock, holder_pid


def test_a_second_lock_on_one_state_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = StateLock.acquire(tmp_path / "state")
    try:
        with pytest.raises(StateError, match=r"another agent \(pid \d+\) is running on .*state"):
            StateLock.acquire(tmp_path / "state")
        assert holder_pid(tmp_path / "state") is not None
    finally:
        first.release()
    again = StateLock.acquire(tmp_path / "state")
    again.release()
    assert holder_pid(tmp_path / "state") is None


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    code = ("import sys, os; from agent.state_lock import StateLock; "
            f"StateLock.acquire({str(tmp_path)!r}); print(os.getpid(), flush=True); "
            "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    assert holder_pid(tmp_path) == pid
    proc.kill()
    proc.wait()
    StateLock.acquire(tmp_path).release()


def test_an_unwritable_place_for_the_lock_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateError, match=r"cannot use the state directory .*/file: "
                                         r".*/file is not a directory"):
        StateLock.acquire(blocker)
