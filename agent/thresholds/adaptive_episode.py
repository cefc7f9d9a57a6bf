"""One anomaly, one alert: the episode of an anomaly and what it leaves behind.

An episode begins with the first sample found a problem and goes on while problems come;
it keeps its code and its peak (the most extreme value; for a level, the most extreme of
its hours' means). Once it is over, a new anomaly on its side must pass that peak: for
``REARM`` a value must pass a value's peak, and a level a level's mean; for ``AFTERMATH``
an hour's mean must pass a value's peak, and a value a level's mean (within it, they are
its aftermath).
"""

from __future__ import annotations

import math

from agent.thresholds.adaptive_codes import (
    ABOVE,
    AFTERMATH,
    BELOW,
    HIGHER,
    LEVEL_REARM_SHARE,
    LOWER,
    NORMAL,
    REARM,
    RISING,
    Code,
)

#: The codes of an anomaly above normal (its peak is its highest).
_UP = (ABOVE, HIGHER, RISING)
#: (above, below, until): nothing held back.
_NONE = (-math.inf, math.inf, -math.inf)


class AdaptiveEpisode:
    """The episodes of an ``AdaptiveState`` (a mixin: the state holds the data)."""

    # Its slots hold the episode and the limits it sets (the state sets them first).
    __slots__ = ("aftermath", "calm", "episode", "last_bad_t", "level_led", "lower", "peak",
                 "pending", "rearm_hi", "rearm_lo", "rearm_mean", "rearm_until", "upper")
    episode: Code
    #: The episode began with a level (not with a value whose hour's mean then showed one).
    level_led: bool
    peak: float
    calm: int
    last_bad_t: float
    pending: Code
    upper: float
    lower: float
    rearm_hi: float    # the peak a new anomaly above must pass ...
    rearm_lo: float    # ... or below
    rearm_until: float
    rearm_mean: tuple[float, float, float]  # the same for hourly means: above, below, until
    # What a new anomaly above, below must pass in the aftermath of one (a value far out:
    # its peak, for hours' means; a level: its mean, for values too), until when.
    aftermath: tuple[float, float, float]
    # Kept by the state itself.
    level: tuple[float, float, float]
    level_hours: int

    def _forget_episodes(self) -> None:
        """Nothing is held back (learning starts afresh)."""
        self.rearm_hi, self.rearm_lo, self.rearm_until = _NONE
        self.rearm_mean = self.aftermath = _NONE

    def _report_pending(self, value: float) -> tuple[Code, float]:
        """The problem found when the hour began, reported with the sample ``value``: its
        code and the value it reached (a level's is the mean of its hours)."""
        code, self.pending = self.pending, NORMAL
        return code, (self.level[0] if code in (HIGHER, LOWER) else value)

    def _problem(self, t: float, value: float, code: Code) -> Code:
        """A sample found a problem: the episode goes on (or begins) with it."""
        self.last_bad_t = t
        self.calm = 0
        if self.episode != code:
            if not self.episode:
                self.level_led = code in (HIGHER, LOWER)
            self.episode = code
            self.peak = value
        elif (value > self.peak) if code in _UP else (value < self.peak):
            self.peak = value
        return code

    def _episode_over(self, t: float) -> None:
        """An anomaly ended: the next one on its side must go beyond its peak (its hour's
        mean, for a level) for a while."""
        if self.episode == ABOVE:
            self.rearm_hi, self.rearm_until = self.peak, t + REARM
            self.upper = max(self.upper, self.peak)
            self.aftermath = (self.peak, math.inf, t + AFTERMATH)
        elif self.episode == BELOW:
            self.rearm_lo, self.rearm_until = self.peak, t + REARM
            self.lower = min(self.lower, self.peak)
            self.aftermath = (-math.inf, self.peak, t + AFTERMATH)
        elif self.episode in (HIGHER, LOWER):
            # Its aftermath: a value, or a mean, within the level is not a new anomaly.
            mean = self.peak  # the most extreme of its means
            if self.episode == HIGHER:
                self.aftermath = (mean, math.inf, t + AFTERMATH)
                self.upper = max(self.upper, mean)
            else:
                self.aftermath = (-math.inf, mean, t + AFTERMATH)
                self.lower = min(self.lower, mean)
            # A new level must pass this one's mean for longer (a stretch is looked for
            # at most once a day anyway: STRETCH_EVERY).
            if self.level_hours == 1:
                # How far it went beyond the usual means (NaN, after a restart: no more).
                usual = self.level[2] if self.episode == HIGHER else self.level[1]
                further = 0.0 if math.isnan(usual) else LEVEL_REARM_SHARE * abs(mean - usual)
                self.rearm_mean = ((mean + further, -math.inf, t + REARM)
                                   if self.episode == HIGHER
                                   else (math.inf, mean - further, t + REARM))
        self.episode = NORMAL
        self.peak = math.nan

    def _held_back(self, t: float, upper: float, lower: float) -> tuple[float, float]:
        """The limits ``upper`` and ``lower`` of a value at ``t``, widened to what the last
        episodes left."""
        if t < self.rearm_until:
            upper, lower = max(upper, self.rearm_hi), min(lower, self.rearm_lo)
        a_hi, a_lo, a_until = self.aftermath
        if t < a_until:
            upper, lower = max(upper, a_hi), min(lower, a_lo)
        return upper, lower

    def _mean_held_back(self, t: float) -> tuple[float, float]:
        """What an hour's mean must pass at ``t``, above and below, after the last
        episodes (-inf, inf: nothing)."""
        above, below = -math.inf, math.inf
        for hi, lo, until in (self.rearm_mean, self.aftermath):
            if t < until:
                above, below = max(above, hi), min(below, lo)
        return above, below

    def _shift_episodes(self, shift: float) -> None:
        """The clock moved by ``shift``: the episodes' times move with it."""
        self.last_bad_t += shift
        self.rearm_until += shift
        hi, lo, until = self.rearm_mean
        self.rearm_mean = (hi, lo, until + shift)
        hi, lo, until = self.aftermath
        self.aftermath = (hi, lo, until + shift)
