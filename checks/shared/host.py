"""Small pieces the host checks share: safe percentages, and calls that may hang (a
filesystem call on a dead NFS server) run in a daemon thread with a deadline."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from agent.units import format_duration

T = TypeVar("T")


def percent(part: float, whole: float) -> float:
    """``part / whole`` in percent, clamped to 0..100.

    0 when ``whole`` is not a positive number (nothing to measure) or either value is not
    finite, so a check never reports NaN or infinity.
    """
    if not (math.isfinite(part) and math.isfinite(whole)) or whole <= 0:
        return 0.0
    return min(max(part / whole * 100.0, 0.0), 100.0)


# One pending call per key, process-wide: a call that hangs (statvfs on a dead NFS mount)
# keeps its thread, and the next run waits on that same call instead of piling up threads.
_pending: dict[str, concurrent.futures.Future[Any]] = {}
_pending_lock = threading.Lock()


def pending_calls() -> list[str]:
    """Keys of the calls still running in their daemon threads (for diagnostics and tests)."""
    with _pending_lock:
        return [k for k, f in _pending.items() if not f.done()]


async def call_with_deadline(key: str, fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread and wait at most ``timeout`` seconds for its result.

    Raises TimeoutError when ``fn`` has not returned in time; the call keeps running in its
    thread. While it is still running, a call with the same ``key`` waits on it rather than
    starting another thread, so a hung mount costs one thread, not one per run.

    A daemon thread instead of ``asyncio.to_thread``: the default executor is small and shared
    by the whole agent (a few hung calls would starve it), and it is joined at shutdown, so a
    hung call would keep the agent from stopping.
    """
    with _pending_lock:
        fut = _pending.get(key)
        if fut is None or fut.done():
            fut = concurrent.futures.Future()
            # Running futures cannot be cancelled: a waiter that gives up leaves it alone.
            fut.set_running_or_notify_cancel()
            _pending[key] = fut
            _start(key, fn, fut)
    waiter = asyncio.wrap_future(fut)
    try:
        return cast(T, await asyncio.wait_for(waiter, timeout))
    except TimeoutError:
        raise TimeoutError(f"no answer within {format_duration(timeout)}") from None


def _start(key: str, fn: Callable[[], Any], fut: concurrent.futures.Future[Any]) -> None:
    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the waiter, which re-raises it
            fut.set_exception(exc)
        else:
            fut.set_result(result)
        finally:
            with _pending_lock:
                if _pending.get(key) is fut:
                    del _pending[key]

    threading.Thread(target=work, name=f"watchkeeper {key}", daemon=True).start()
