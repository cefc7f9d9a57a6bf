"""The one pydantic type for a duration in the config: ``30s``, ``5m``, ``1h30m`` or seconds.

Every model that takes a duration (the config sections, the learned-threshold settings,
the check kinds' options) annotates it with ``Duration`` or ``PositiveDuration``, so all
of them read the same spellings and say the same words when one is wrong. It lives
outside ``agent.config`` so that ``agent.thresholds`` can use it without importing the
loader (which imports ``agent.thresholds``).

A duration is at most ``MAX_DURATION`` (ten years): longer is out of range, checked
before a number is converted (``float`` of a 310-digit integer overflows) and after
(``"999...9s"`` reads as infinity), so no timer, date or sum downstream can overflow.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from agent.units import format_duration, parse_duration

#: The longest duration the config takes, in seconds (3650d).
MAX_DURATION = 3650 * 86400.0


def read_duration(value: Any) -> float:
    """``parse_duration`` within 0..``MAX_DURATION``; raises ValueError in a user's words."""
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_DURATION:
        raise ValueError(out_of_range(value))
    seconds = parse_duration(value)
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError(out_of_range(value))
    return seconds


def out_of_range(value: object) -> str:
    """The message for a duration longer than ``MAX_DURATION``."""
    text = str(value)
    shown = text if len(text) <= 24 else f"{text[:12]}... ({len(text):,} characters)"
    return f"the duration {shown} is out of range (at most {format_duration(MAX_DURATION)})"


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


#: A duration of zero or more seconds, as a float.
Duration = Annotated[float, BeforeValidator(read_duration)]
#: A duration longer than zero (intervals, timeouts).
PositiveDuration = Annotated[float, BeforeValidator(read_duration), AfterValidator(_positive)]

__all__ = ["MAX_DURATION", "Duration", "PositiveDuration", "out_of_range", "read_duration"]
