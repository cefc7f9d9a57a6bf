"""The verdict codes of learned thresholds and the constants of their checks.

A code says what ``AdaptiveState.observe`` found in a sample (within normal, far above or
below, stopped moving, drifting, an hour's mean on a new level...); the constants say how
far, how long and how often, in hours and days (never in samples).
"""

from __future__ import annotations

import enum

from agent.thresholds.band import Band
from agent.thresholds.baseline import SLOT_SECONDS

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
#: The codes of an anomaly episode.
EPISODES = (ABOVE, BELOW, STILL, RISING, FALLING, HIGHER, LOWER)
#: The codes found once an hour (reported with the next sample).
HOURLY = (RISING, FALLING, HIGHER, LOWER)

#: Beyond the odd day's excess, a value must go this share of the sensitivity's margin
#: further to be unusual.
MARGIN_SLACK = 0.6
#: The least excess of an hour's mean, as a multiple of the sensitivity's share.
LEVEL_FACTOR = 3.0
#: The least change of an hour's mean, as a share of ``min_deviation`` (by default 2 % of
#: the level: a smooth metric's hourly means vary so little that a move of 1 % leaves
#: them all, and is no news).
LEVEL_LEAST = 0.2
#: Samples an hour needs for its low (high) to tell a level held beyond the band (fewer,
#: and one burst could be all of it).
LEVEL_SAMPLES = 3
#: A value that stays exactly the same alerts after the longer of this ...
STILL_MIN = 2 * SLOT_SECONDS
#: ... and this many times the longest it ever stayed the same before (once it moved).
STILL_FACTOR = 3.0
#: ... if the value changed at more than this share of the samples before.
STILL_MOVING = 0.5


def still_span(longest: float) -> float:
    """How long a value must stay the same to be unusual, when the longest it stayed the
    same before is ``longest``."""
    return max(STILL_MIN, STILL_FACTOR * longest)

#: An anomaly is over after its cooldown and at least this many normal samples (so
#: that one sample an hour does not end it at the first normal one).
CALM_SAMPLES = 3
#: ... and a level (an hour's mean, judged once an hour) after as many hours: an hour back
#: within normal between two far above it is one busy spell, not two.
LEVEL_CALM = CALM_SAMPLES * SLOT_SECONDS
#: After an anomaly, another on the same side must go beyond its peak for this long ...
REARM = 3 * 86400.0
#: ... and after a level, its mean by this share of how far that went beyond the usual
#: means again (a ramp's next hour is a little higher each time: one slope, not a page an
#: hour).
LEVEL_REARM_SHARE = 0.5
#: A drift is judged once a day: its alert holds until the next day's judgement, and on
#: while the daily mean goes on moving its way.
DRIFT_HOLD = 86400.0
#: Drift: the daily mean moved the same way on each of this many days in a row ...
DRIFT_DAYS = 7
#: ... by more in all than this share of the recent range's width.
DRIFT_SHARE = 0.5
#: A stretch (the last ``STRETCH_HOURS`` hours far below the same hours of each of the
#: last ``STRETCH_DAYS`` days: a holiday, traffic lost to an outage; or far above them in
#: a bursty metric: a surge its bursts hide) counts in a metric whose days repeat: those
#: days' means within this share of their level (a wandering metric's days tell little of
#: each other) ...
STRETCH_REGULAR = 0.25
#: ... when it is beyond them by more than this many times the sensitivity's share of
#: their range (and beyond the odd day's stretch, by a slack), and by this many times
#: ``min_deviation`` ...
STRETCH_FACTOR = 2.0
STRETCH_LEAST = 2.0
#: ... once this many days are known of how far such stretches go; at most once a day.
STRETCH_MIN_DAYS = 14
STRETCH_EVERY = 86400.0
#: A surge (a stretch above) is looked for where the hour that ended brought at least this
#: many samples: where one sample is the hour, bursts last hours, and so does a surge.
SURGE_SAMPLES = 2
#: For this long after an anomaly above (below), an hour's mean that stays within its
#: peak is its aftermath, not a new level: one event, one alert.
AFTERMATH = 6 * 3600.0
#: A value or level found in a metric learned for less than this says for how long: the
#: odd day it must go beyond is still one of few days, so its false alerts come a few times
#: as often as a known metric's (they fall to about one day in thirty after four weeks).
YOUNG = 28 * 86400.0
#: A metric whose odd day goes more than this many band widths above its band is bursty
#: (counts of events): a burst in it is an anomaly once a second sample confirms it ...
BURSTY_EXCESS = 1.0
#: ... going this share of the margin beyond the band too ...
CONFIRM_SHARE = 0.25
#: ... if it comes this soon (a slower one is an aggregate already: it alerts at once).
CONFIRM_STEP = 600.0


def bursty(band: Band) -> bool:
    """The metric's odd day bursts far above its band (``BURSTY_EXCESS``): one burst is
    no anomaly, nor is the busy hour it makes."""
    return band.over > BURSTY_EXCESS
