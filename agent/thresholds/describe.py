"""What a series' learned thresholds have learned, as plain values to show a person.

``describe(judge)`` reads a SeriesJudge (without changing it) and says: how far the
warm-up is, the normal range of the current hour and the alert limits around it, the
normal range by hour of the week (the band each of the coming 168 hours would get from
what is known now; only the hours with a daily or weekly profile), and the trend with the
hours until the forecast limit.

Hours and weekdays are those of the learned state's own zone (the agent's local time).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from agent.thresholds.adaptive import AdaptiveState
from agent.thresholds.baseline import DAY_SLOTS, MIN_SLOTS, SLOT_SECONDS, WEEK_SLOTS
from agent.thresholds.forecast import Forecaster, Heading
from agent.thresholds.series import SeriesJudge

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: 1970-01-01, day 0 of epoch hours, was a Thursday.
_EPOCH_WEEKDAY = 3


@dataclass(frozen=True, slots=True)
class Learning:
    """The warm-up of the learned range, in seconds: ``elapsed`` since the first sample
    (of the current stretch of data) of the ``needed`` before values are judged.

    ``needed`` is what the learned range really waits for, which may be more than the
    configured ``warmup``: a normal range needs ``MIN_SLOTS`` completed clock hours, and
    the warm-up is looked at when a clock hour begins.
    """

    elapsed: float
    needed: float
    warmup: float
    #: Warmed up: the learned range judges values.
    ready: bool

    @property
    def percent(self) -> int:
        """How far, 0 to 100 (100 only once ready)."""
        if self.ready:
            return 100
        if self.needed <= 0:
            return 99
        return min(99, int(100 * self.elapsed / self.needed))

    def as_dict(self) -> dict[str, Any]:
        return {"elapsed_seconds": round(self.elapsed, 1), "needed_seconds": self.needed,
                "warmup_seconds": self.warmup, "percent": self.percent, "ready": self.ready}


@dataclass(frozen=True, slots=True)
class NormalNow:
    """The normal range of the current hour, and the limits beyond which values alert."""

    #: ``Tue 14:00``: the hour this range is for (that of the latest sample).
    at: str
    lo: float
    hi: float
    #: A value below (above) this is unusual; None when that side never alerts.
    alert_below: float | None
    alert_above: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "lo": self.lo, "hi": self.hi,
                "alert_below": self.alert_below, "alert_above": self.alert_above}


@dataclass(frozen=True, slots=True)
class HourRange:
    """The normal range of one hour of the week (``weekday`` 0 is Monday)."""

    weekday: int
    hour: int
    lo: float
    hi: float

    @property
    def day(self) -> str:
        return DAY_NAMES[self.weekday]

    def as_dict(self) -> dict[str, Any]:
        return {"weekday": self.day, "hour": self.hour, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True, slots=True)
class Trend:
    """The forecast: slope per hour in the metric's unit and hours until ``limit``."""

    #: None while less than half a trend window is known.
    slope_per_hour: float | None
    level: float | None
    #: 0 when the limit is reached already; None when the trend does not head for it.
    hours_to_full: float | None
    limit: float
    heading: Heading
    horizon_hours: float
    #: The slope is the change since this time yesterday (a daily saw-tooth was seen).
    cyclic: bool
    #: The forecast verdict is a problem now.
    firing: bool

    def as_dict(self) -> dict[str, Any]:
        return {"slope_per_hour": self.slope_per_hour, "level": self.level,
                "hours_to_full": self.hours_to_full, "limit": self.limit,
                "direction": self.heading.value, "horizon_hours": self.horizon_hours,
                "cyclic": self.cyclic, "firing": self.firing}


@dataclass(frozen=True, slots=True)
class SeriesDescription:
    """Everything learned about one series. ``learning``/``trend`` are None when the rule
    has no ``adaptive``/``forecast`` block."""

    metric: str
    #: Epoch time of the latest sample learned (None before any). With a forecast alone,
    #: the start of the trend bucket it fell in (a 24th of the trend window before it).
    last_sample_at: float | None
    learning: Learning | None
    normal_now: NormalNow | None
    by_hour: tuple[HourRange, ...]
    trend: Trend | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "metric": self.metric,
            "last_sample_at": self.last_sample_at,
            "learning": self.learning.as_dict() if self.learning else None,
            "normal_now": self.normal_now.as_dict() if self.normal_now else None,
            "by_hour": [h.as_dict() for h in self.by_hour],
            "trend": self.trend.as_dict() if self.trend else None,
        }


def hour_of_week(hour: int) -> tuple[int, int]:
    """``(weekday, hour of day)`` of a count of (local) hours since the epoch."""
    day, hod = divmod(hour, DAY_SLOTS)
    return (day + _EPOCH_WEEKDAY) % 7, hod


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def describe_learning(state: AdaptiveState) -> Learning:
    """How far the warm-up is (it starts again after a gap longer than a week)."""
    warmup = state.settings.warmup
    first, last = state.first_t, state.last_t
    if math.isnan(first) or math.isnan(last):
        # Nothing seen yet: at best the first sample falls on the start of a clock hour.
        return Learning(0.0, max(warmup, MIN_SLOTS * SLOT_SECONDS), warmup, False)
    # Hours are those of the state's zone; with a whole-hour offset they are UTC's.
    offset = (state.utc_offset if state.utc_offset is not None
              else float(time.localtime(first).tm_gmtoff))
    first_hour = math.floor((first + offset) / SLOT_SECONDS)
    # The first clock hour that begins with MIN_SLOTS hours completed and the warm-up past.
    judged_from = max(first_hour + MIN_SLOTS,
                      math.ceil((first + warmup + offset) / SLOT_SECONDS))
    needed = judged_from * SLOT_SECONDS - offset - first
    return Learning(max(0.0, last - first), needed, warmup, state.ready)


def describe_normal(state: AdaptiveState) -> NormalNow | None:
    """The normal range of the current hour; None before there is one."""
    band = state.baseline.band
    if band is None or math.isnan(state.last_t):
        return None
    return NormalNow(state.when(state.last_t), band.lo, band.hi,
                     _finite(state.lower), _finite(state.upper))


def describe_hours(state: AdaptiveState) -> tuple[HourRange, ...]:
    """The normal range of each hour of the coming week that has a daily or weekly profile,
    from what is known now, ordered Monday 00:00 first."""
    base = state.baseline
    if not base.started:
        return ()
    rows = []
    for ahead in range(WEEK_SLOTS):
        hour = base.cur_hour + ahead
        band = base.band_at(hour)
        if band is not None and band.seasonal:
            weekday, hod = hour_of_week(hour)
            rows.append(HourRange(weekday, hod, band.lo, band.hi))
    rows.sort(key=lambda r: (r.weekday, r.hour))
    return tuple(rows)


def describe_trend(fc: Forecaster) -> Trend:
    """The forecaster's latest trend and time to its limit."""
    s = fc.settings
    return Trend(_finite(fc.slope), _finite(fc.level), fc.hours_to_full, s.limit,
                 s.direction, s.horizon / 3600.0, fc.cyclic, fc.firing)


def describe(judge: SeriesJudge) -> SeriesDescription:
    """What ``judge`` has learned; it is only read."""
    state, fc = judge.adaptive, judge.forecast
    last: float | None = None
    if state is not None and not math.isnan(state.last_t):
        last = state.last_t
    elif fc is not None and fc.cur_idx >= 0:
        last = fc.cur_idx * fc.bucket  # the start of the bucket in progress
    return SeriesDescription(
        metric=judge.metric,
        last_sample_at=last,
        learning=describe_learning(state) if state is not None else None,
        normal_now=describe_normal(state) if state is not None else None,
        by_hour=describe_hours(state) if state is not None else (),
        trend=describe_trend(fc) if fc is not None else None,
    )
