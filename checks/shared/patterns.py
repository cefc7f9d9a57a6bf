"""Searching text a server sent with a regular expression from the config, in bounded time.

Python's ``re`` cannot be stopped and holds the GIL while it backtracks: ``^(x+x+)+y``
against a megabyte of ``x`` from a server would freeze the whole agent for hours. The
``regex`` package (imported only when a check searches with a pattern) takes a ``timeout``
and releases the GIL (``concurrent=True``), so the search runs in a worker thread that
ends on its own by the deadline, and the event loop stays free meanwhile.

Options keep their ``re.Pattern`` (its ``.pattern`` is what summaries show); the same
pattern text is compiled once more here with ``regex``, whose default syntax (VERSION0)
is the one of ``re``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Sequence
from typing import Any

from agent.units import format_duration

#: The shortest search granted, however little time is left.
_MIN_TIMEOUT = 0.01
#: Kept back from the caller's deadline: the search stops a little late, and its caller
#: must still be able to say why before its own deadline.
_MARGIN = 0.2


class PatternTimeoutError(Exception):
    """The search did not finish within its time (a pattern that backtracks)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"still searching after {format_duration(timeout)}")
        self.timeout = timeout


@functools.lru_cache(maxsize=256)
def _bounded(pattern: str, flags: int) -> Any:
    import regex  # only checks that search with a pattern pay for it

    return regex.compile(pattern, flags)


def bounded_pattern(pattern: str) -> Any:
    """``pattern`` compiled for :func:`search`; raises ValueError when ``regex`` refuses it."""
    import regex

    try:
        return _bounded(pattern, 0)
    except regex.error as exc:
        raise ValueError(str(exc)) from None


def _search(compiled: Any, text: str, timeout: float) -> bool:
    try:
        return compiled.search(text, timeout=timeout, concurrent=True) is not None
    except TimeoutError:
        raise PatternTimeoutError(timeout) from None


async def search(pattern: re.Pattern[str], text: str, time_left: float) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (``re.search``), decided a little
    before ``time_left`` seconds have passed; raises PatternTimeoutError otherwise.

    The search runs in a thread of the shared executor: it holds it no longer than that,
    and releases the GIL while it runs.
    """
    compiled = bounded_pattern(pattern.pattern)
    return await asyncio.to_thread(_search, compiled, text, _timeout(time_left))


def _timeout(time_left: float) -> float:
    return max(time_left - min(_MARGIN, time_left / 4), _MIN_TIMEOUT)


def _search_each(compiled: Any, texts: Sequence[str], timeout: float) -> list[bool]:
    deadline = time.monotonic() + timeout
    found = []
    for text in texts:
        left = deadline - time.monotonic()
        if left <= 0:
            raise PatternTimeoutError(timeout)
        try:
            found.append(_search(compiled, text, left))
        except PatternTimeoutError:
            raise PatternTimeoutError(timeout) from None
    return found


async def search_each(pattern: str, texts: Sequence[str], time_left: float) -> list[bool]:
    """Whether ``pattern`` matches somewhere in each of ``texts``, all decided a little
    before ``time_left`` seconds have passed (one thread for them all); raises
    PatternTimeoutError otherwise."""
    compiled = bounded_pattern(pattern)
    return await asyncio.to_thread(_search_each, compiled, list(texts), _timeout(time_left))
