"""The one pydantic type for a duration in the config: ``30s``, ``5m``, ``1h30m`` or seconds.

Every model that takes a duration (the config sections, the learned-threshold settings,
the check kinds' options) annotates it with ``Duration`` or ``PositiveDuration``, so all
of them read the same spellings and say the same words when one is wrong. It lives
outside ``agent.config`` so that ``agent.thresholds`` can use it without importing the
loader (which imports ``agent.thresholds``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from agent.units import parse_duration


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


#: A duration of zero or more seconds, as a float.
Duration = Annotated[float, BeforeValidator(parse_duration)]
#: A duration longer than zero (intervals, timeouts).
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]

__all__ = ["Duration", "PositiveDuration"]
