"""The words of ``watchkeeper baseline``: rates in the metric's unit, trends, odd cases."""

from __future__ import annotations

import pytest

from agent.cli.baseline_cmd import Shown, _rate, _trend, learning_text, render
from agent.model import AlertKey
from agent.thresholds.describe import Learning, Trend
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


M, H, D = 60.0, 3600.0, 86400.0


# The unit fits the whole warm-up; a short one says why it lasts 3 hours all the same.
@pytest.mark.parametrize(("learning", "text"), [
    (Learning(12 * M, 163 * M, 1 * M, False),
     "learning: 12 of 163 minutes (7%; warmup 1m, but a normal range needs 3 full hours of "
     "data)"),
    (Learning(0.0, 121 * M, 30 * M, False),
     "learning: 0 of 121 minutes (0%; warmup 30m, but a normal range needs 3 full hours of "
     "data)"),
    (Learning(59 * M, 180 * M, 3 * H, False), "learning: 59 of 180 minutes (32%)"),
    (Learning(14.2 * H, 24 * H, D, False), "learning: 14 of 24 hours (59%)"),
    (Learning(14.2 * H, 24 * H + 43 * M, D, False),
     "learning: 14 of 25 hours (57%; warmup 1d, then from the next full hour)"),
    (Learning(30 * H, 48 * H, 2 * D, False), "learning: 30 of 48 hours (62%)"),
    (Learning(2.56 * D, 7 * D, 7 * D, False), "learning: 2.5 of 7 days (36%)"),
    (Learning(0.5 * H, 7 * D + 43 * M, 7 * D, False),
     "learning: 0 of 7 days (0%; warmup 7d, then from the next full hour)"),
    (Learning(3 * D, 3 * D, 3 * D, False), "learning: 72 of 72 hours (99%)"),
], ids=["1m", "30m-late-in-the-hour", "3h", "1d", "1d-mid-hour", "2d", "7d", "7d-start",
        "done-waiting-for-the-hour"])
def test_warm_up_in_words_fits_every_warmup(learning: Learning, text: str) -> None:
    assert learning_text(learning) == text
