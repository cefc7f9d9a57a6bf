"""The words of learned thresholds: what a verdict says of normal, for people.

``AdaptiveState`` gets these from ``AdaptiveWords``, and ``judge`` gives them as an
``AdaptiveVerdict``: the hour of the week a time falls
in, the usual range of the hour, and the ``why`` of each verdict code, e.g.
``response_ms 840 is far above normal for Tue 03:00 (usually 92-146 at 03:00)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent.model import AlertKey, Finding, Status
from agent.thresholds.adaptive_codes import (
    ABOVE,
    BELOW,
    DRIFT_DAYS,
    EPISODES,
    HELD,
    HIGHER,
    IGNORED,
    LEARNING,
    LOWER,
    PROBLEM_CODES,
    RISING,
    STILL,
    YOUNG,
    Code,
)
from agent.thresholds.adaptive_settings import AdaptiveSettings
from agent.thresholds.baseline import DAY_SLOTS, STRETCH_DAYS, Baseline
from agent.units import format_duration, format_range, format_value

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class AdaptiveWords:
    """The wording of an ``AdaptiveState``'s verdicts (a mixin: the state holds the data)."""

    __slots__ = ()
    # Kept by the state itself.
    metric: str
    settings: AdaptiveSettings
    baseline: Baseline
    ready: bool
    first_t: float
    last_bad_t: float
    episode: Code
    peak: float
    moved_t: float
    longest_still: float
    drift_from: float
    drift_to: float
    level: tuple[float, float, float]
    level_hours: int
    _offset: float

    def when(self, t: float, weekday: bool = True) -> str:
        """``Tue 14:00``: the hour of the week that ``t`` falls in (this state's zone);
        ``14:00`` without the weekday."""
        local = time.gmtime(t + self._offset)
        hour = f"{local.tm_hour:02d}:00"
        return f"{_DAYS[local.tm_wday]} {hour}" if weekday else hour

    def usual(self) -> str:
        """``120-180``: the normal range of the current hour (empty while learning)."""
        band = self.baseline.band
        if band is None:
            return ""
        return format_range(self.metric, band.lo, band.hi)

    def _young(self, t: float) -> str:
        """``; learned over 5d`` while the metric is young (``YOUNG``), else empty."""
        learned = t - self.first_t
        if not learned < YOUNG:  # NaN: nothing learned yet
            return ""
        return f"; learned over {format_duration(learned // 86400 * 86400 or learned)}"

    def _side(self, code: Code, t: float) -> str:
        """What made ``code`` (a problem code other than HELD) a problem, in words."""
        m = self.metric
        band = self.baseline.band
        young = self._young(t)
        if code in (HIGHER, LOWER):
            mean = format_value(m, self.level[0])
            usual = format_range(m, self.level[1], self.level[2])
            side = "above" if code == HIGHER else "below"
            if self.level_hours > 1:
                return (f"on a level far {side} normal: the last {self.level_hours} hours "
                        f"averaged {mean} (usually {usual} at these hours on the last "
                        f"{STRETCH_DAYS} days{young})")
            return (f"on a level far {side} normal: the last hour averaged {mean} "
                    f"(hourly means usually {usual}{young})")
        if code in (ABOVE, BELOW):
            side = "above" if code == ABOVE else "below"
            if band is not None and band.profile:
                at = self.when(t, weekday=band.profile > DAY_SLOTS)
                return (f"far {side} normal for {self.when(t)} "
                        f"(usually {self.usual()} at {at}{young})")
            where = f" for {self.when(t)}" if band is not None and band.seasonal else ""
            return f"far {side} normal{where} (usually {self.usual()}{young})"
        if code == STILL:
            still = format_duration(max(0.0, t - self.moved_t))
            before = (f"before, it stayed the same for at most "
                      f"{format_duration(self.longest_still)}" if self.longest_still
                      else "before, it changed at every sample")
            return f"unchanged for {still} ({before})"
        verb = "rose" if code == RISING else "fell"
        return (f"drifting: its daily mean {verb} on each of the last {DRIFT_DAYS} days, "
                f"from {format_value(m, self.drift_from)} to {format_value(m, self.drift_to)}")

    def explain(self, code: Code, t: float, value: float) -> str:
        """The ``why`` of a verdict code, in words."""
        m, shown = self.metric, format_value(self.metric, value)
        band = self.baseline.band
        if code == IGNORED:
            return f"{m} is not a number ({value}); not judged"
        if code == LEARNING or band is None or not self.ready:
            learned = 0.0 if self.first_t != self.first_t else max(0.0, t - self.first_t)
            return (f"{m} {shown}: learning what is normal "
                    f"({format_duration(learned)} of {format_duration(self.settings.warmup)})")
        if code in (HIGHER, LOWER):  # a level: its mean says it, not the sample
            return f"{m} is {self._side(code, t)}"
        if code in EPISODES:
            return f"{m} {shown} is {self._side(code, t)}"
        where = f" for {self.when(t)}" if band.seasonal else ""
        usual = f"(usually {self.usual()})"
        # Between the band and the limit is not unusual, but not the usual range either:
        # "no longer far" after an anomaly, "a little" where none came before.
        held = code == HELD and bool(self.episode)
        side = "above" if value > band.hi else "below"
        near = ("within normal" if band.lo <= value <= band.hi
                else f"no longer far {side} normal" if held else f"a little {side} normal")
        if held:
            ago = format_duration(t - self.last_bad_t)
            was = self._side(self.episode, self.last_bad_t)
            if self.episode in (ABOVE, BELOW):
                was += f", peak {format_value(m, self.peak)}"
            near = "back within normal" if near == "within normal" else near
            return f"{m} {shown} is {near}{where} {usual}, but {ago} ago was {was}"
        return f"{m} {shown} is {near}{where} {usual}"

    def finding(self, key: AlertKey, code: Code, t: float, value: float) -> Finding:
        """The Finding of verdict ``code`` (from ``observe``) for alert ``key``."""
        status = self.settings.severity if code in PROBLEM_CODES else Status.OK
        usual = self.usual()
        return Finding(key, status, self.explain(code, t, value), value,
                       f"usual {usual}" if usual else None)


@dataclass(frozen=True, slots=True)
class AdaptiveVerdict:
    """What the learned threshold says of one sample. ``status`` OK also while learning."""

    status: Status
    why: str
    value: float
    code: Code
    #: The normal range of the hour (``120-180``), empty while learning.
    usual: str

    @property
    def is_problem(self) -> bool:
        return self.status.is_problem

    def finding(self, key: AlertKey) -> Finding:
        """This verdict as the Finding of alert ``key``."""
        return Finding(key, self.status, self.why, self.value,
                       f"usual {self.usual}" if self.usual else None)
