"""The hourly baseline: robust ranks, seasonal majorities, bounded history, round trips."""

from __future__ import annotations

import zlib

import pytest

from agent.thresholds.baseline import RECENT_SLOTS, Band, Baseline
from agent.thresholds.excess import DailyExcess

H0 = 1000 * 24  # an hour count at midnight (hour 0 of a day)


def fill(base: Baseline, hours: range, value: float = 10.0,
         special: dict[int, float] | None = None) -> None:
    """One low and one high sample per hour; ``special`` hours get that high instead."""
    for h in hours:
        base.add(h, value - 1)
        base.add(h, (special or {}).get(h, value + 1))


def band_at(base: Baseline, hour: int) -> Band:
    base.add(hour, 10.0)
    assert base.band is not None
    return base.band


def test_no_band_until_three_hours_are_known() -> None:
    base = Baseline()
    fill(base, range(H0, H0 + 3))
    assert base.band is None
    base.add(H0 + 3, 10.0)
    band = base.band
    assert band is not None
    assert (band.lo, band.hi, band.seasonal, band.hours, band.width) == (9.0, 11.0, False, 3, 2.0)


@pytest.mark.parametrize(("spiky_hours", "widened"), [(1, False), (5, False), (12, True)])
def test_the_recent_range_ignores_a_few_odd_hours(spiky_hours: int, widened: bool) -> None:
    # 5 % of the 100 known hours: up to 5 odd hours are outliers, 12 are a pattern.
    base = Baseline()
    special = {H0 + 7 * k + 3: 100.0 for k in range(spiky_hours)}
    fill(base, range(H0, H0 + 100), special=special)
    assert (band_at(base, H0 + 100).hi == 100.0) is widened


@pytest.mark.parametrize(("days_with_spike", "seasonal_high"), [
    ((1, 2, 3), True), ((2, 3), True), ((3,), False),
])
def test_the_daily_range_is_what_most_recent_days_did_at_this_hour(
        days_with_spike: tuple[int, ...], seasonal_high: bool) -> None:
    # Three days known; a spike at 02:00 on some of them. Is 02:00 on day 4 busy?
    base = Baseline()
    special = {H0 + 24 * (d - 1) + 2: 100.0 for d in days_with_spike}
    fill(base, range(H0, H0 + 72), special=special)
    fill(base, range(H0 + 72, H0 + 74))
    band = band_at(base, H0 + 74)
    assert band.seasonal
    assert (band.hi == 100.0) is seasonal_high
    assert band_at(base, H0 + 86).hi == 11.0  # 14:00 is never busy


def test_a_spike_stays_in_its_hours_profile_for_a_week_then_is_forgotten() -> None:
    # Once five days are known, the hour's own profile is the band: what this hour (and
    # the hours beside it) reached on any of the last 7 days.
    base = Baseline()
    fill(base, range(H0, H0 + 24 * 7 + 3), special={H0 + 3: 100.0})
    seven_days_on = band_at(base, H0 + 24 * 7 + 3)
    assert seven_days_on.profile == 24 and seven_days_on.hi == 100.0
    assert band_at(base, H0 + 24 * 7 + 14).hi == 11.0  # the rest of the day never saw it
    fill(base, range(H0 + 24 * 7 + 3, H0 + 24 * 8 + 3))
    assert band_at(base, H0 + 24 * 8 + 3).hi == 11.0  # eight days on: gone


def test_an_hour_of_week_seen_busy_twice_is_busy_before_the_days_are_known() -> None:
    # Without five days of each hour (a gap), the weekly profile still widens: the
    # Sunday job seen twice a week apart.
    base = Baseline()
    sunday = {H0 + 168 * w + 3: 100.0 for w in range(3)}
    fill(base, range(H0, H0 + 24), special=sunday)
    fill(base, range(H0 + 168 - 12, H0 + 168 + 12), special=sunday)
    fill(base, range(H0 + 336 - 12, H0 + 336 + 3), special=sunday)
    band = band_at(base, H0 + 336 + 3)
    assert band.profile == 0 and band.seasonal and band.hi == 100.0


def test_history_older_than_the_recent_window_leaves_the_recent_range() -> None:
    base = Baseline()
    fill(base, range(H0, H0 + 20), value=1000.0)
    fill(base, range(H0 + 20, H0 + 20 + RECENT_SLOTS), value=10.0)
    band = band_at(base, H0 + 20 + RECENT_SLOTS)
    assert band.hours == RECENT_SLOTS
    assert band.hi == 11.0


def test_a_gap_longer_than_the_window_starts_afresh() -> None:
    base = Baseline()
    fill(base, range(H0, H0 + 50))
    base.add(H0 + 50 + RECENT_SLOTS + 1, 10.0)
    assert base.band is None


def test_a_clock_set_back_keeps_what_was_learned() -> None:
    base = Baseline()
    fill(base, range(H0, H0 + 50), special={H0 + 10: 100.0})
    before = band_at(base, H0 + 50)
    base.add(H0 + 45, 10.0)  # five hours back
    assert base.cur_hour == H0 + 45
    after = band_at(base, H0 + 46)  # the hour in progress is now known too
    assert (after.lo, after.hi, after.hours) == (before.lo, before.hi, before.hours + 1)


def test_round_trip_restores_the_band_and_later_bands() -> None:
    a = Baseline()
    fill(a, range(H0, H0 + 200), special={H0 + 24 * d + 2: 50.0 for d in range(8)})
    a.add(H0 + 200, 12.0)
    b = Baseline.from_bytes(a.to_bytes())
    assert (b.band, b.cur_hour, b.cur_lo, b.cur_hi, b.cur_n) == (
        a.band, a.cur_hour, a.cur_lo, a.cur_hi, a.cur_n)
    for h in range(H0 + 201, H0 + 260):
        assert band_at(a, h) == band_at(b, h)


def test_rank_fraction_must_be_below_half() -> None:
    with pytest.raises(ValueError, match="rank_fraction"):
        Baseline(0.5)


@pytest.mark.parametrize(("known_hours", "counted"), [(4, False), (5, False), (6, True)])
def test_an_hour_judged_against_a_few_hours_only_is_no_measure_of_a_bad_day(
        known_hours: int, counted: bool) -> None:
    # The first hours' bands are a sample of a few hours: going beyond one says little of
    # how far the metric strays, and must not set (or lower) the bar for the days after.
    base = Baseline()
    fill(base, range(H0, H0 + known_hours))
    fill(base, range(H0 + known_hours, H0 + known_hours + 1), special={H0 + known_hours: 30.0})
    band = band_at(base, H0 + known_hours + 1)
    assert (band.over == band.over) is counted  # NaN: no day noted yet
    if counted:
        assert band.over == pytest.approx((30.0 - 11.0) / 2.0)


@pytest.mark.parametrize(("fmt", "size"), [(3, DailyExcess.OLD_SIZE),
                                           (4, DailyExcess.QUIET_SIZE)])
def test_a_baseline_stored_by_an_earlier_format_is_restored(fmt: int, size: int) -> None:
    # The earlier formats: the same, but the days' excess without the stretches above
    # (format 4), or without any stretch (format 3).
    a = Baseline()
    fill(a, range(H0, H0 + 200), special={H0 + 24 * d + 2: 50.0 for d in range(8)})
    body = zlib.decompress(a.to_bytes())
    short = body[1:len(body) - (DailyExcess.SIZE - size)]
    b = Baseline.from_bytes(zlib.compress(bytes([fmt]) + short))
    assert (b.band, b.cur_hour) == (a.band, a.cur_hour)
    for h in range(H0 + 201, H0 + 230):
        assert band_at(a, h) == band_at(b, h)
    with pytest.raises(ValueError, match="unknown format"):
        Baseline.from_bytes(zlib.compress(bytes([5]) + short))  # the new format, too short
