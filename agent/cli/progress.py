"""A progress line for long CLI work: how much is done, how fast, for how long.

It is drawn on standard error, and only when that is a terminal: a pipe or a file gets
the command's real output and nothing else. The line is redrawn in place at most a few
times a second (drawing costs more than the work it reports on) and wiped at the end,
so what the command prints afterwards starts on a clean line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Protocol, TextIO, TypeVar

from agent.clock import Clock, SystemClock
from agent.units import format_duration

T = TypeVar("T")

#: Seconds between redraws; also how long work must last before a line appears at all.
REDRAW_EVERY = 0.25
#: At most this many items of ``track`` between two readings of the clock.
_MAX_STRIDE = 4096


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False


class Output(Protocol):
    """Where a command writes its own output."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Progress:
    """``1,250,000 rows (81,300/s, 15s)`` on a terminal's standard error while work lasts.

    Count with ``advance`` or ``track``; ``close`` (or leaving the ``with`` block) wipes the
    line. The clock is injected so the redraw pace is tested without waiting.
    """

    def __init__(self, noun: str, stream: TextIO | None = None,
                 clock: Clock | None = None, every: float = REDRAW_EVERY) -> None:
        self.noun = noun
        self.stream = stream if stream is not None else sys.stderr
        #: Whether anything is drawn at all (only on a terminal).
        self.enabled = _is_terminal(self.stream)
        #: How many have been counted.
        self.done = 0
        self._monotonic = (clock or SystemClock()).monotonic
        self._every = every
        self._started = self._monotonic()
        self._next_draw = self._started + every
        self._width = 0

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more done; redraw if the last drawing is old enough."""
        self.done += count
        if self.enabled:
            now = self._monotonic()
            if now >= self._next_draw:
                self._draw(now)

    def track(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, each counted once the caller is done with it. Off a terminal,
        ``items`` itself (counting nothing costs nothing)."""
        if not self.enabled:
            return iter(items)
        return self._tracked(items)

    def _tracked(self, items: Iterable[T]) -> Iterator[T]:
        # Reading the clock costs more than a quick item: it is read every ``stride``
        # items, the stride doubling while the clock shows little time between readings
        # and halving when it shows much (so slow items still redraw on time).
        stride, since, last = 1, 0, self._monotonic()
        try:
            for item in items:
                yield item
                since += 1
                if since < stride:
                    continue
                self.done += since
                since = 0
                now = self._monotonic()
                if now >= self._next_draw:
                    self._draw(now)
                gap = now - last
                if gap < self._every / 32:
                    stride = min(stride * 2, _MAX_STRIDE)
                elif gap > self._every / 4:
                    stride = max(stride // 2, 1)
                last = now
            self.done += since
        finally:
            self.close()

    def above(self, output: TextIO) -> Output:
        """``output`` for the command's own lines: on the terminal the progress line is on,
        each write wipes that line first (the next count draws it again, below)."""
        if not (self.enabled and _is_terminal(output)):
            return output
        return _Above(output, self)

    def line(self, now: float) -> str:
        """The text drawn at ``now``."""
        elapsed = max(now - self._started, 0.0)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        # Whole seconds: a fraction changing at every redraw is only flicker.
        return f"{self.done:,} {self.noun} ({rate:,.0f}/s, {format_duration(int(elapsed))})"

    def _draw(self, now: float) -> None:
        text = self.line(now)
        # Padded to the longest line drawn, so a shorter one leaves no tail behind.
        self._width = max(self._width, len(text))
        self._write("\r" + text.ljust(self._width))
        self._next_draw = now + self._every

    def close(self) -> None:
        """Wipe the line, if one was drawn (the cursor goes back to its start)."""
        if self._width:
            self._write("\r" + " " * self._width + "\r")
            self._width = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a terminal gone away must not stop the work
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Above:
    """An output that wipes the progress line before each write."""

    def __init__(self, output: TextIO, progress: Progress) -> None:
        self._output = output
        self._progress = progress

    def write(self, text: str, /) -> int:
        self._progress.close()
        return self._output.write(text)

    def flush(self) -> None:
        self._output.flush()
