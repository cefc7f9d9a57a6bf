"""The settings of a forecast: the ``forecast:`` block of a metric's thresholds.

``limit`` and the way towards it, how soon is too soon (``horizon``, ``crit_horizon``)
and the trend windows that judge it; ``default_forecast`` is what a kind turns on for a
metric that fills up. Unknown keys are errors.
"""

from __future__ import annotations

import enum
import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

from agent.durations import Duration, read_duration
from agent.model import Status
from agent.units import parse_percent, parse_size

DAY = 86400.0
HOUR = 3600.0
#: A window not given is its horizon divided by this (7 days: 2 days) ...
WINDOW_SHARE = 3.5
#: ... or, for the fast trend, by this (6 hours: 2 hours) ...
CRIT_WINDOW_SHARE = 3.0
#: ... and at most this long (a longer window is slow to see that a fill stopped).
MAX_WINDOW = 7 * DAY
#: The default limit of a metric that fills up (used percent of a disk, inodes, memory).
FULL = 100.0


class Heading(enum.Enum):
    """Which way the metric moves towards its limit: used space rises, free space falls."""

    RISING = "rising"
    FALLING = "falling"


def parse_limit(v: Any) -> Any:
    """A limit as written: ``100``, ``"95%"``, ``"500GiB"``; other types are left to pydantic."""
    if isinstance(v, str):
        text = v.strip()
        if text.endswith("%"):
            return parse_percent(text)
        try:
            return float(text)
        except ValueError:
            return parse_size(text)
    return v


def _optional_duration(v: Any) -> Any:
    """``crit_horizon: false`` (or 0, or null) turns the critical forecast off."""
    if v is None or v is False:
        return None
    seconds = read_duration(v)
    return seconds or None


class ForecastSettings(BaseModel):
    """The ``forecast:`` block of a metric: the limit, how soon is too soon, the trend windows.

    ``limit`` is in the metric's unit (``100``, ``95%``, ``500GiB``); ``direction`` is
    ``rising`` (default: used space, queue length) or ``falling`` (free space towards a
    floor). ``horizon`` (default 7d) is how far ahead the slow trend, taken over ``window``
    (default horizon / 3.5, so 2d; at least 1h), alerts at ``severity`` (warning);
    ``crit_horizon`` (default 6h; ``false`` turns it off) is how far ahead the fast trend,
    over ``crit_window`` (default crit_horizon / 3, so 2h; at least 1h), alerts critical.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Annotated[float, BeforeValidator(parse_limit)]
    direction: Heading = Heading.RISING
    horizon: Duration = 7 * DAY
    window: Duration = 2 * DAY
    severity: Status = Status.WARNING
    crit_horizon: Annotated[float | None, BeforeValidator(_optional_duration)] = 6 * HOUR
    crit_window: Duration = 2 * HOUR

    @model_validator(mode="before")
    @classmethod
    def _windows_follow_horizons(cls, data: Any) -> Any:
        """A window not given is its horizon / 3.5 (the slow one) or / 3 (the fast one),
        at least 1h: ``horizon: 12h`` looks at the last 3.4 hours, not two days."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for window, horizon, share in (("window", "horizon", WINDOW_SHARE),
                                       ("crit_window", "crit_horizon", CRIT_WINDOW_SHARE)):
            if window in data or data.get(horizon) in (None, False):
                continue
            try:
                seconds = read_duration(data[horizon])
            except (ValueError, TypeError, OverflowError):
                continue  # the horizon's own check says what is wrong with it
            if seconds > 0:
                data[window] = min(max(seconds / share, HOUR), MAX_WINDOW)
        return data

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
        if self.window < HOUR:
            raise ValueError("window must be at least 1h")
        if self.crit_window < HOUR:
            raise ValueError("crit_window must be at least 1h")
        if self.severity not in (Status.WARNING, Status.CRITICAL):
            raise ValueError("severity must be warning or critical")
        return self


def default_forecast(limit: float = FULL, **changes: Any) -> ForecastSettings:
    """The forecast a kind turns on by default for a metric that fills up towards ``limit``."""
    return ForecastSettings.model_validate({"limit": limit, **changes})
