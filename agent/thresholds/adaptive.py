"""Learned (adaptive) thresholds: is this value unusual for this metric at this hour?

Configured per metric beside the static limits (which always apply as well)::

    thresholds:
      response_ms:
        crit: "> 2000"
        adaptive: {sensitivity: medium, direction: both, min_deviation: 10%, warmup: 1d}

Algorithm (O(1) per sample; about 27 KB of memory per metric however long it runs and
however often it is sampled, 10 to 14 KB when stored; see ``baseline``). Everything is
reckoned in hours and days, never in samples, so one set of defaults holds from one sample
a minute to one an hour:

1. Each clock hour is summarised (lowest, highest, mean value); three weeks are kept. The
   *band* of the coming hour is what is normal for it (``baseline``): the range of most of
   the last week's hours, widened by what this hour of the day (week) did; once five days
   are known, what this hour of the day reached on the last 7 days (once three weeks are,
   this hour of the week on each of them), so an hour that is always quiet gets a quiet
   band and a value normal at 14:00 alerts at 03:00 (or on a quiet Saturday).
2. A value is *unusual* when it leaves the band by more than a margin: the largest of
   ``k`` x the width of the week's range (``k`` 0.5 / 0.25 / 0.125 for sensitivity low /
   medium / high), ``min_deviation`` (a share of the level, ``10%`` by default, or an
   amount in the metric's unit), and how far beyond their bands the last four weeks' days
   went, but for the two most extreme (1.3 / 1 / 0.8 times that): a metric whose every day has a
   burst needs a bigger burst to alert, so false alerts stay a matter of days, not samples.
3. Besides the band, once an hour: the hour's *mean* far outside the recent hours' means
   (a level shift that spikes hide; ``HIGHER`` / ``LOWER``), and once a day: the daily
   mean moving the same way on each of the last 7 days by more than half the week's range
   (a leak; ``RISING`` / ``FALLING``). Any time: a value that stays exactly the same for
   3 times longer than it ever did (at least 2 h), if it changed at most samples before
   (``STILL``).
4. No verdict during ``warmup`` (default 1d) after the first sample (or after a gap in
   the data longer than the 7-day window).
5. Once unusual, the verdict stays a problem until values have been normal again for
   ``cooldown`` (default 1h) and 3 samples: one anomaly is one alert, however ragged its
   end. For 3 days after, a new anomaly on the same side must go beyond its peak (a new
   level beyond its hour's mean).

Defaults: sensitivity medium, direction both, min_deviation 10%, warmup 1d, cooldown 1h,
severity warning. The verdict's ``why`` says what is normal, e.g. ``response_ms 840 is
far above normal for Tue 03:00 (usually 92-146 at 03:00)``.

``judge(state, t, value)`` is the per-sample entry point; ``AdaptiveState.to_bytes`` /
``from_bytes`` persist the learned state (restoring it gives identical later verdicts).
"""

from __future__ import annotations

import enum
import math
import struct
import time
from dataclasses import dataclass
from itertools import pairwise

from agent.model import AlertKey, Finding, Status
from agent.thresholds.adaptive_settings import (
    AdaptiveSettings,
    Deviation,
    Direction,
    Sensitivity,
)
from agent.thresholds.baseline import DAY_SLOTS, RECENT_SLOTS, SLOT_SECONDS, Baseline
from agent.units import format_duration, format_value

# The settings live in their own module; they are imported from here too.
__all__ = ["ABOVE", "BELOW", "FALLING", "HELD", "HIGHER", "IGNORED", "LEARNING", "LOWER",
           "NORMAL", "PROBLEM_CODES", "RISING", "STILL", "AdaptiveSettings", "AdaptiveState",
           "AdaptiveVerdict", "Code", "Deviation", "Direction", "Sensitivity", "judge"]

_isfinite = math.isfinite

#: Share of the hours of the recent window whose range counts as normal.
RANK_FRACTION = 0.05


class Code(enum.IntEnum):
    """What ``AdaptiveState.observe`` says of a sample."""

    NORMAL = 0    # within the normal range (or beyond it by less than the margin)
    ABOVE = 1     # far above normal
    BELOW = 2     # far below normal
    HELD = 3      # normal again, but within the cooldown of an anomaly
    LEARNING = 4  # still warming up: no verdict
    IGNORED = 5   # not a finite number: not learned, no verdict
    STILL = 6     # stopped moving: the same value for far longer than ever before
    RISING = 7    # drifting up: the daily mean rose on each of the last days
    FALLING = 8   # drifting down
    HIGHER = 9    # the last hour's mean was far above the recent hours' means
    LOWER = 10    # ... far below


NORMAL, ABOVE, BELOW, HELD, LEARNING, IGNORED, STILL, RISING, FALLING, HIGHER, LOWER = (
    Code.NORMAL, Code.ABOVE, Code.BELOW, Code.HELD, Code.LEARNING, Code.IGNORED,
    Code.STILL, Code.RISING, Code.FALLING, Code.HIGHER, Code.LOWER)
#: The codes that are a problem (with the settings' severity).
PROBLEM_CODES = (ABOVE, BELOW, HELD, STILL, RISING, FALLING, HIGHER, LOWER)
_EPISODES = (ABOVE, BELOW, STILL, RISING, FALLING, HIGHER, LOWER)
#: The codes found once an hour (reported with the next sample).
_HOURLY = (RISING, FALLING, HIGHER, LOWER)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_STATE = struct.Struct("<B23dbbIQQ?")
_STATE_FORMAT = 2

#: The least excess of an hour's mean, as a multiple of the sensitivity's share.
LEVEL_FACTOR = 3.0
#: The least change of an hour's mean, as a share of ``min_deviation``.
LEVEL_LEAST = 0.1
#: A value that stays exactly the same alerts after the longer of this ...
STILL_MIN = 2 * SLOT_SECONDS
#: ... and this many times the longest it ever stayed the same before (once it moved).
STILL_FACTOR = 3.0
#: An anomaly is over after its cooldown and at least this many normal samples (so
#: that one sample an hour does not end it at the first normal one).
CALM_SAMPLES = 3
#: ... if the value changed at more than this share of the samples before.
STILL_MOVING = 0.5
#: After an anomaly, another on the same side must go beyond its peak for this long.
REARM = 3 * 86400.0
#: Drift: the daily mean moved the same way on each of this many days in a row ...
DRIFT_DAYS = 7
#: ... by more in all than this share of the recent range's width.
DRIFT_SHARE = 0.5


class AdaptiveState:
    """Everything learned about one metric, plus the current anomaly episode.

    Mutable and updated in place (it is judged once per sample, so copying would cost more
    than the judging); ``to_bytes``/``from_bytes`` give a compact persistent form.
    ``utc_offset`` (seconds east of UTC) fixes the time zone of hours and weekdays; None
    follows the host's local time zone, daylight saving included.
    """

    __slots__ = (
        "_offset",
        "_offset_until",
        "baseline",
        "calibrate",
        "calm",
        "drift_day",
        "drift_from",
        "drift_to",
        "episode",
        "factor",
        "first_t",
        "last_bad_t",
        "last_t",
        "last_value",
        "level",
        "longest_still",
        "lower",
        "metric",
        "moved_t",
        "moves",
        "peak",
        "pending",
        "ready",
        "rearm_hi",
        "rearm_lo",
        "rearm_mean",
        "rearm_until",
        "seen",
        "settings",
        "still_at",
        "upper",
        "utc_offset",
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
        self.peak = math.nan      # the most extreme value of the episode
        self.calm = 0             # normal samples since the episode's last problem
        self.ready = False        # warmed up, with a band for the current hour
        self.upper = math.inf     # problem above this ...
        self.lower = -math.inf    # ... or below this (for the current hour)
        self.last_value = math.nan
        self.moved_t = math.nan   # when the value last changed (NaN: it never did)
        self.longest_still = 0.0  # the longest it stayed the same before
        self.still_at = math.inf  # staying the same until this time is unusual
        self.seen = 0             # samples of the current stretch of data ...
        self.moves = 0            # ... and how many of them changed the value
        self.rearm_hi = -math.inf  # the peak a new anomaly above must pass ...
        self.rearm_lo = math.inf   # ... or below
        self.rearm_until = -math.inf
        self.rearm_mean = (-math.inf, math.inf, -math.inf)  # the same for hourly means
        self.pending = NORMAL     # a problem found when the hour began, not yet reported
        self.drift_day = -math.inf  # the day (epoch days) drift was last reported
        self.drift_from = math.nan  # the daily means it moved from and to
        self.drift_to = math.nan
        self.level = (math.nan, math.nan, math.nan)  # the hour's mean, the usual means
        self._offset = 0.0 if utc_offset is None else utc_offset
        self._offset_until = -math.inf if utc_offset is None else math.inf

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
        if t >= self._offset_until:
            self._refresh_offset(t)
        base = self.baseline
        hour = int((t + self._offset) // SLOT_SECONDS)
        if hour != base.cur_hour:
            if hour - base.cur_hour > RECENT_SLOTS:
                self._restart(t)  # the first sample, or the first after a long gap
            base.add(hour, value)
            self._thresholds(t, hour)
            self._level()
        else:
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
                self._moved(prev_t, t)
            self.last_value = value
            still = False
        else:
            # Only a metric that usually moves can stop: a count that rarely changes
            # stays the same for long by nature.
            still = (t >= self.still_at and self.ready
                     and self.moves > STILL_MOVING * self.seen)
        if value > self.upper:
            code = ABOVE
        elif value < self.lower:
            code = BELOW
        elif still:
            code = STILL
        elif self.pending:
            code, self.pending = self.pending, NORMAL
        else:
            if not self.episode:
                return NORMAL if self.ready else LEARNING
            self.calm += 1
            if t - self.last_bad_t < self.settings.cooldown or self.calm < CALM_SAMPLES:
                return HELD
            self._episode_over(t)
            return NORMAL if self.ready else LEARNING
        return self._problem(t, value, code)

    def _problem(self, t: float, value: float, code: Code) -> Code:
        """A sample found a problem: the episode goes on (or begins) with it."""
        self.last_bad_t = t
        self.calm = 0
        if self.episode != code:
            self.episode = code
            self.peak = value
        elif (value > self.peak) if code == ABOVE else (value < self.peak):
            self.peak = value
        return code

    def _moved(self, prev_t: float, t: float) -> None:
        """The value changed at ``t`` (it was the same until ``prev_t``)."""
        if self.moved_t == self.moved_t:
            self.longest_still = max(self.longest_still, prev_t - self.moved_t)
        self.moved_t = t
        self.still_at = t + max(STILL_MIN, STILL_FACTOR * self.longest_still)

    def _episode_over(self, t: float) -> None:
        """An anomaly ended: the next one on its side must go beyond its peak (its hour's
        mean, for a level) for a while."""
        if self.episode == ABOVE:
            self.rearm_hi, self.rearm_until = self.peak, t + REARM
            self.upper = max(self.upper, self.peak)
        elif self.episode == BELOW:
            self.rearm_lo, self.rearm_until = self.peak, t + REARM
            self.lower = min(self.lower, self.peak)
        elif self.episode == HIGHER:
            self.rearm_mean = (self.level[0], -math.inf, t + REARM)
        elif self.episode == LOWER:
            self.rearm_mean = (math.inf, self.level[0], t + REARM)
        self.episode = NORMAL
        self.peak = math.nan

    def _restart(self, t: float) -> None:
        """Start learning afresh (the first sample, or the first after a long gap)."""
        self.first_t = t
        self.moved_t = math.nan
        self.last_value = math.nan
        self.longest_still = 0.0
        self.still_at = math.inf
        self.seen = self.moves = 0
        self.rearm_hi, self.rearm_lo, self.rearm_until = -math.inf, math.inf, -math.inf
        self.rearm_mean = (-math.inf, math.inf, -math.inf)

    def _thresholds(self, t: float, hour: int) -> None:
        """Recompute the problem thresholds for the hour that just began."""
        band = self.baseline.band
        self.ready = band is not None and t - self.first_t >= self.settings.warmup
        if band is None or not self.ready:
            self.upper, self.lower = math.inf, -math.inf
            return
        factor = self.factor
        least = self.settings.min_deviation.of(max(abs(band.hi), abs(band.lo)))
        # Beyond the band by more than the odd day of the last weeks went, and by more
        # than the sensitivity's share of the band (a metric that never strays).
        up = max(factor, self.calibrate * band.over) if band.over == band.over else factor
        down = max(factor, self.calibrate * band.under) if band.under == band.under else factor
        direction = self.settings.direction
        upper = band.hi + max(up * band.width, least)
        lower = band.lo - max(down * band.width, least)
        if t < self.rearm_until:
            upper, lower = max(upper, self.rearm_hi), min(lower, self.rearm_lo)
        self.upper = upper if direction is not Direction.BELOW else math.inf
        self.lower = lower if direction is not Direction.ABOVE else -math.inf
        if hour % DAY_SLOTS == 0:
            self._drift(hour // DAY_SLOTS, band.width)

    def _level(self) -> None:
        """At the end of an hour: was its mean far beyond the recent hours' means?

        Far is beyond the sensitivity's share of their range, beyond what the hours of
        all but the odd recent day went, and by more than a share of ``min_deviation`` (a level
        shift that spikes would hide)."""
        band, base = self.baseline.band, self.baseline
        if not self.ready or band is None or band.mean_over != band.mean_over:
            return
        up, down = base.mean_excess
        lo, hi = base.mean_range
        mean = base.last_mean
        # Means vary less than values: a share of the least deviation of a value.
        least = LEVEL_LEAST * self.settings.min_deviation.of(max(abs(lo), abs(hi)))
        direction = self.settings.direction
        f = self.factor * LEVEL_FACTOR
        r_hi, r_lo, r_until = self.rearm_mean
        if self.last_t >= r_until:
            r_hi, r_lo = -math.inf, math.inf
        if (up > max(f, self.calibrate * band.mean_over) and mean - hi > least and mean > r_hi
                and direction is not Direction.BELOW):
            self.pending = HIGHER
        elif (down > max(f, self.calibrate * band.mean_under) and lo - mean > least and mean < r_lo
                and direction is not Direction.ABOVE):
            self.pending = LOWER
        else:
            return
        self.level = (base.last_mean, lo, hi)

    def _drift(self, day: int, width: float) -> None:
        """Once a day: did the daily mean move the same way on each of the last days?"""
        if day - self.drift_day < DRIFT_DAYS:
            return
        means = self.baseline.daily_means(DRIFT_DAYS + 1)
        if means is None:
            return
        steps = [b - a for a, b in pairwise(means)]
        direction = self.settings.direction
        found = NORMAL
        if all(s > 0 for s in steps) and direction is not Direction.BELOW:
            found = RISING
        elif all(s < 0 for s in steps) and direction is not Direction.ABOVE:
            found = FALLING
        if found and abs(means[-1] - means[0]) > DRIFT_SHARE * width:
            self.pending, self.drift_day = found, day
            self.drift_from, self.drift_to = means[0], means[-1]

    def _time_moved(self, t: float) -> None:
        """The clock went back: move the episode's times with it (no time has passed)."""
        if self.last_t == self.last_t:
            shift = t - self.last_t
            self.first_t += shift
            self.last_bad_t += shift
            self.moved_t += shift
            self.still_at += shift
            self.rearm_until += shift
            hi, lo, until = self.rearm_mean
            self.rearm_mean = (hi, lo, until + shift)

    def _refresh_offset(self, t: float) -> None:
        self._offset = float(time.localtime(t).tm_gmtoff)
        self._offset_until = (t // SLOT_SECONDS + 1) * SLOT_SECONDS

    # -- words ---------------------------------------------------------------------------

    def when(self, t: float, weekday: bool = True) -> str:
        """``Tue 14:00``: the hour of the week that ``t`` falls in (this state's zone);
        ``14:00`` without the weekday."""
        local = time.gmtime(t + self._offset)
        hour = f"{local.tm_hour:02d}:00"
        return f"{_DAYS[local.tm_wday]} {hour}" if weekday else hour

    def usual(self) -> str:
        """``120-180``: the normal range of the current hour (empty while learning)."""
        band = self.baseline.band
        if band is None:
            return ""
        return f"{format_value(self.metric, band.lo)}-{format_value(self.metric, band.hi)}"

    def _side(self, code: Code, t: float) -> str:
        """What made ``code`` (a problem code other than HELD) a problem, in words."""
        m = self.metric
        band = self.baseline.band
        if code in (HIGHER, LOWER):
            mean, lo, hi = (format_value(m, x) for x in self.level)
            side = "above" if code == HIGHER else "below"
            return (f"on a level far {side} normal: the last hour averaged {mean} "
                    f"(hourly means usually {lo}-{hi})")
        if code in (ABOVE, BELOW):
            side = "above" if code == ABOVE else "below"
            if band is not None and band.profile:
                at = self.when(t, weekday=band.profile > DAY_SLOTS)
                return f"far {side} normal for {self.when(t)} (usually {self.usual()} at {at})"
            where = f" for {self.when(t)}" if band is not None and band.seasonal else ""
            return f"far {side} normal{where} (usually {self.usual()})"
        if code == STILL:
            still = format_duration(max(0.0, t - self.moved_t))
            before = (f"before, it stayed the same for at most "
                      f"{format_duration(self.longest_still)}" if self.longest_still
                      else "before, it changed at every sample")
            return f"unchanged for {still} ({before})"
        verb = "rose" if code == RISING else "fell"
        return (f"drifting: its daily mean {verb} on each of the last {DRIFT_DAYS} days, "
                f"from {format_value(m, self.drift_from)} to {format_value(m, self.drift_to)}")

    def explain(self, code: Code, t: float, value: float) -> str:
        """The ``why`` of a verdict code, in words."""
        m, shown = self.metric, format_value(self.metric, value)
        band = self.baseline.band
        if code == IGNORED:
            return f"{m} is not a number ({value}); not judged"
        if code == LEARNING or band is None or not self.ready:
            learned = 0.0 if self.first_t != self.first_t else max(0.0, t - self.first_t)
            return (f"{m} {shown}: learning what is normal "
                    f"({format_duration(learned)} of {format_duration(self.settings.warmup)})")
        if code in _EPISODES:
            return f"{m} {shown} is {self._side(code, t)}"
        where = f" for {self.when(t)}" if band.seasonal else ""
        usual = f"(usually {self.usual()})"
        if code == HELD and self.episode:
            ago = format_duration(t - self.last_bad_t)
            was = self._side(self.episode, self.last_bad_t)
            if self.episode in (ABOVE, BELOW):
                was += f", peak {format_value(m, self.peak)}"
            return f"{m} {shown} is back within normal{where} {usual}, but {ago} ago was {was}"
        return f"{m} {shown} is within normal{where} {usual}"

    def finding(self, key: AlertKey, code: Code, t: float, value: float) -> Finding:
        """The Finding of verdict ``code`` (from ``observe``) for alert ``key``."""
        status = self.settings.severity if code in PROBLEM_CODES else Status.OK
        usual = self.usual()
        return Finding(key, status, self.explain(code, t, value), value,
                       f"usual {usual}" if usual else None)

    # -- persistence ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The learned state and the current episode as compact bytes (settings excluded)."""
        head = _STATE.pack(_STATE_FORMAT, self.first_t, self.last_t, self.last_bad_t,
                           self.peak, self.upper, self.lower, self._offset, self.last_value,
                           self.moved_t, self.longest_still, self.still_at, self.rearm_hi,
                           self.rearm_lo, self.rearm_until, self.drift_day, self.drift_from,
                           self.drift_to, *self.level, *self.rearm_mean, self.episode,
                           self.pending,
                           min(self.calm, 2**31), self.seen, self.moves, self.ready)
        return head + self.baseline.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes, settings: AdaptiveSettings | None = None,
                   metric: str = "value", utc_offset: float | None = None) -> AdaptiveState:
        """Restore ``to_bytes`` output. ValueError when the bytes are not such a state
        (an older format included: what it learned is dropped and learned again).

        Settings are configuration, not learned state: pass the current ones. Thresholds
        follow new settings from the next hour on.
        """
        if len(data) < _STATE.size or data[0] != _STATE_FORMAT:
            raise ValueError("stored adaptive state has an unknown format")
        (_, first_t, last_t, last_bad_t, peak, upper, lower, offset, last_value, moved_t,
         longest_still, still_at, rearm_hi, rearm_lo, rearm_until, drift_day, drift_from,
         drift_to, level_mean, level_lo, level_hi, rearm_mean_hi, rearm_mean_lo,
         rearm_mean_until, episode, pending, calm, seen, moves,
         ready) = _STATE.unpack_from(data)
        self = cls(settings, metric, utc_offset)
        self.baseline = Baseline.from_bytes(data[_STATE.size:])
        self.first_t, self.last_t, self.last_bad_t = first_t, last_t, last_bad_t
        self.peak, self.upper, self.lower = peak, upper, lower
        self.last_value, self.moved_t, self.longest_still = last_value, moved_t, longest_still
        self.still_at = still_at
        self.rearm_hi, self.rearm_lo, self.rearm_until = rearm_hi, rearm_lo, rearm_until
        self.drift_day, self.drift_from, self.drift_to = drift_day, drift_from, drift_to
        self.episode = Code(episode) if episode in _EPISODES else NORMAL
        self.pending = Code(pending) if pending in _HOURLY else NORMAL
        self.level = (level_mean, level_lo, level_hi)
        self.rearm_mean = (rearm_mean_hi, rearm_mean_lo, rearm_mean_until)
        self.calm, self.seen, self.moves, self.ready = calm, seen, moves, ready
        if utc_offset is None:
            self._offset = offset  # refreshed at the next hour
        return self


@dataclass(frozen=True, slots=True)
class AdaptiveVerdict:
    """What the learned threshold says of one sample. ``status`` OK also while learning."""

    status: Status
    why: str
    value: float
    code: Code
    #: The normal range of the hour (``120-180``), empty while learning.
    usual: str

    @property
    def is_problem(self) -> bool:
        return self.status.is_problem

    def finding(self, key: AlertKey) -> Finding:
        """This verdict as the Finding of alert ``key``."""
        return Finding(key, self.status, self.why, self.value,
                       f"usual {self.usual}" if self.usual else None)


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
