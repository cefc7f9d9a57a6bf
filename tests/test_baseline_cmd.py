"""The words of ``watchkeeper baseline``: rates in the metric's unit, trends, odd cases."""

from __future__ import annotations

import pytest

from agent.cli.baseline_cmd import Shown, _rate, _trend, render
from agent.model import AlertKey
from agent.thresholds.describe import Trend
from agent.thresholds.forecast import Heading


@pytest.mark.parametrize(("metric", "slope", "text"), [
    ("used_percent", 0.8, "+0.8%/h"),
    ("used_percent", -0.25, "-0.25%/h"),
    ("response_ms", 12.0, "+12ms/h"),
    ("lag_seconds", 0.5, "+500ms/h"),
    ("free_bytes", -1.5 * 2**30, "-1.5 GiB/h"),
    ("queue_length", 3.0, "+3/h"),
    ("queue_length", 0.0, "+0/h"),
])
def test_rate_is_per_hour_in_the_metric_unit(metric: str, slope: float, text: str) -> None:
    assert _rate(metric, slope) == text


def _t(slope: float | None, hours: float | None, heading: Heading = Heading.RISING,
       cyclic: bool = False) -> Trend:
    return Trend(slope, 50.0, hours, 100.0, heading, 12.0, cyclic, False)


@pytest.mark.parametrize(("trend", "text"), [
    (_t(0.8, 7.0), "+0.8%/h, full in about 7h (limit 100%)"),
    (_t(0.8, 50.0), "+0.8%/h, full in about 2d 2h (limit 100%)"),
    (_t(-0.2, None), "-0.2%/h, not heading for the limit (limit 100%)"),
    (_t(0.1, 0.0), "+0.1%/h, at the limit now (limit 100%)"),
    (_t(None, None), "not enough history yet (limit 100%)"),
    (_t(-2.0, 3.0, Heading.FALLING), "-2%/h, at the limit in about 3h (limit 100%)"),
    (_t(0.3, 20.0, cyclic=True), "+0.3%/h day over day, full in about 20h (limit 100%)"),
])
def test_trend_in_words(trend: Trend, text: str) -> None:
    assert _trend("used_percent", trend) == text


def test_series_that_cannot_be_described_say_why() -> None:
    gone = Shown(AlertKey("h", "old", "x_ms"), configured=False)
    misfit = Shown(AlertKey("h", "api", "response_ms"), configured=True, restored=False)
    assert render([gone, misfit], now=0.0) == (
        "h/old/x_ms (no longer configured)\n\n"
        "h/api/response_ms\n"
        "  stored state does not fit the current settings; the agent learns afresh")
    assert render([], now=0.0, what=" for api").startswith("nothing learned yet for api (")
