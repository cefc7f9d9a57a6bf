"""The settings of learned thresholds: the ``adaptive:`` block of a metric's thresholds.

``sensitivity`` (low / medium / high) sets how far beyond normal a value must be;
``direction`` which side is a problem; ``min_deviation`` the least deviation that counts
(a share of the level, or an amount in the metric's unit); ``warmup``, ``cooldown`` and
``severity`` the rest. Unknown keys are errors.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from agent.durations import Duration
from agent.model import Status


class Sensitivity(enum.Enum):
    """How far outside the normal range a value must be: low alerts least."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def margin_factor(self) -> float:
        """The margin beyond the normal range, as a share of the range's width."""
        return _FACTORS[self]

    @property
    def calibrate(self) -> float:
        """How much further than the odd day of the last weeks a value must go."""
        return _CALIBRATE[self]


_FACTORS = {Sensitivity.LOW: 0.5, Sensitivity.MEDIUM: 0.25, Sensitivity.HIGH: 0.125}
_CALIBRATE = {Sensitivity.LOW: 1.3, Sensitivity.MEDIUM: 1.0, Sensitivity.HIGH: 0.8}


class Direction(enum.Enum):
    """Which side of normal is a problem."""

    ABOVE = "above"
    BELOW = "below"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Deviation:
    """The least deviation that counts: a share of the level (relative) or an amount."""

    amount: float
    relative: bool

    def of(self, level: float) -> float:
        return self.amount * abs(level) if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


def _deviation(v: Any) -> Any:
    if isinstance(v, Deviation):
        return v
    if isinstance(v, bool):
        raise ValueError(f"expected a share like 10% or an amount like 5, got {v!r}")
    if isinstance(v, int | float):
        if v < 0 or not math.isfinite(v):
            raise ValueError(f"min_deviation must be a positive number, got {v}")
        return Deviation(float(v), relative=False)
    text = str(v).strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
            if share < 0 or not math.isfinite(share):
                raise ValueError
            return Deviation(share, relative=True)
        return _deviation(float(text))
    except ValueError:
        raise ValueError(f"expected a share like 10% or an amount like 5, got {v!r}") from None


class AdaptiveSettings(BaseModel):
    """The ``adaptive:`` block of a metric's thresholds. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    sensitivity: Sensitivity = Sensitivity.MEDIUM
    direction: Direction = Direction.BOTH
    min_deviation: Annotated[Deviation, BeforeValidator(_deviation)] = Deviation(0.10, True)
    warmup: Duration = 86400.0
    cooldown: Duration = 3600.0
    severity: Status = Status.WARNING

    @field_validator("sensitivity", "direction", "severity", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("severity")
    @classmethod
    def _problem(cls, v: Status) -> Status:
        if v not in (Status.WARNING, Status.CRITICAL):
            raise ValueError("must be warning or critical")
        return v
