"""Forecasts: when will this metric reach its limit? ("/var will be full in about 7 hours")

Configured per metric::

    thresholds:
      used_percent:
        forecast: {limit: 100, horizon: 12h, window: 6h}

Algorithm: samples are averaged into 24 buckets per ``window`` (6h: 15-minute buckets) and
the last day of buckets is kept (at most 600 numbers). At each full bucket:

* the trend is the Theil-Sen slope of the last ``window`` of bucket means (the median of
  the pairwise slopes: one odd bucket cannot tilt it), and the level is the robust line's
  value now;
* saw-tooth guard: if the metric fell back in the last day (and a window) by more than
  the trend would move it over one ``window`` (log rotation, a cache purge), the rise is
  a cycle, not a fill; the trend is then the change since the same time yesterday, about
  zero for a daily cycle;
* ``hours_to_full = (limit - level) / slope`` when the trend heads for the limit in the
  configured ``direction`` (``rising`` by default; ``falling`` for free space sinking to a
  floor); 0 when the level is there already; None when the trend heads away, or while
  less than half a window is known.

On the first day no cycle can be seen yet, so a steady rise is taken at its word; the
state persists (``to_bytes``), so that happens once in a metric's life, not per restart.

The verdict is a problem (``severity``, default warning) when ``hours_to_full`` is at most
``horizon``, and stays one until the forecast is beyond 1.5 x horizon again.
"""

from __future__ import annotations

import enum
import math
import struct
from array import array
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

from agent.durations import Duration
from agent.model import AlertKey, Finding, Status
from agent.units import format_duration, format_value, parse_percent, parse_size

BUCKETS_PER_WINDOW = 24
#: Buckets averaged at each end of the day-over-day comparison of the saw-tooth guard.
_NET_BUCKETS = 3
DAY = 86400.0
#: A firing forecast resolves once it is beyond this many horizons again (hysteresis).
RESOLVE_FACTOR = 1.5
_FORMAT = 1
_HEAD = struct.Struct("<BddqdddBI")


class Heading(enum.Enum):
    """Which way the metric moves towards its limit: used space rises, free space falls."""

    RISING = "rising"
    FALLING = "falling"


def _limit(v: Any) -> Any:
    if isinstance(v, str):
        text = v.strip()
        if text.endswith("%"):
            return parse_percent(text)
        try:
            return float(text)
        except ValueError:
            return parse_size(text)
    return v


class ForecastSettings(BaseModel):
    """The ``forecast:`` block of a metric: the limit, how soon is too soon, the trend window.

    ``limit`` is in the metric's unit (``100``, ``95%``, ``500GiB``); ``direction`` is
    ``rising`` (default: used space, queue length) or ``falling`` (free space towards a
    floor); ``horizon`` (default 12h) is how far ahead a forecast alerts; ``window``
    (default 6h, at least 1h) is how much recent history the trend is taken over.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Annotated[float, BeforeValidator(_limit)]
    direction: Heading = Heading.RISING
    horizon: Duration = 12 * 3600.0
    window: Duration = 6 * 3600.0
    severity: Status = Status.WARNING

    @field_validator("severity", "direction", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _sane(self) -> ForecastSettings:
        if not math.isfinite(self.limit):
            raise ValueError("limit must be a finite number")
        if self.horizon <= 0:
            raise ValueError("horizon must be longer than 0s")
        if self.window < 3600:
            raise ValueError("window must be at least 1h")
        if self.severity not in (Status.WARNING, Status.CRITICAL):
            raise ValueError("severity must be warning or critical")
        return self


def theil_sen(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Median pairwise slope and the median intercept: a line one outlier cannot tilt."""
    slopes = sorted((ys[j] - ys[i]) / (xs[j] - xs[i])
                    for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i])
    if not slopes:
        return 0.0, ys[-1]
    slope = _median(slopes)
    return slope, _median(sorted(y - slope * x for x, y in zip(xs, ys, strict=True)))


def _median(v: list[float]) -> float:
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class Forecaster:
    """The trend state of one metric. ``add(t, value)`` per sample; read the result fields.

    After each full bucket: ``hours_to_full`` (None when the limit is not being approached),
    ``slope`` (per hour), ``level`` and ``cyclic`` (the saw-tooth guard took the day's net
    change as the trend).
    """

    __slots__ = ("_idx", "_mean", "_slots", "bucket", "cur_idx", "cur_n", "cur_sum",
                 "cyclic", "firing", "hours_to_full", "level", "settings", "slope")

    def __init__(self, settings: ForecastSettings) -> None:
        self.settings = settings
        self.bucket = settings.window / BUCKETS_PER_WINDOW
        self._slots = math.ceil(DAY / self.bucket) + BUCKETS_PER_WINDOW + 1
        self._idx = array("q", [-1]) * self._slots
        self._mean = array("d", [0.0]) * self._slots
        self.cur_idx = -1
        self.cur_sum = 0.0
        self.cur_n = 0
        self.hours_to_full: float | None = None
        self.slope = math.nan
        self.level = math.nan
        self.cyclic = False
        self.firing = False

    def add(self, t: float, value: float) -> None:
        """Learn one sample; non-finite values are ignored."""
        if not math.isfinite(value) or not math.isfinite(t):
            return
        idx = int(t // self.bucket)
        if idx != self.cur_idx:
            self._close(idx)
        self.cur_sum += value
        self.cur_n += 1

    def flush(self) -> None:
        """Count the bucket in progress as full (end of data): forecast from all of it."""
        if self.cur_n:
            self._close(self.cur_idx + 1)

    def _close(self, idx: int) -> None:
        if self.cur_n:
            i = self.cur_idx % self._slots
            self._idx[i], self._mean[i] = self.cur_idx, self.cur_sum / self.cur_n
        if idx < self.cur_idx:  # the clock went back: the old trend means nothing now
            self._idx = array("q", [-1]) * self._slots
        self.cur_idx, self.cur_sum, self.cur_n = idx, 0.0, 0
        self._update(idx)

    def _known(self, start: int, stop: int) -> tuple[list[float], list[float]]:
        xs: list[float] = []
        ys: list[float] = []
        for k in range(max(start, stop - self._slots + 1), stop):
            i = k % self._slots
            if self._idx[i] == k:
                xs.append(k * self.bucket / 3600.0)
                ys.append(self._mean[i])
        return xs, ys

    def _update(self, idx: int) -> None:
        """Recompute the forecast from the full buckets before ``idx``."""
        xs, ys = self._known(idx - BUCKETS_PER_WINDOW, idx)
        self.hours_to_full = None
        if len(xs) < BUCKETS_PER_WINDOW // 2:
            self.slope = self.level = math.nan
            return
        slope, intercept = theil_sen(xs, ys)
        now_h = idx * self.bucket / 3600.0
        level = intercept + slope * now_h
        per_day = round(DAY / self.bucket)
        _, recent = self._known(idx - per_day - BUCKETS_PER_WINDOW, idx)
        if self.settings.direction is Heading.FALLING:
            recent = [-y for y in recent]  # its saw-tooth jumps up: free space comes back
        self.cyclic = _largest_fall(recent) > abs(slope) * self.settings.window / 3600.0
        if self.cyclic:
            # A saw-tooth: the trend is the change since the same time yesterday.
            _, now_y = self._known(idx - _NET_BUCKETS, idx)
            _, then_y = self._known(idx - per_day - _NET_BUCKETS, idx - per_day)
            slope = 0.0
            if now_y and then_y:
                slope = (sum(now_y) / len(now_y) - sum(then_y) / len(then_y)) / 24.0
        self.slope, self.level = slope, level
        gap = self.settings.limit - level
        if self.settings.direction is Heading.FALLING:
            gap, slope = -gap, -slope
        if gap <= 0:
            self.hours_to_full = 0.0  # there already
        elif slope > 0:
            self.hours_to_full = gap / slope

    def to_bytes(self) -> bytes:
        """The trend state as compact bytes (settings excluded)."""
        hours = math.nan if self.hours_to_full is None else self.hours_to_full
        head = _HEAD.pack(_FORMAT, self.bucket, self.cur_sum, self.cur_idx, self.slope,
                          self.level, hours, self.cyclic | (self.firing << 1), self.cur_n)
        return head + self._idx.tobytes() + self._mean.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, settings: ForecastSettings) -> Forecaster:
        """Restore ``to_bytes`` output for the same settings; ValueError otherwise."""
        self = cls(settings)
        if len(data) != _HEAD.size + self._slots * 16 or data[0] != _FORMAT:
            raise ValueError("stored forecast state has an unknown format or other settings")
        (_, bucket, cur_sum, cur_idx, slope, level, hours, flags,
         cur_n) = _HEAD.unpack_from(data)
        if bucket != self.bucket:
            raise ValueError("stored forecast state was made with another window")
        off = _HEAD.size
        self._idx = array("q", data[off:off + self._slots * 8])
        self._mean = array("d", data[off + self._slots * 8:])
        self.cur_sum, self.cur_idx, self.cur_n = cur_sum, cur_idx, cur_n
        self.slope, self.level = slope, level
        self.hours_to_full = None if math.isnan(hours) else hours
        self.cyclic, self.firing = bool(flags & 1), bool(flags & 2)
        return self


def _largest_fall(ys: list[float]) -> float:
    """The largest drop from an earlier high to a later low (0 for a rising series)."""
    top, fall = -math.inf, 0.0
    for y in ys:
        top = max(top, y)
        fall = max(fall, top - y)
    return fall


def hours_to_full(samples: list[tuple[float, float]], settings: ForecastSettings) -> float | None:
    """Hours until ``settings.limit`` from ``(epoch seconds, value)`` samples, or None."""
    f = Forecaster(settings)
    for t, v in samples:
        f.add(t, v)
    f.flush()
    return f.hours_to_full


def judge_forecast(state: Forecaster, t: float, value: float, metric: str = "value",
                   key: AlertKey | None = None) -> tuple[Forecaster, Finding | None]:
    """Learn one sample and judge the forecast; a Finding when ``key`` is given.

    Problem (the settings' severity) when the limit will be reached within ``horizon``;
    a firing forecast stays a problem until it is beyond 1.5 x horizon again.
    """
    state.add(t, value)
    hours = state.hours_to_full
    horizon = state.settings.horizon / 3600.0
    if hours is None:
        state.firing = False
    elif state.firing:
        state.firing = hours <= horizon * RESOLVE_FACTOR
    else:
        state.firing = hours <= horizon
    if key is None:
        return state, None
    return state, forecast_finding(state, key, value, metric)


def forecast_finding(state: Forecaster, key: AlertKey, value: float, metric: str) -> Finding:
    """The Finding of a forecaster that has already seen this sample (via judge_forecast)."""
    status = state.settings.severity if state.firing else Status.OK
    return Finding(key, status, explain(state, metric), value,
                   f"limit {format_value(metric, state.settings.limit)}")


def explain(state: Forecaster, metric: str) -> str:
    """``used_percent will reach 100% in about 7h (rising 4.2% per hour over the last 6h)``."""
    s = state.settings
    limit = format_value(metric, s.limit)
    hours = state.hours_to_full
    if hours is None:
        if math.isnan(state.slope):
            return f"{metric}: not enough history for a forecast yet"
        return f"{metric} is not heading for {limit}"
    rate = format_value(metric, abs(state.slope))
    way = "rising" if state.slope > 0 else "falling"
    over = ("since this time yesterday, after a drop" if state.cyclic
            else f"over the last {format_duration(s.window)}")
    when = "now" if hours <= 0 else f"in about {format_duration(hours * 3600)}"
    return f"{metric} will reach {limit} {when} ({way} {rate} per hour {over})"
