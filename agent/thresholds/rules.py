"""Threshold expressions (``"> 90"``, ``"< 5%"``, ``"< 1GiB"``, ``"> 26h"``) and rules.

A value's unit follows the metric's name (``agent.units.unit_of``): ``*_bytes`` takes
sizes, ``*_seconds`` / ``*_ms`` / ``*_hours`` / ``*_days_left`` take durations converted to
that unit, ``*_percent`` takes ``%``.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.alerting.policy import IMMEDIATE, Persistence
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings
from agent.units import Unit, parse_duration, parse_size, unit_of


class Op(enum.Enum):
    """A comparison operator of a threshold."""

    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    @property
    def func(self) -> Callable[[float, float], bool]:
        return _FUNCS[self]

    @property
    def opposite(self) -> Op:
        """The operator that holds exactly when this one does not."""
        return _OPPOSITE[self]


_FUNCS: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt, Op.GE: operator.ge, Op.LT: operator.lt, Op.LE: operator.le,
    Op.EQ: operator.eq, Op.NE: operator.ne,
}
_OPPOSITE = {Op.GT: Op.LE, Op.GE: Op.LT, Op.LT: Op.GE, Op.LE: Op.GT, Op.EQ: Op.NE,
             Op.NE: Op.EQ}

_EXPR = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*(-?[0-9.]+\s*[A-Za-z%]*)\s*$")


@dataclass(frozen=True, slots=True)
class Comparison:
    """``value <op> limit``; ``text`` is the expression as the user wrote it."""

    op: Op
    limit: float
    text: str

    def holds(self, value: float) -> bool:
        return self.op.func(value, self.limit)

    def __str__(self) -> str:
        return f"{self.op.value} {_fmt(self.limit)}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def parse_value(text: str, metric: str) -> float:
    """A number in the metric's unit: ``90``, ``85%``, ``1GiB``, ``26h``, ``500ms``."""
    t = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", t):
        return float(t)
    if t.endswith("%"):
        return float(t[:-1])
    unit = unit_of(metric)
    if unit is Unit.BYTES:
        return parse_size(t)
    if unit.seconds is not None:
        return parse_duration(t) / unit.seconds
    raise ValueError(f"cannot read {text!r} as a value of {metric} "
                     "(a plain number is always accepted)")


def parse_comparison(expr: str | int | float, metric: str,
                     default_op: Op = Op.GT) -> Comparison:
    """Parse ``"> 90"``, ``"<5%"``, ``">= 1GiB"`` or a bare number (meaning ``default_op``)."""
    if isinstance(expr, bool):
        raise ValueError(f"expected a threshold like \"> 90\", got {expr!r}")
    if isinstance(expr, int | float):
        return Comparison(default_op, float(expr), f"{default_op.value} {expr}")
    m = _EXPR.match(str(expr))
    if not m:
        raise ValueError(f"expected a threshold like \"> 90\" or \"< 5%\", got {expr!r}")
    op_text, value_text = m.groups()
    op = Op("==" if op_text == "=" else op_text) if op_text else default_op
    return Comparison(op, parse_value(value_text, metric), str(expr).strip())


def parse_persistence(value: str | int | float | None) -> Persistence:
    """``for: 5m`` (a duration) or ``for: 3`` (a number of consecutive samples)."""
    if value is None:
        return Persistence()
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 5m or a sample count like 3, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a sample count cannot be negative")
        return Persistence(samples=value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return Persistence(samples=int(text))
    if re.fullmatch(r"\d+\s*(x|samples?|times)", text):
        return Persistence(samples=int(re.match(r"\d+", text).group()))  # type: ignore[union-attr]
    return Persistence(seconds=parse_duration(text))


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """The static rule for one metric of one check.

    ``warn``/``crit`` say when the value is a problem. ``recover`` is the level the value
    must reach before a firing alert may resolve (hysteresis); without it the alert
    resolves as soon as neither ``warn`` nor ``crit`` holds. ``fire_after`` and
    ``recover_after`` are the ``for`` and ``recover_for`` persistences. ``adaptive`` adds a
    learned normal range and ``forecast`` a time-to-limit verdict beside the static limits.
    """

    metric: str
    warn: Comparison | None = None
    crit: Comparison | None = None
    recover: Comparison | None = None
    fire_after: Persistence = IMMEDIATE
    recover_after: Persistence = IMMEDIATE
    adaptive: AdaptiveSettings | None = None
    forecast: ForecastSettings | None = None

    @property
    def learns(self) -> bool:
        """True when the rule keeps learned state (a baseline or a trend)."""
        return self.adaptive is not None or self.forecast is not None
