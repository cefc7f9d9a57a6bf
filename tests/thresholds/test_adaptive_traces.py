"""Synthetic traces a sysadmin knows the answer to, at one- and five-minute steps.

Each trace is a week or more of a metric (a daily cycle, a flat line, a leak...) with the
thing to judge at its end; the learned thresholds (default settings) must alert on what
is wrong, with the reason, and stay quiet on what is normal, whatever the sampling step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from agent.thresholds.adaptive import (
    ABOVE,
    BELOW,
    HIGHER,
    LOWER,
    NORMAL,
    PROBLEM_CODES,
    RISING,
    STILL,
    AdaptiveSettings,
    AdaptiveState,
    Code,
    Direction,
)
from tests.stored_forms import as_format

START = 1_704_067_200  # Mon 2024-01-01 00:00 UTC
HOUR = 3600
DAY = 86400
Shape = Callable[[float, random.Random], float]


def cycle(t: float, rng: random.Random) -> float:
    """A working day: 10 at night, up to 100 at 14:00, a little noise."""
    hod = (t % DAY) / HOUR
    busy = max(0.0, math.sin(math.pi * (hod - 6) / 16)) if 6 <= hod <= 22 else 0.0
    return 10 + 90 * busy + rng.gauss(0, 2)


def steady(t: float, rng: random.Random) -> float:
    return 50 + rng.gauss(0, 2)


def job(t: float, rng: random.Random) -> float:
    """Quiet at 5, and a daily job 09:00-10:00 at 60."""
    return (60.0 if 9 <= (t % DAY) / HOUR < 10 else 5.0) + rng.gauss(0, 0.5)


def trace(shape: Shape, days: float, step: int, seed: int = 1,
          start: float = START) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(start + i * step, shape(start + i * step, rng))
            for i in range(int(days * DAY / step))]


def run(state: AdaptiveState, rows: list[tuple[float, float]]) -> list[Code]:
    return [state.observe(t, v) for t, v in rows]


def alerts(codes: list[Code]) -> list[int]:
    """Indexes where a problem begins (a new alert)."""
    out, prev = [], False
    for i, c in enumerate(codes):
        now = c in PROBLEM_CODES
        if now and not prev:
            out.append(i)
        prev = now
    return out


def judged(history: list[tuple[float, float]], tail: list[tuple[float, float]],
           ) -> tuple[AdaptiveState, list[Code], list[Code]]:
    state = AdaptiveState(metric="value", utc_offset=0)
    return state, run(state, history), run(state, tail)


STEPS = [60, 300]


@pytest.mark.parametrize("step", STEPS)
def test_a_daily_cycle_stays_quiet_for_days(step: int) -> None:
    _, before, after = judged(trace(cycle, 7, step), trace(cycle, 7, step, 2, START + 7 * DAY))
    assert alerts(before) == []
    assert alerts(after) == []


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("hour", "value", "alerted"), [
    (3, 90.0, True),    # the afternoon's level at 03:00, when 03:00 is always quiet
    (14, 90.0, False),  # the same at 14:00 is the usual afternoon
    (3, 13.0, False),   # a little more than usual at night is noise
    (14, 250.0, True),  # far above any afternoon
])
def test_a_value_normal_elsewhere_in_the_day_alerts_where_it_is_not(
        step: int, hour: int, value: float, alerted: bool) -> None:
    day = START + 8 * DAY
    history = trace(cycle, 8, step) + trace(cycle, hour / 24, step, 2, day)
    at = day + hour * HOUR + 5 * 60
    state, _, codes = judged(history, [(at, value), (at + step, value)])
    assert (ABOVE in codes) is alerted
    if alerted and hour == 3:
        assert "is far above normal for Tue 03:00 (usually " in state.explain(ABOVE, at, value)
        # Eight days known: the alert says the normal it judged by is young.
        assert state.explain(ABOVE, at, value).endswith(" at 03:00; learned over 8d)")


@pytest.mark.parametrize("step", STEPS)
def test_a_spike_at_night_alerts_once(step: int) -> None:
    history = trace(cycle, 8, step)
    night = trace(cycle, 0.25, step, 2, START + 8 * DAY)
    spike_at = len(night) // 2
    for i in range(spike_at, spike_at + 15 * 60 // step):
        night[i] = (night[i][0], 70.0)
    _, _, codes = judged(history, night)
    assert alerts(codes) == [spike_at]


@pytest.mark.parametrize("step", STEPS)
def test_a_level_shift_alerts_once_then_is_the_new_normal(step: int) -> None:
    history = trace(steady, 7, step)
    shifted = [(t, v + 40) for t, v in trace(steady, 3, step, 2, START + 7 * DAY)]
    _, _, codes = judged(history, shifted)
    assert alerts(codes) == [0]
    day = DAY // step
    assert not any(c in PROBLEM_CODES for c in codes[2 * day:])


@pytest.mark.parametrize("step", STEPS)
def test_a_lasting_drop_in_a_metric_known_for_weeks_alerts_once(step: int) -> None:
    # Two busy days in the last week make its hour of the day wide, so from the third
    # week some hours are judged by their hour of the week: a day-long drop is the same
    # anomaly under either profile, and its level the new normal after six hours.
    rows = []
    for t, v in trace(steady, 22, step):
        day = (t - START) / DAY
        rows.append((t, v + (30 if 14.5 <= day < 16.5 else -30 if 20.5 <= day < 21.5
                             else 0)))
    codes = judged(rows, [])[1]
    assert [(round((rows[i][0] - START) / DAY, 2), codes[i]) for i in alerts(codes)] == [
        (14.5, ABOVE), (20.5, BELOW)]


def smooth(t: float, rng: random.Random) -> float:
    return 50 + rng.gauss(0, 0.2)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("shift", "alerted"), [
    (-0.8, False),  # 1.6 % of the level: beyond every usual hour's mean, but no news
    (0.8, False),
    (-2.0, True),   # 4 %: a level shift worth a look
    (2.0, True),
])
def test_a_level_moved_by_a_hair_is_no_shift(step: int, shift: float, alerted: bool) -> None:
    history = trace(smooth, 7, step)
    moved = [(t, v + shift) for t, v in trace(smooth, 0.5, step, 2, START + 7 * DAY)]
    _, _, codes = judged(history, moved)
    assert bool(alerts(codes)) is alerted
    assert {codes[i] for i in alerts(codes)} <= {HIGHER, LOWER}


@pytest.mark.parametrize("step", STEPS)
def test_a_missing_daily_job_alerts(step: int) -> None:
    day = START + 8 * DAY
    state = AdaptiveState(metric="value", utc_offset=0)
    run(state, trace(job, 8, step))
    rng = random.Random(2)
    found: list[tuple[float, Code, str]] = []
    for i in range(12 * HOUR // step):
        t = day + i * step
        v = 5.0 + rng.gauss(0, 0.5)  # the job did not run today
        code = state.observe(t, v)
        if code in PROBLEM_CODES and not found:
            found.append((t, code, state.explain(code, t, v)))
    [(at, code, why)] = found
    assert code == BELOW
    assert 9 * HOUR <= at - day < 9 * HOUR + 2 * step  # as soon as its hour began
    assert "is far below normal for Tue 09:00 (usually 5" in why
    assert why.endswith(" at 09:00; learned over 8d)")


@pytest.mark.parametrize("step", STEPS)
def test_a_metric_that_stops_moving_alerts_and_one_always_flat_does_not(step: int) -> None:
    history = trace(steady, 7, step)
    frozen = [(START + 7 * DAY + i * step + 0.0, 50.0) for i in range(6 * HOUR // step)]
    state, _, codes = judged(history, frozen)
    assert [codes[i] for i in alerts(codes)] == [STILL]
    at = alerts(codes)[0]
    assert 2 * HOUR <= frozen[at][0] - frozen[0][0] <= 2 * HOUR + 2 * step
    assert "value 50 is unchanged for 2h" in state.explain(STILL, *frozen[at])
    flat = [(START + i * step + 0.0, 45.0) for i in range(8 * DAY // step)]
    codes = judged(flat, [])[1]
    assert alerts(codes) == []


def counts(t: float, rng: random.Random) -> float:
    """Events counted per sample: a few by day, often none at night."""
    hod = (t % DAY) / HOUR
    return float(rng.choice((0, 0, 1)) if hod < 6 else rng.randint(2, 12))


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("errors", "code"), [
    (2.0, NORMAL),  # one step beyond the usual 0-1: the band of a count is known to a step
    (3.0, ABOVE),
])
def test_a_count_must_leave_its_band_by_more_than_a_step(
        step: int, errors: float, code: Code) -> None:
    def counted(t: float, rng: random.Random) -> float:
        return 1.0 if rng.random() < 0.2 else 0.0  # errors a sample: mostly none, some 1

    at = START + 8 * DAY + 30 * 60.0
    state, _, codes = judged(trace(counted, 8, step), [(at, errors)])
    assert codes == [code]
    if code == NORMAL:  # beyond the usual range, within the margin: said so, not alarmed
        assert state.explain(code, at, errors).startswith(
            "value 2 is a little above normal for Tue 00:00 (usually 0-1")


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("stuck", "frozen"), [
    (0.0, False),   # nothing to count since noon: idle, the least of every night
    (7.0, True),    # a reading that stopped in the middle of the day's counts
])
def test_a_count_that_stays_at_its_least_is_idle_and_one_stuck_midway_is_frozen(
        step: int, stuck: float, frozen: bool) -> None:
    history = trace(counts, 7.5, step)
    tail = [(START + 7.5 * DAY + i * step, stuck) for i in range(4 * HOUR // step)]
    codes = judged(history, tail)[2]
    assert [codes[i] for i in alerts(codes)] == ([STILL] if frozen else [])


@pytest.mark.parametrize("step", STEPS)
def test_a_state_stored_while_the_value_stands_still_alerts_when_the_original_does(
        step: int) -> None:
    history = trace(steady, 7, step)
    paused = 3 * DAY // step  # it once stood still for an hour: 3 h is unusual, not 2 h
    history[paused:paused + HOUR // step + 1] = [
        (t, 48.0) for t, _ in history[paused:paused + HOUR // step + 1]]
    frozen = [(START + 7 * DAY + i * step + 0.0, 50.0) for i in range(6 * HOUR // step)]
    original = AdaptiveState(metric="value", utc_offset=0)
    run(original, history + frozen[:HOUR // step])
    restored = AdaptiveState.from_bytes(original.to_bytes(), original.settings, "value", 0.0)
    rest = frozen[HOUR // step:]
    codes = run(original, rest)
    assert codes.index(STILL) == (3 * HOUR - HOUR) // step
    assert run(restored, rest) == codes


@pytest.mark.parametrize("step", STEPS)
def test_a_flat_line_that_turns_to_noise_alerts_when_it_starts(step: int) -> None:
    flat = [(START + i * step + 0.0, 0.0) for i in range(7 * DAY // step)]
    noise = [(t, abs(v - 50)) for t, v in trace(steady, 2, step, 3, START + 7 * DAY)]
    _, before, after = judged(flat, noise)
    assert alerts(before) == []
    # At once; the week it knows was flat, so a rare extreme of the noise may alert again
    # while the noise is still new (at most one more in two days).
    assert alerts(after)[0] == 0
    assert len(alerts(after)) <= 2


@pytest.mark.parametrize("step", STEPS)
def test_a_slow_leak_alerts_as_drift_after_a_week(step: int) -> None:
    def leak(t: float, rng: random.Random) -> float:
        return 40 + 3 * (t - START) / DAY + rng.gauss(0, 1)

    _, _, codes = judged([], trace(leak, 14, step))
    starts = alerts(codes)
    assert [codes[i] for i in starts] == [RISING]
    assert 8 * DAY <= starts[0] * step <= 9 * DAY


@pytest.mark.parametrize("step", STEPS)
def test_a_leak_that_starts_is_few_alerts_and_its_drift_one_that_lasts(step: int) -> None:
    # A week steady, then +3 a day: the first hours' means each a little higher than the
    # last are one slope (at most two level alerts, not one an hour), and the drift,
    # found once a day, stays one alert while the daily mean goes on rising.
    def leak(t: float, rng: random.Random) -> float:
        day = (t - START) / DAY
        return 40 + (3 * (day - 7) if day > 7 else 0) + rng.gauss(0, 1)

    codes = judged([], trace(leak, 20, step))[2]
    starts = alerts(codes)
    first_day = [codes[i] for i in starts if starts and i * step < 8 * DAY]
    assert set(first_day) <= {HIGHER} and 1 <= len(first_day) <= 2
    drift = [i for i in starts if codes[i] == RISING]
    assert len(drift) == 1 and drift == starts[-1:]
    assert all(c in PROBLEM_CODES for c in codes[drift[0]:])  # open to the end


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("gap_hours", [0.5, 3, 30])
def test_a_gap_in_the_data_is_not_an_anomaly(step: int, gap_hours: float) -> None:
    history = trace(cycle, 7, step)
    resumed = trace(cycle, 1, step, 2, START + 7 * DAY + gap_hours * HOUR)
    _, _, codes = judged(history, resumed)
    assert alerts(codes) == []


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("jump", [-HOUR, 2 * HOUR, -DAY])
def test_a_clock_jump_is_not_an_anomaly(step: int, jump: int) -> None:
    history = trace(cycle, 7, step)
    after = trace(cycle, 1, step, 2, START + 7 * DAY + jump)
    _, _, codes = judged(history, after)
    assert alerts(codes) == []


def spiky(level: float, step: int) -> Shape:
    """At ``level``, with a burst to 100 every half hour (a sample of it)."""
    def shape(t: float, rng: random.Random) -> float:
        spike = (t // step) % (1800 // step) == 0
        return (100.0 if spike else level) + rng.gauss(0, 0.5)
    return shape


@pytest.mark.parametrize("step", STEPS)
def test_a_spiky_metric_whose_level_rises_alerts_though_its_spikes_hide_it(step: int) -> None:
    day = START + 7 * DAY
    state, _, codes = judged(trace(spiky(5.0, step), 7, step),
                              trace(spiky(30.0, step), 0.5, step, 2, day))
    starts = alerts(codes)
    assert [codes[i] for i in starts] == [HIGHER]
    assert starts[0] * step <= 2 * HOUR  # when the first hour on the new level ends
    why = state.explain(HIGHER, day + starts[0] * step, 30.0)
    assert "on a level far above normal: the last hour averaged " in why


@pytest.mark.parametrize("step", STEPS)
def test_a_level_back_for_one_hour_between_two_is_one_busy_spell(step: int) -> None:
    day = START + 7 * DAY
    hours = [30.0, 5.0, 60.0, 5.0, 5.0, 5.0, 5.0, 5.0]  # busy, normal, busier, normal...
    tail = [row for h, level in enumerate(hours)
            for row in trace(spiky(level, step), 1 / 24, step, h + 2, day + h * HOUR)]
    codes = judged(trace(spiky(5.0, step), 7, step), tail)[2]
    per_hour = HOUR // step
    assert [codes[i] for i in alerts(codes)] == [HIGHER]  # one alert, from hour 1 on
    assert alerts(codes)[0] == per_hour
    assert codes[3 * per_hour] == HIGHER  # the busier hour goes on with it
    # Three normal hours (a level's samples are hours) end it.
    assert all(c in PROBLEM_CODES for c in codes[per_hour:6 * per_hour])
    assert codes[-1] == NORMAL


@pytest.mark.parametrize("step", STEPS)
def test_spikes_coming_ever_more_often_alert(step: int) -> None:
    def spikes(every: int) -> Shape:
        def shape(t: float, rng: random.Random) -> float:
            return 80.0 if (t // step) % (every // step) == 0 else 10.0 + rng.gauss(0, 1)
        return shape

    day = START + 8 * DAY
    # A spike every two hours for a week is normal; then one every ten minutes.
    _, before, codes = judged(trace(spikes(2 * HOUR), 8, step),
                              trace(spikes(600), 0.5, step, 2, day))
    assert alerts(before) == []
    starts = alerts(codes)
    assert starts and starts[0] * step <= 2 * HOUR
    assert codes[starts[0]] in (ABOVE, HIGHER)


def office(t: float, rng: random.Random) -> float:
    """Busy (80) on weekdays 08:00-18:00, else quiet (10)."""
    weekday = (int(t // DAY) + 3) % 7 < 5  # 1970-01-01 was a Thursday
    hod = (t % DAY) / HOUR
    busy = weekday and 8 <= hod < 18
    return (80.0 if busy else 10.0) + rng.gauss(0, 2)


@pytest.mark.parametrize("step", STEPS)
def test_the_first_weekend_of_a_weekday_metric_is_not_an_anomaly(step: int) -> None:
    codes = judged(trace(office, 9, step), [])[1]  # Mon to Tue of the next week
    assert alerts(codes) == []


@pytest.mark.parametrize("step", [*STEPS, 3600])
@pytest.mark.parametrize(("weeks", "alerted"), [(3, False), (4, True)])
def test_an_hour_of_the_week_always_quiet_gets_a_quiet_band_after_three_of_them(
        step: int, weeks: int, alerted: bool) -> None:
    # Saturdays are quiet; a weekday's busy level on a Saturday afternoon alerts once
    # three Saturdays are known (before, 14:00 is judged by what any day did then).
    saturday = START + (7 * weeks - 2) * DAY
    history = trace(office, 7 * weeks - 2, step) + trace(office, 14 / 24, step, 2, saturday)
    at = saturday + 14 * HOUR + 5 * 60
    state, before, codes = judged(history, [(at, 80.0), (at + step, 80.0)])
    assert alerts(before) == []
    assert (ABOVE in codes) is alerted
    if alerted:
        why = state.explain(ABOVE, at, 80.0)
        assert "far above normal for Sat 14:00 (usually " in why
        assert why.endswith(f" at Sat 14:00; learned over {7 * weeks - 2}d)")


def test_hourly_counts_low_at_one_hour_three_weeks_running_are_no_weekly_rhythm() -> None:
    # Sampled hourly, three weeks of Sunday midnight and its neighbours are nine samples;
    # here all happened to be low (3 or less). That is noise, not a quiet hour of the
    # week: the day's profile stays, and a 5 there is as usual as on any other day.
    rng = random.Random(1)
    rows: list[tuple[float, float]] = []
    for i in range(3 * 7 * 24 + 6 * 24):
        v = float(min(max(round(3 + rng.gauss(0, 1)), 0), 6))
        if i % (7 * 24) in (6 * 24 - 1, 6 * 24, 6 * 24 + 1):
            v = min(v, 3.0)
        rows.append((START + i * HOUR, v))
    sunday = START + (3 * 7 + 6) * DAY
    state, _, codes = judged(rows, [(sunday, 5.0), (sunday + HOUR, 5.0)])
    assert codes == [NORMAL, NORMAL]
    assert state.baseline.band is not None and state.baseline.band.profile == 24


def traffic(t: float, rng: random.Random) -> float:
    """A site's requests: a daily cycle from 15 at night to 100 in the afternoon, a fifth
    less at weekends, noise of a few percent."""
    hod = (t % DAY) / HOUR
    level = 15 + 85 * max(0.0, math.sin(math.pi * (hod - 5) / 19)) if hod >= 5 else 15.0
    weekend = (int(t // DAY) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return level * (0.8 if weekend else 1.0) * (1 + rng.gauss(0, 0.03))


def with_quiet_day(shape: Shape, day: int, share: float) -> Shape:
    """``shape`` with day ``day`` (from START) at ``share`` of its level."""
    def quiet(t: float, rng: random.Random) -> float:
        v = shape(t, rng)
        return v * share if int((t - START) // DAY) == day else v
    return quiet


QUIET_STEPS = [60, 300, 3600]
#: A Thursday: four weeks in (a week of days to compare with, two of how far they stray).
HOLIDAY = 31


@pytest.mark.parametrize("step", QUIET_STEPS)
def test_a_quiet_day_among_busy_ones_alerts_once_with_the_hours_it_missed(step: int) -> None:
    # A holiday, or traffic lost to a broken upstream: every hour of it is still within
    # what some hour, or the weekend, does; together they are far below the same hours
    # of the last 7 days.
    state = AdaptiveState(metric="requests", utc_offset=0)
    rows = trace(with_quiet_day(traffic, HOLIDAY, 0.55), HOLIDAY + 3, step)
    codes = run(state, rows)
    starts = alerts(codes)
    assert [(rows[i][0] - START) // DAY for i in starts] == [HOLIDAY]
    i = starts[0]
    assert codes[i] == LOWER
    why = state.explain(LOWER, *rows[i])
    assert "is on a level far below normal: the last 6 hours averaged " in why
    assert why.endswith(" at these hours on the last 7 days)")


@pytest.mark.parametrize("step", QUIET_STEPS)
def test_weekends_of_a_weekly_metric_are_not_quiet_stretches(step: int) -> None:
    codes = run(AdaptiveState(utc_offset=0), trace(traffic, 8 * 7, step))
    assert alerts(codes) == []


@pytest.mark.parametrize("step", [300, 3600])
def test_a_metric_whose_days_do_not_repeat_is_not_judged_by_its_quiet_stretches(
        step: int) -> None:
    # Bursts of every size: one day's hours tell little of the next day's, so a quiet
    # day is one more of its moods (the band still judges each value).
    def bursty(t: float, rng: random.Random) -> float:
        return traffic(t, rng) * rng.paretovariate(1.1) / 10

    state = AdaptiveState(utc_offset=0)
    rows = trace(with_quiet_day(bursty, HOLIDAY, 0.55), HOLIDAY + 2, step)
    for t, v in rows:
        code = state.observe(t, v)
        assert "at these hours" not in state.explain(code, t, v)


def test_a_quiet_stretch_is_not_looked_for_where_only_rises_matter() -> None:
    state = AdaptiveState(AdaptiveSettings(direction=Direction.ABOVE), utc_offset=0)
    rows = trace(with_quiet_day(traffic, HOLIDAY, 0.55), HOLIDAY + 2, 300)
    assert LOWER not in run(state, rows)


@pytest.mark.parametrize("fmt", [3, 4, 5])
def test_a_state_stored_by_an_earlier_format_is_restored(fmt: int) -> None:
    # Format 3 knew no stretches and no aftermath of an anomaly; format 4 no aftermath;
    # none knew the least step (learned again from the next change: a request rate's is
    # far below its margins).
    state = AdaptiveState(metric="requests", utc_offset=0)
    run(state, trace(traffic, 10, 300))
    earlier = as_format(state.to_bytes(), fmt)
    restored = AdaptiveState.from_bytes(earlier, metric="requests", utc_offset=0)
    if fmt == 3:
        assert (restored.stretch_t, restored.level_hours) == (-math.inf, 1)
    if fmt < 5:
        assert restored.aftermath == (-math.inf, math.inf, -math.inf)
    assert (restored.least_step, restored.level_led) == (math.inf, False)
    tail = trace(traffic, 1, 300, 2, START + 10 * DAY)
    assert run(restored, tail) == run(state, tail)
