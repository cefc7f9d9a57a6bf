"""The day-by-day excess: how far a metric strays on an ordinary bad day."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.thresholds.excess import EXCESS_DAYS, DailyExcess

DAY0 = 20_000 * 24  # an hour count at midnight


def noted(days: list[float]) -> DailyExcess:
    ex = DailyExcess()
    for d, up in enumerate(days):
        ex.note(DAY0 + 24 * d + 5, up, up / 2, up / 4, 0.0)
        ex.note(DAY0 + 24 * d + 6, up / 10, 0.0, 0.0, 0.0)  # a smaller hour the same day
    return ex


@pytest.mark.parametrize(("days", "counts"), [
    ([], math.nan),                    # nothing known
    ([0.5], 0.5),                      # the first days: the largest so far
    ([0.5, 2.0], 2.0),
    ([0.5, 2.0, 1.0], 0.5),            # three days: the third largest ...
    ([9.0, 0.5, 8.0, 1.0, 0.2], 1.35),  # ... but in the first week at least 15 % of the
    ([0.5, 2.0, 0.1], 0.3),            # largest (the third of three is the calmest)
    ([9.0, 0.5, 8.0, 1.0, 0.2, 0.3, 0.4], 1.0),  # a week: two bad days do not set the bar
])
def test_the_day_that_counts_is_the_third_worst(days: list[float], counts: float) -> None:
    up, down, mean_up, mean_down = noted(days).ranks(DAY0 + 24 * len(days))
    if math.isnan(counts):
        assert math.isnan(up) and math.isnan(down)
        return
    assert (up, down, mean_up, mean_down) == pytest.approx((counts, counts / 2, counts / 4, 0.0))


def test_days_older_than_the_window_are_forgotten() -> None:
    ex = noted([50.0] * 3 + [1.0] * EXCESS_DAYS)
    assert ex.ranks(DAY0 + 24 * (3 + EXCESS_DAYS))[0] == 1.0


def test_round_trip_and_a_clear_error_on_a_wrong_size() -> None:
    ex = noted([0.5, 2.0, 1.0, 3.0])
    again = DailyExcess.from_bytes(ex.to_bytes())
    assert again.ranks(DAY0 + 96) == ex.ranks(DAY0 + 96)
    with pytest.raises(ValueError, match="unknown size"):
        DailyExcess.from_bytes(ex.to_bytes()[:-1])


def test_a_bad_day_six_weeks_ago_still_sets_the_bar() -> None:
    # Twelve weeks are kept: a burst every other week or so stays an ordinary bad day.
    ex = noted([9.0, 8.0, 7.0] + [0.5] * 40)
    assert EXCESS_DAYS >= 84
    assert ex.ranks(DAY0 + 24 * 43)[0] == 7.0


SIDES = {"below": 0, "above": 1}


def stretch_days(values: list[float], side: str) -> DailyExcess:
    """Days whose stretches went ``values`` beyond the same hours of the days before, on
    ``side`` (and a tenth of that on the other)."""
    ex = DailyExcess()
    for d, v in enumerate(values):
        pair = (v, v / 10) if side == "below" else (v / 10, v)
        ex.note_stretch(DAY0 + 24 * d + 3, *pair)
        ex.note_stretch(DAY0 + 24 * d + 9, pair[0] / 3, pair[1] / 3)  # a later stretch
    return ex


def stretch_rank(ex: DailyExcess, hour: int, least: int, side: str) -> float:
    return ex.stretch_ranks(hour, least)[SIDES[side]]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(("values", "least", "counts"), [
    ([0.2] * 13, 14, math.nan),               # too few days to know the odd one
    ([0.2] * 13 + [0.4], 14, 0.2),
    ([3.0, 2.5] + [0.2] * 11 + [0.4], 14, 0.4),  # two odd days do not set the bar
])
def test_stretches_count_by_the_third_worst_day_once_enough_are_known(
        values: list[float], least: int, counts: float, side: str) -> None:
    # Judged on the day after the last one noted: a stretch is not judged by its own day.
    rank = stretch_rank(stretch_days(values, side), DAY0 + 24 * len(values), least, side)
    assert rank == counts or (math.isnan(rank) and math.isnan(counts))


@pytest.mark.parametrize("side", SIDES)
def test_the_day_a_stretch_began_does_not_set_its_own_bar(side: str) -> None:
    ex = stretch_days([0.2] * 14 + [9.0], side)
    assert stretch_rank(ex, DAY0 + 24 * 14 + 20, 14, side) == 0.2


def test_an_excess_stored_before_stretches_were_kept_is_read_knowing_none() -> None:
    ex = noted([0.5, 2.0, 1.0, 3.0])
    for d in range(20):
        ex.note_stretch(DAY0 + 24 * d, 0.5, 0.25)
    at = DAY0 + 24 * 20
    older = DailyExcess.from_bytes(ex.to_bytes()[:DailyExcess.OLD_SIZE])
    assert older.ranks(DAY0 + 96) == ex.ranks(DAY0 + 96)
    assert all(math.isnan(r) for r in older.stretch_ranks(at, 14))
    # Stored before the stretches above were kept: those below are known, above none.
    quiet = DailyExcess.from_bytes(ex.to_bytes()[:DailyExcess.QUIET_SIZE])
    below, above = quiet.stretch_ranks(at, 14)
    assert below == 0.5 and math.isnan(above)
    assert DailyExcess.from_bytes(ex.to_bytes()).stretch_ranks(at, 14) == (0.5, 0.25)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-30, 30 * 24), st.floats(0, 10), st.floats(0, 10),
                          st.booleans()), max_size=80))
def test_the_day_that_counts_is_the_same_however_it_is_reckoned(
        notes: list[tuple[int, float, float, bool]]) -> None:
    # The days before today are summed up once a day; a clock that goes back, or a
    # question about an earlier hour, must give what sorting every known day gives.
    ex = DailyExcess()
    for hour, up, down, ask in notes:
        ex.note(DAY0 + hour, up, down, up / 2, down / 2)
        if ask:
            at = DAY0 + hour
            assert ex.ranks(at) == ex._ranks_of(at // 24 - EXCESS_DAYS)
            assert ex.ranks(at + 30) == ex._ranks_of((at + 30) // 24 - EXCESS_DAYS)



def test_the_stretch_that_counts_is_the_same_after_a_restart() -> None:
    # The rank of stretches is remembered for a day. A new day pushes the oldest out of
    # the twelve weeks; what is remembered must go with it, so that a state restored from
    # its bytes (which remembers nothing) judges the same.
    ex = DailyExcess()
    for d in range(EXCESS_DAYS + 6):
        odd = d in (6, 7, 8)
        ex.note_stretch(DAY0 + 24 * d + 8, 4.0 if odd else 0.1, 2.0 if odd else 0.1)
    at = DAY0 + 24 * (EXCESS_DAYS + 5) + 10
    assert ex.stretch_ranks(at, 3) == (4.0, 2.0)  # days 6, 7 and 8 are in the window
    ex.note(DAY0 + 24 * (EXCESS_DAYS + 6) + 1, 0.0, 0.0, 0.0, 0.0)  # day 6 goes
    assert DailyExcess.from_bytes(ex.to_bytes()).stretch_ranks(at, 3) == (0.1, 0.1)
    assert ex.stretch_ranks(at, 3) == (0.1, 0.1)
