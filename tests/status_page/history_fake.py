"""A history held in memory, answering the status page's questions from a few facts."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class FakeHistory:
    """Per check: the uptime of each span (by its length in seconds), the daily fractions
    (oldest first) and the response times; what is not given is "no data"."""

    uptimes: dict[str, dict[float, float]] = field(default_factory=dict)
    days: dict[str, Sequence[float | None]] = field(default_factory=dict)
    response: dict[str, Sequence[float | None]] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def uptime(self, check: str, since: float, until: float) -> float | None:
        self.asked.append(("uptime", check))
        return self.uptimes.get(check, {}).get(round(until - since))

    def daily_up(self, check: str, days: int, until: float,
                 tz: datetime.tzinfo) -> list[float | None]:
        self.asked.append(("daily_up", check))
        known = list(self.days.get(check, ()))[-days:]
        return [None] * (days - len(known)) + known

    def response_ms(self, check: str, since: float, until: float,
                    points: int) -> list[float | None]:
        self.asked.append(("response_ms", check))
        known = list(self.response.get(check, ()))[-points:]
        return [None] * (points - len(known)) + known
