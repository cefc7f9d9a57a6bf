"""Child processes the agent starts die with it and leave no process group behind.

Every child (the notification sender, a command check's plugin, a helper) starts in a
session of its own, so its whole process group can be killed at once, and asks the kernel
for SIGKILL when the agent dies (``PR_SET_PDEATHSIG``): a ``kill -9`` of the agent leaves
no sender writing into a closed pipe and no plugin running on.

The death signal belongs to the thread that started the child: children are started from
the event loop's thread, which lives as long as the agent. It is armed in a ``preexec_fn``
(the only way the standard library offers): that function only calls ``prctl`` through a
pointer looked up before the fork and compares two pids, so it takes no lock another thread
could have held at the fork.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


@functools.cache
def _load_prctl() -> Callable[[int, int], int] | None:
    # ctypes is loaded with the first child, not at start: many agents never start one.
    import ctypes

    try:
        # The program's own symbols include libc's (find_library would start ldconfig).
        fn = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the process group still holds
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong]
    fn.restype = ctypes.c_int
    prctl: Callable[[int, int], int] = fn
    return prctl


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child SIGKILLed when this process dies (None where the
    platform cannot: then only the process group is left to kill)."""
    # Looked up in the agent, before the fork: the child only calls it.
    prctl = _load_prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the agent died before the signal was armed
            os._exit(1)

    return preexec


def kill_group(pgid: int) -> None:
    """SIGKILL a process group (a child started in its own session), if it still exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
