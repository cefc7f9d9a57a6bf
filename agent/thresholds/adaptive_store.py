"""The persistent form of an ``AdaptiveState``: what it learned and its current episode.

A fixed header of the state's own fields, then the compressed ``Baseline``. Settings are
configuration, not learned state, and are not stored. A row of another format is refused
(ValueError): what it learned is dropped and learned again, the safe side.
"""

from __future__ import annotations

import math
import struct
from typing import Protocol

from agent.thresholds.adaptive_codes import (
    EPISODES,
    HOURLY,
    NORMAL,
    Code,
    still_span,
)
from agent.thresholds.baseline import Baseline

_STATE = struct.Struct("<B23dbbIQQ?")
_STATE_FORMAT = 2
#: Format 3 adds, after the fields of format 2, a burst waiting for its confirmation and
#: the level that confirms it (a format 2 row has none waiting).
_BURST = struct.Struct("<2d")
_BURST_FORMAT = 3
#: Format 4 adds, after those, when a stretch was last found and the hours the level's
#: mean is of (a format 3 row found none: an hour).
_STRETCH = struct.Struct("<dB")
_STRETCH_FORMAT = 4
#: Format 5 adds, after those, the aftermath of the last anomaly (a format 4 row has none).
_AFTERMATH = struct.Struct("<3d")
_AFTERMATH_FORMAT = 5
#: Format 6 adds, after those, the least step the value moved by (a format 5 row knows
#: none: it is learned again from the next change) and whether the episode began with a
#: level (a format 5 row's did not: its hour back within normal ends it).
_STEP = struct.Struct("<d?")
_STEP_FORMAT = 6
#: The bytes each format has after the fixed header (before the baseline).
_FORMATS = {_STATE_FORMAT: 0, _BURST_FORMAT: _BURST.size,
            _STRETCH_FORMAT: _BURST.size + _STRETCH.size,
            _AFTERMATH_FORMAT: _BURST.size + _STRETCH.size + _AFTERMATH.size,
            _STEP_FORMAT: _BURST.size + _STRETCH.size + _AFTERMATH.size + _STEP.size}


class AdaptiveState(Protocol):
    """What is stored of an ``adaptive.AdaptiveState``."""

    baseline: Baseline
    band_prev: tuple[float, float]
    first_t: float
    last_t: float
    last_bad_t: float
    peak: float
    upper: float
    burst: float
    confirm_hi: float
    lower: float
    _offset: float
    last_value: float
    moved_t: float
    longest_still: float
    still_span: float
    least_step: float
    level_led: bool
    rearm_hi: float
    rearm_lo: float
    rearm_until: float
    drift_day: float
    drift_from: float
    drift_to: float
    level: tuple[float, float, float]
    level_hours: int
    stretch_t: float
    rearm_mean: tuple[float, float, float]
    aftermath: tuple[float, float, float]
    episode: Code
    pending: Code
    calm: int
    seen: int
    moves: int
    ready: bool


def _still_at(s: AdaptiveState) -> float:
    """When staying the same becomes unusual (inf before the value ever changed)."""
    return s.moved_t + s.still_span if s.moved_t == s.moved_t else math.inf


def pack_state(s: AdaptiveState) -> bytes:
    """The learned state and the current episode of ``s`` as compact bytes."""
    head = _STATE.pack(_STEP_FORMAT, s.first_t, s.last_t, s.last_bad_t, s.peak, s.upper,
                       s.lower, s._offset, s.last_value, s.moved_t, s.longest_still,
                       _still_at(s), s.rearm_hi, s.rearm_lo, s.rearm_until, s.drift_day,
                       s.drift_from, s.drift_to, *s.level, *s.rearm_mean, s.episode,
                       s.pending, min(s.calm, 2**31), s.seen, s.moves, s.ready)
    return (head + _BURST.pack(s.burst, s.confirm_hi)
            + _STRETCH.pack(s.stretch_t, min(s.level_hours, 255))
            + _AFTERMATH.pack(*s.aftermath) + _STEP.pack(s.least_step, s.level_led)
            + s.baseline.to_bytes())


def unpack_state(s: AdaptiveState, data: bytes, keep_offset: bool) -> None:
    """Restore ``pack_state`` output into the fresh state ``s``; ``keep_offset``: the
    stored UTC offset holds until the next hour (the state follows the host's zone).
    ValueError when the bytes are not such a state."""
    if not data or data[0] not in _FORMATS or len(data) < _STATE.size + _FORMATS[data[0]]:
        raise ValueError("stored adaptive state has an unknown format")
    (_, first_t, last_t, last_bad_t, peak, upper, lower, offset, last_value, moved_t,
     longest_still, _, rearm_hi, rearm_lo, rearm_until, drift_day, drift_from,
     drift_to, level_mean, level_lo, level_hi, rearm_mean_hi, rearm_mean_lo,
     rearm_mean_until, episode, pending, calm, seen, moves,
     ready) = _STATE.unpack_from(data)
    at = _STATE.size
    if data[0] >= _BURST_FORMAT:
        s.burst, s.confirm_hi = _BURST.unpack_from(data, at)
        at += _BURST.size
    if data[0] >= _STRETCH_FORMAT:
        s.stretch_t, s.level_hours = _STRETCH.unpack_from(data, at)
        s.level_hours = max(1, s.level_hours)
        at += _STRETCH.size
    if data[0] >= _AFTERMATH_FORMAT:
        s.aftermath = _AFTERMATH.unpack_from(data, at)
        at += _AFTERMATH.size
    if data[0] >= _STEP_FORMAT:
        s.least_step, s.level_led = _STEP.unpack_from(data, at)
        at += _STEP.size
    s.baseline = Baseline.from_bytes(data[at:])
    s.first_t, s.last_t, s.last_bad_t = first_t, last_t, last_bad_t
    s.peak, s.upper, s.lower = peak, upper, lower
    s.last_value, s.moved_t, s.longest_still = last_value, moved_t, longest_still
    # When staying the same becomes unusual follows from the longest it did (the stored
    # time is for the reader of an earlier version).
    s.still_span = still_span(longest_still)
    s.rearm_hi, s.rearm_lo, s.rearm_until = rearm_hi, rearm_lo, rearm_until
    s.drift_day, s.drift_from, s.drift_to = drift_day, drift_from, drift_to
    s.episode = Code(episode) if episode in EPISODES else NORMAL
    s.pending = Code(pending) if pending in HOURLY else NORMAL
    s.level = (level_mean, level_lo, level_hi)
    s.rearm_mean = (rearm_mean_hi, rearm_mean_lo, rearm_mean_until)
    s.calm, s.seen, s.moves, s.ready = calm, seen, moves, ready
    band = s.baseline.band
    s.band_prev = (band.lo, band.hi) if band is not None else (-math.inf, math.inf)
    if keep_offset:
        s._offset = offset  # refreshed at the next hour
