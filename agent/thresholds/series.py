"""Every threshold of one metric series at once: static limits, learned normal, forecast.

The agent's pipeline and the replay tool judge samples through this one class, so a
replayed trace gets exactly the verdicts the running agent would have given::

    judge = SeriesJudge("used_percent", rule=rule, adaptive=AdaptiveSettings(),
                        forecast=ForecastSettings(limit=100))
    finding = judge.judge(key, now, value, previous_alert_state)

Static limits always apply (from the first sample on, warm-up or not); the learned
threshold and the forecast add their own verdicts. The combined finding is the worst of
them; on a tie the static limit speaks first, then the forecast, then the learned range.
"""

from __future__ import annotations

import logging
import math
import struct

from agent.alerting.state import AlertState
from agent.model import AlertKey, Finding, Sample
from agent.thresholds.adaptive import (
    NORMAL,
    PROBLEM_CODES,
    AdaptiveSettings,
    AdaptiveState,
)
from agent.thresholds.forecast import (
    Forecaster,
    ForecastSettings,
    forecast_finding,
    judge_forecast,
)
from agent.thresholds.rules import ThresholdRule
from agent.thresholds.static import evaluate

_log = logging.getLogger(__name__)
_MAGIC = b"WKS1"
_LEN = struct.Struct("<I")


def worst_finding(findings: list[Finding]) -> Finding:
    """The worst of several findings of one alert key; on a tie, the first listed wins."""
    best = findings[0]
    for f in findings[1:]:
        if f.status.rank > best.status.rank:
            best = f
    return best


class SeriesJudge:
    """The thresholds of one metric series and what they learned.

    ``observe(t, value)`` learns a sample and says cheaply whether anything objects;
    ``finding(...)`` then words the combined verdict (call it for every sample the alert
    machine must see: problems, and all samples while an alert is pending or firing).
    ``utc_offset`` fixes the zone of learned hours (None: the host's local time).
    """

    __slots__ = ("_code", "_limits", "_static", "adaptive", "forecast", "metric", "rule")

    def __init__(self, metric: str, rule: ThresholdRule | None = None,
                 adaptive: AdaptiveSettings | None = None,
                 forecast: ForecastSettings | None = None,
                 utc_offset: float | None = None) -> None:
        self.metric = metric
        self.rule = rule
        # A rule without limits has no static verdict of its own (learned ones only).
        self._static = rule if rule is not None and (rule.warn or rule.crit) else None
        # Its limits as (test, limit), looked up once: ``observe`` runs on every sample.
        static = self._static
        self._limits = () if static is None else tuple(
            (c.op.func, c.limit) for c in (static.crit, static.warn) if c is not None)
        self.adaptive = (AdaptiveState(adaptive, metric, utc_offset)
                         if adaptive is not None else None)
        self.forecast = Forecaster(forecast) if forecast is not None else None
        self._code = NORMAL

    def observe(self, t: float, value: float) -> bool:
        """Learn one sample at epoch time ``t``; True when some threshold finds a problem."""
        problem = False
        if self.adaptive is not None:
            self._code = self.adaptive.observe(t, value)
            problem = self._code in PROBLEM_CODES
        if self.forecast is not None:
            judge_forecast(self.forecast, t, value)
            problem = problem or self.forecast.firing
        if problem or not self._limits:
            return problem
        if not math.isfinite(value):  # static says UNKNOWN
            return True
        for holds, limit in self._limits:  # noqa: SIM110 - a generator costs more here
            if holds(value, limit):
                return True
        return False

    def finding(self, key: AlertKey, t: float, value: float,
                previous: AlertState | None = None) -> Finding:
        """The combined verdict on the sample last given to ``observe``.

        ``previous`` is the alert's current state (the static ``recover`` level holds a
        firing alert until it is reached).
        """
        found: list[Finding] = []
        if self._static is not None:
            found.append(evaluate(self._static, Sample(self.metric, value, key.labels), key,
                                  previous))
        if self.forecast is not None:
            found.append(forecast_finding(self.forecast, key, value, self.metric))
        if self.adaptive is not None:
            found.append(self.adaptive.finding(key, self._code, t, value))
        if not found:
            raise ValueError(f"no threshold is configured for {self.metric}")
        return worst_finding(found)

    def judge(self, key: AlertKey, t: float, value: float,
              previous: AlertState | None = None) -> Finding:
        """``observe`` and ``finding`` in one call: the per-sample entry of the pipeline."""
        self.observe(t, value)
        return self.finding(key, t, value, previous)

    # -- persistence of what was learned ---------------------------------------------------

    def to_bytes(self) -> bytes:
        """The learned state (baseline and trend) as bytes; b"" when nothing is learned."""
        if self.adaptive is None and self.forecast is None:
            return b""
        parts = [self.adaptive.to_bytes() if self.adaptive is not None else b"",
                 self.forecast.to_bytes() if self.forecast is not None else b""]
        return _MAGIC + b"".join(_LEN.pack(len(p)) + p for p in parts)

    def restore(self, data: bytes) -> bool:
        """Take back learned state from ``to_bytes``; False (and start afresh) if unusable.

        Stored state that no longer fits the configuration (a forecast window changed, a
        corrupt row) is dropped rather than trusted: learning again is the safe side.
        """
        if not data.startswith(_MAGIC):
            return False
        try:
            parts = []
            pos = len(_MAGIC)
            for _ in range(2):
                (size,) = _LEN.unpack_from(data, pos)
                parts.append(data[pos + 4:pos + 4 + size])
                pos += 4 + size
            adaptive = forecast = None
            if self.adaptive is not None and parts[0]:
                adaptive = AdaptiveState.from_bytes(parts[0], self.adaptive.settings,
                                                    self.metric, self.adaptive.utc_offset)
            if self.forecast is not None and parts[1]:
                forecast = Forecaster.from_bytes(parts[1], self.forecast.settings)
        except (ValueError, struct.error) as exc:
            # An older format (the engine learns more now) or a corrupt row.
            _log.info("learned state of %s not restored (%s); learning it again",
                      self.metric, exc)
            return False
        self.adaptive = adaptive or self.adaptive
        self.forecast = forecast or self.forecast
        return True
