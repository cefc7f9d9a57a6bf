"""The progress line of long CLI work: drawn on a terminal at a few redraws a second,
wiped at the end, and nothing at all off a terminal."""

from __future__ import annotations

import io
import re

import pytest

from agent.cli.progress import Progress
from agent.clock import FakeClock


class Terminal(io.StringIO):
    """What a terminal was sent."""

    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_for_work_that_ends_before_the_first_redraw() -> None:
    term, clock = Terminal(), FakeClock()
    with Progress("rows", term, clock, every=0.25) as progress:
        for _ in progress.track(range(1000)):
            clock.advance(0.0001)
    assert term.getvalue() == ""


LINE = re.compile(r"([\d,]+) rows \(([\d,]+)/s, (\d+s|\d+m(?: \d+s)?)\)")


def test_the_line_says_how_many_how_fast_and_how_long_and_is_wiped_at_the_end() -> None:
    term, clock = Terminal(), FakeClock()
    with Progress("rows", term, clock, every=0.25) as progress:
        for _ in progress.track(range(4096 * 30)):
            clock.advance(1 / 4096)
    *draws, wipe, end = term.getvalue().split("\r")[1:]
    # 30 s of work, redrawn at most every quarter second, then wiped.
    assert 30 * 4 - 2 <= len(draws) <= 30 * 4
    shown = [LINE.fullmatch(d.rstrip()) for d in draws]
    assert all(shown), draws
    rows = [int(m.group(1).replace(",", "")) for m in shown if m]
    assert rows == sorted(rows) and 0 < rows[0] < 1100 and rows[-1] > 4096 * 29.5
    assert {m.group(2) for m in shown if m} == {"4,096"}
    assert draws[-1].rstrip().endswith(("29s)", "30s)"))
    assert (wipe, end) == (" " * max(len(d) for d in draws), "")
    assert progress.done == 4096 * 30


def test_slow_items_still_redraw_a_few_times_a_second() -> None:
    term, clock = Terminal(), FakeClock()
    with Progress("jobs", term, clock, every=0.25) as progress:
        for n, _ in enumerate(progress.track(range(4000))):
            clock.advance(0.0001 if n < 3000 else 0.01)  # fast at first, then slow
    draws = term.getvalue().split("\r")[1:-2]
    # The last 1000 items take 10 s: near 40 redraws, not held back by a long stride.
    late = [d for d in draws if int(d.split()[0].replace(",", "")) > 3000]
    assert 30 <= len(late) <= 40


def test_a_shorter_line_leaves_no_tail_of_a_longer_one() -> None:
    term, clock = Terminal(), FakeClock()
    progress = Progress("rows", term, clock, every=1)
    progress.advance(1_000_000)
    clock.advance(1)
    progress.advance()
    clock.advance(1000)
    progress.advance()
    first, second = term.getvalue().split("\r")[1:]
    assert first == "1,000,001 rows (1,000,001/s, 1s)"
    assert second == "1,000,002 rows (999/s, 16m)".ljust(len(first))


@pytest.mark.parametrize("stream", [io.StringIO(), Terminal()])
def test_off_a_terminal_nothing_at_all_is_written(stream: io.StringIO) -> None:
    if isinstance(stream, Terminal):
        stream.close()  # a terminal gone before the work started
    clock = FakeClock()
    with Progress("rows", stream, clock) as progress:
        for _ in progress.track(range(100)):
            clock.advance(1)
        assert not progress.enabled
    assert stream.closed or stream.getvalue() == ""


def test_the_commands_own_output_on_the_same_terminal_wipes_the_line_first() -> None:
    term, clock = Terminal(), FakeClock()
    progress = Progress("rows", term, clock, every=1)
    out = progress.above(term)
    clock.advance(2)
    progress.advance(5)
    out.write('{"event": "firing"}\n')
    clock.advance(2)
    progress.advance()
    assert term.getvalue().split("\r") == [
        "", "5 rows (2/s, 2s)", " " * 16, '{"event": "firing"}\n', "6 rows (2/s, 4s)"]


def test_output_elsewhere_is_left_alone() -> None:
    term, piped = Terminal(), io.StringIO()
    progress = Progress("rows", term, FakeClock())
    assert progress.above(piped) is piped
    assert Progress("rows", piped).above(term) is term
