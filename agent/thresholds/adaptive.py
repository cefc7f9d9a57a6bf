"""Learned (adaptive) thresholds: is this value unusual for this metric at this hour?

Configured per metric beside the static limits (which always apply as well)::

    thresholds:
      response_ms:
        crit: "> 2000"
        adaptive: {sensitivity: medium, direction: both, min_deviation: 10%, warmup: 1d}

Algorithm (O(1) per sample; about 32 KB of memory per metric however long it runs and
however often it is sampled, 10 to 15 KB when stored; see ``baseline``). Everything is
reckoned in hours and days, never in samples, so one set of defaults holds from one sample
a minute to one an hour:

1. Each clock hour is summarised (lowest, highest, mean value); three weeks are kept. The
   *band* of the coming hour is what is normal for it (``baseline``): the range of most of
   the last week's hours, widened by what this hour of the day (week) did; once five days
   are known, what this hour of the day reached on the last 7 days (once three weeks are,
   this hour of the week on each of them), so an hour that is always quiet gets a quiet
   band and a value normal at 14:00 alerts at 03:00 (or on a quiet Saturday). What this
   hour of the week reached on any of the last weeks is normal too (a weekly job).
2. A value is *unusual* when it leaves the band by more than a margin: the largest of
   ``k`` x the width of the week's range (``k`` 0.5 / 0.25 / 0.125 for sensitivity low /
   medium / high), ``min_deviation`` (a share of the level, ``10%`` by default, or an
   amount in the metric's unit; at least the least step the value ever moved by: a
   count's 1), and how far beyond their bands the last twelve weeks' days went, but for
   the two most extreme (1.3 / 1 / 0.8 times that, plus ``0.6 k``; in the first week at
   least 15 % of the most extreme): a metric whose every day has a burst
   needs a bigger burst to alert, so false alerts stay a matter of weeks, not samples.
   When the whole hour before stayed beyond its band (a random walk, a temperature
   creeping up), the margin grows by as much: only a sudden move alerts; a slow one is
   left to the hourly-mean and drift checks. In a *bursty*
   metric (its odd day goes more than a band width above its band: counts of events) a
   lone sample above is one more burst: it alerts once the next sample, within 10
   minutes, is above the band by a quarter of the margin too (of medium's at most;
   seldom samples are aggregates already: they alert at once).
3. Besides the band, once an hour: the hour's *mean* far outside the recent hours' means
   (a level shift that spikes hide; ``HIGHER`` / ``LOWER``; in a bursty metric it must
   pass them by the band's whole width: a busy hour is one more burst); the last 6 hours
   far below the same hours of each of the last 7 days, in a metric whose days repeat (a
   *quiet stretch*: a holiday, traffic lost; ``LOWER``), or far above them in a bursty
   one (a *surge* that stays under the margin its bursts set; ``HIGHER``), at most once a
   day, once two weeks tell how far such stretches go; and once a day: the daily
   mean moving the same way on each of the last 7 days by more than half the week's range
   (a leak; ``RISING`` / ``FALLING``). Any time: a value that stays exactly the same for
   3 times longer than it ever did (at least 2 h), if it changed at most samples before
   (``STILL``), unless it is at or below the least of the week before (it went idle: a
   count with nothing to count; the band judges that).
4. No verdict during ``warmup`` (default 1d) after the first sample (or after a gap in
   the data longer than the 7-day window).
5. Once unusual, the verdict stays a problem until values have been normal again for
   ``cooldown`` (default 1h) and 3 samples (a level, judged once an hour: 3 hours): one
   anomaly is one alert, however ragged its end. For 3 days after, a new anomaly on the
   same side must go beyond its peak (a new level beyond its hour's mean); for 6 hours
   after, so must an hour's mean after a value far out, and a value after a level
   (within it, they are its aftermath).

Defaults: sensitivity medium, direction both, min_deviation 10%, warmup 1d, cooldown 1h,
severity warning. The verdict's ``why`` says what is normal, e.g. ``response_ms 840 is
far above normal for Tue 03:00 (usually 92-146 at 03:00)``, and for how long it was
learned while that is less than four weeks (``...; learned over 5d)``).

``judge(state, t, value)`` is the per-sample entry point; ``AdaptiveState.to_bytes`` /
``from_bytes`` persist the learned state (restoring it gives identical later verdicts).
"""

from __future__ import annotations

import math
import time

from agent.model import Status
from agent.thresholds.adaptive_changes import drift_change, level_change, stretch_change
from agent.thresholds.adaptive_codes import (
    ABOVE,
    BELOW,
    CALM_SAMPLES,
    CONFIRM_SHARE,
    CONFIRM_STEP,
    DRIFT_DAYS,
    DRIFT_HOLD,
    FALLING,
    HELD,
    HIGHER,
    IGNORED,
    LEARNING,
    LEVEL_CALM,
    LEVEL_SAMPLES,
    LOWER,
    MARGIN_SLACK,
    NORMAL,
    PROBLEM_CODES,
    RANK_FRACTION,
    RISING,
    STILL,
    STILL_MOVING,
    STRETCH_EVERY,
    Code,
    bursty,
    still_span,
)
from agent.thresholds.adaptive_episode import AdaptiveEpisode
from agent.thresholds.adaptive_settings import (
    AdaptiveSettings,
    Deviation,
    Direction,
    Sensitivity,
)
from agent.thresholds.adaptive_store import pack_state, unpack_state
from agent.thresholds.adaptive_words import AdaptiveVerdict, AdaptiveWords
from agent.thresholds.baseline import (
    DAY_SLOTS,
    RECENT_SLOTS,
    SLOT_SECONDS,
    STRETCH_HOURS,
    Baseline,
)

# The settings and codes live in their own modules; they are imported from here too.
__all__ = ["ABOVE", "BELOW", "FALLING", "HELD", "HIGHER", "IGNORED", "LEARNING", "LOWER",
           "NORMAL", "PROBLEM_CODES", "RISING", "STILL", "AdaptiveSettings", "AdaptiveState",
           "AdaptiveVerdict", "Code", "Deviation", "Direction", "Sensitivity", "judge"]

_isfinite = math.isfinite
_NAN = math.nan

class AdaptiveState(AdaptiveWords, AdaptiveEpisode):
    """Everything learned about one metric, plus the current anomaly episode.

    Mutable and updated in place (it is judged once per sample, so copying would cost more
    than the judging); ``to_bytes``/``from_bytes`` give a compact persistent form.
    ``utc_offset`` (seconds east of UTC) fixes the time zone of hours and weekdays; None
    follows the host's local time zone, daylight saving included.
    """

    # The episode's own are AdaptiveEpisode's.
    __slots__ = (
        "_hour_end", "_offset", "_offset_until", "band_prev", "baseline", "burst",
        "calibrate", "confirm_hi", "drift_day", "drift_from", "drift_to", "factor",
        "first_t", "idle", "idle_run", "last_t", "last_value", "least_step", "level",
        "level_hours", "longest_still", "metric", "moved_t", "moves", "ready", "seen",
        "settings", "still_span", "stretch_t", "utc_offset",
    )

    def __init__(self, settings: AdaptiveSettings | None = None, metric: str = "value",
                 utc_offset: float | None = None) -> None:
        self.settings = settings or AdaptiveSettings()
        self.metric = metric
        self.utc_offset = utc_offset
        self.factor = self.settings.sensitivity.margin_factor
        self.calibrate = self.settings.sensitivity.calibrate
        self.baseline = Baseline(RANK_FRACTION)
        self.first_t = math.nan   # start of the current stretch of data (for warm-up)
        self.last_t = math.nan
        self.last_bad_t = math.nan
        self.episode = NORMAL     # the problem code while an anomaly (or its cooldown) lasts
        self.level_led = False    # ... and it began with a level (an hour's mean)
        self.peak = math.nan      # the most extreme value of the episode
        self.calm = 0             # normal samples since the episode's last problem
        self.ready = False        # warmed up, with a band for the current hour
        self.upper = math.inf     # problem above this ...
        self.lower = -math.inf    # ... or below this (for the current hour)
        # A bursty metric: a burst above upper is a problem once the next sample is above
        # this too (inf: at once); ``burst`` is the burst waiting for it.
        self.confirm_hi = math.inf
        self.burst = math.nan
        self.band_prev = (-math.inf, math.inf)  # the band of the hour before
        self.last_value = math.nan
        self.moved_t = math.nan   # when the value last changed (NaN: it never did)
        self.longest_still = 0.0  # the longest it stayed the same before
        self.still_span = still_span(0.0)  # staying the same this long is unusual
        self.idle_run = math.nan  # the run of the same value judged idle or not ...
        self.idle = False
        self.least_step = math.inf  # the least the value ever changed by (a count: 1)
        self.seen = 0             # samples of the current stretch of data ...
        self.moves = 0            # ... and how many of them changed the value
        self._forget_episodes()   # nothing held back after an episode yet
        self.pending = NORMAL     # a problem found when the hour began, not yet reported
        self.drift_day = -math.inf  # the day (epoch days) drift was last reported
        self.drift_from = math.nan  # the daily means it moved from and to
        self.drift_to = math.nan
        self.level = (math.nan, math.nan, math.nan)  # the hour's mean, the usual means
        self.level_hours = 1      # the hours that mean is of (STRETCH_HOURS: a stretch)
        self.stretch_t = -math.inf  # when a stretch was last found
        self._offset = 0.0 if utc_offset is None else utc_offset
        self._offset_until = -math.inf if utc_offset is None else math.inf
        self._hour_end = -math.inf  # a sample from then on may begin a new hour

    # -- the per-sample path -------------------------------------------------------------

    def observe(self, t: float, value: float) -> Code:
        """Learn ``value`` at epoch time ``t`` and say what it is: a verdict code.

        NORMAL, ABOVE / BELOW (unusual now), STILL (stopped moving), RISING / FALLING
        (drift over days), HELD (normal again but within the cooldown of an anomaly),
        LEARNING (warm-up) or IGNORED (not a finite number).
        """
        if not _isfinite(value):
            return HELD if self.episode else IGNORED
        if not t >= self.last_t:
            self._time_moved(t)
        prev_t = self.last_t
        self.last_t = t
        base = self.baseline
        if not (t >= self._hour_end and self._hour_begins(t, value)):  # the same hour
            # Inline comparisons, not min()/max(): this is the per-sample hot path.
            if value < base.cur_lo:  # noqa: PLR1730
                base.cur_lo = value
            if value > base.cur_hi:  # noqa: PLR1730
                base.cur_hi = value
            base.cur_n += 1
            base.cur_sum += value
        self.seen += 1
        if value != self.last_value:
            if self.last_value == self.last_value:  # a change, not the first value
                self.moves += 1
                moved = value - self.last_value if value > self.last_value else (
                    self.last_value - value)
                if moved < self.least_step:  # noqa: PLR1730
                    self.least_step = moved
                # Inline, as the rest: the value changes at most samples.
                if prev_t - self.moved_t > self.longest_still:  # False while NaN: the first
                    self._still_longer(prev_t - self.moved_t)
                self.moved_t = t
            self.last_value = value
            still = False
        else:
            # Only a metric that usually moves can stop: a count that rarely changes
            # stays the same for long by nature.
            still = (t - self.moved_t >= self.still_span and self.ready
                     and self.moves > STILL_MOVING * self.seen and not self._idle(value))
        burst = self.burst
        if self.burst == self.burst:  # a burst waited for this sample (not NaN)
            self.burst = _NAN
        if value > self.upper:
            code = ABOVE
            if self.confirm_hi < math.inf and not self._confirmed(value, burst, prev_t, t):
                return NORMAL if self.ready else LEARNING
        elif value < self.lower:
            code = BELOW
        elif burst > self.upper and value > self.confirm_hi:
            code, value = ABOVE, burst  # the burst lasted: its peak is the episode's
        elif still:
            code = STILL
        elif self.pending:
            code, value = self._report_pending(value)
        else:
            if not self.episode:
                return NORMAL if self.ready else LEARNING
            self.calm += 1
            if t - self.last_bad_t < self.settings.cooldown or self.calm < CALM_SAMPLES:
                return HELD
            if self.episode in (RISING, FALLING) and t - self.last_bad_t < DRIFT_HOLD:
                return HELD
            if self.level_led and self.episode in (HIGHER, LOWER) and (
                    t - self.last_bad_t < LEVEL_CALM):
                return HELD
            self._episode_over(t)
            return NORMAL if self.ready else LEARNING
        return self._problem(t, value, code)

    def _hour_begins(self, t: float, value: float) -> bool:
        """``t`` is past the end of the hour known: does a new hour begin with it (the
        zone's offset may have changed instead)? If so, ``value`` is learned as its first."""
        if t >= self._offset_until:
            self._refresh_offset(t)
        hour = int((t + self._offset) // SLOT_SECONDS)
        self._hour_end = min((hour + 1) * SLOT_SECONDS - self._offset, self._offset_until)
        base = self.baseline
        if hour == base.cur_hour:
            return False
        if hour - base.cur_hour > RECENT_SLOTS:
            self._restart(t)  # the first sample, or the first after a long gap
        base.add(hour, value)
        self._thresholds(t, hour)
        self._level()
        return True

    def _confirmed(self, value: float, burst: float, prev_t: float, t: float) -> bool:
        """A value above upper in a bursty metric: does it count now? Yes during an
        anomaly, right after another burst, or when samples come seldom (each is an
        aggregate already); else it waits for the next sample (``burst``)."""
        if self.episode or not t - prev_t <= CONFIRM_STEP or burst > self.upper:
            return True
        self.burst = value
        return False

    def _idle(self, value: float) -> bool:
        """The value that stays the same is at or below the least the metric took in the
        week before it stopped moving (a count with nothing to count, a drained queue): it
        went idle, and a frozen reading stops where it was instead. Whether idle is
        unusual is the band's to judge (far below normal), not stillness'."""
        if self.idle_run != self.moved_t:  # judged once for each run of the same value
            hour = int((self.moved_t + self._offset) // SLOT_SECONDS)
            least = self.baseline.lowest(hour - RECENT_SLOTS, hour)
            self.idle_run = self.moved_t
            self.idle = least < math.inf and value <= least
        return self.idle

    def _still_longer(self, span: float) -> None:
        """The value stayed the same for ``span``, longer than ever before."""
        self.longest_still = span
        self.still_span = still_span(span)

    def _restart(self, t: float) -> None:
        """Start learning afresh (the first sample, or the first after a long gap)."""
        self.first_t = t
        self.moved_t = math.nan
        self.last_value = math.nan
        self.longest_still = 0.0
        self.still_span = still_span(0.0)
        self.seen = self.moves = 0
        self._forget_episodes()

    def _thresholds(self, t: float, hour: int) -> None:
        """Recompute the problem thresholds for the hour that just began."""
        band = self.baseline.band
        self.ready = band is not None and t - self.first_t >= self.settings.warmup
        band_prev = self.band_prev
        self.band_prev = (band.lo, band.hi) if band is not None else (-math.inf, math.inf)
        if band is None or not self.ready:
            self.upper, self.lower = math.inf, -math.inf
            return
        # A metric that moves in steps (a count) leaves its band only by more than a step:
        # 2 errors where 0-1 is usual is one more than the band, not an anomaly.
        least = max(self.settings.min_deviation.of(max(abs(band.hi), abs(band.lo))),
                    self.least_step if self.least_step < math.inf else 0.0)
        up, down = self._margin(band.over), self._margin(band.under)
        direction = self.settings.direction
        upper = band.hi + max(up * band.width, least)
        lower = band.lo - max(down * band.width, least)
        if not self.episode:
            # The whole hour before stayed beyond its band (a random walk, a slow climb):
            # a value is unusual only once it goes that much further, suddenly.
            lo_prev, hi_prev, n_prev = self.baseline.hour_range(hour - 1)
            if n_prev >= LEVEL_SAMPLES:
                upper += max(0.0, lo_prev - band_prev[1])
                lower -= max(0.0, band_prev[0] - hi_prev)
        upper, lower = self._held_back(t, upper, lower)
        self.upper = upper if direction is not Direction.BELOW else math.inf
        self.lower = lower if direction is not Direction.ABOVE else -math.inf
        # A metric whose ordinary bad day bursts far above its band: a lone sample above
        # is one more burst; one that lasts a second sample is an anomaly. (A part of the
        # margin at medium sensitivity at most: a wider one is for the first sample.)
        share = CONFIRM_SHARE * min(1.0, Sensitivity.MEDIUM.margin_factor / self.factor)
        self.confirm_hi = (band.hi + share * (upper - band.hi)
                           if bursty(band) and self.upper < math.inf else math.inf)
        if hour % DAY_SLOTS == 0:
            self._drift(hour // DAY_SLOTS, band.width)

    def _margin(self, excess: float) -> float:
        """The margin beyond the band, in widths of the recent range: more than the odd
        day of the last weeks went beyond (``excess``), by a slack (a burst a little larger
        than the usual ones is one of them), and at least the sensitivity's share (a metric
        that never strays)."""
        if not excess > 0:  # NaN while few days are known
            return self.factor
        return max(self.factor, self.calibrate * excess + MARGIN_SLACK * self.factor)

    def _level(self) -> None:
        """At the end of an hour: is its mean on a level far from normal?"""
        if not self.ready:
            return
        held = self._mean_held_back(self.last_t)
        found = level_change(self.baseline, self.settings, held)
        hours = 1
        if found is None and (self.episode in (HIGHER, LOWER)
                              or self.last_t - self.stretch_t >= STRETCH_EVERY):
            found = stretch_change(self.baseline, self.settings, held)
            if found is not None:
                self.stretch_t, hours = self.last_t, STRETCH_HOURS
        if found is not None:
            self.pending, self.level = found
            self.level_hours = hours

    def _drift(self, day: int, width: float) -> None:
        """Once a day (once a week at most when found): is the daily mean drifting? And
        while a drift's alert holds, did the last day go on its way (then it holds on)?"""
        if self.episode in (RISING, FALLING):
            means = self.baseline.daily_means(2)
            if means is not None and means[1] != means[0] and (
                    (means[1] > means[0]) is (self.episode == RISING)):
                self.last_bad_t = self.last_t
        if day - self.drift_day < DRIFT_DAYS:
            return
        found = drift_change(self.baseline, self.settings, width)
        if found is not None:
            self.pending, self.drift_from, self.drift_to = found
            self.drift_day = day

    def _time_moved(self, t: float) -> None:
        """The clock went back: move the episode's times with it (no time has passed)."""
        self._hour_end = -math.inf  # t may be in an earlier hour
        if self.last_t == self.last_t:
            shift = t - self.last_t
            self.first_t += shift
            self.moved_t += shift
            self.stretch_t += shift
            self._shift_episodes(shift)

    def _refresh_offset(self, t: float) -> None:
        self._offset = float(time.localtime(t).tm_gmtoff)
        self._offset_until = (t // SLOT_SECONDS + 1) * SLOT_SECONDS

    # -- persistence ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The learned state and the current episode as compact bytes (settings excluded)."""
        return pack_state(self)

    @classmethod
    def from_bytes(cls, data: bytes, settings: AdaptiveSettings | None = None,
                   metric: str = "value", utc_offset: float | None = None) -> AdaptiveState:
        """Restore ``to_bytes`` output. ValueError when the bytes are not such a state
        (an older format included: what it learned is dropped and learned again).

        Settings are configuration, not learned state: pass the current ones. Thresholds
        follow new settings from the next hour on.
        """
        self = cls(settings, metric, utc_offset)
        unpack_state(self, data, keep_offset=utc_offset is None)
        return self


def judge(state: AdaptiveState, t: float, value: float) -> tuple[AdaptiveState, AdaptiveVerdict]:
    """Judge one sample at epoch time ``t``: learn it, and say whether it is unusual.

    The state is updated in place and returned. A problem verdict (ABOVE, BELOW, or HELD
    during the cooldown) has the settings' severity; NaN and infinities are not learned
    and do not change the verdict of an ongoing anomaly.
    """
    code = state.observe(t, value)
    status = state.settings.severity if code in PROBLEM_CODES else Status.OK
    return state, AdaptiveVerdict(status, state.explain(code, t, value), value, code,
                                  state.usual())
