"""Replaying traces through the real thresholds and alert machine on a simulated clock."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import pytest

from agent.alerting.policy import Persistence, Policy
from agent.alerting.state import EventKind
from agent.model import Status
from agent.replay import (
    ReplayError,
    ReplayEvent,
    ReplaySettings,
    TimeParser,
    replay,
    replay_csv,
)
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings
from agent.thresholds.rules import Op, ThresholdRule, parse_comparison

START = 1_704_067_200  # 2024-01-01 00:00:00 UTC
STEP = 300


def stamp(i: int, step: int = STEP) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(START + i * step))


def flat_with_spike(days: int = 4, spike_at: int = 1000, seed: int = 1) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    rows = [(stamp(i), 50 + rng.gauss(0, 1)) for i in range(days * 288)]
    rows[spike_at] = (rows[spike_at][0], 400.0)
    return rows


def write_csv(path: Path, rows: list[tuple[str, float]], header: str = "timestamp,value") -> Path:
    path.write_text(header + "\n" + "".join(f"{t},{v}\n" for t, v in rows))
    return path


def kinds(events: list[ReplayEvent]) -> list[EventKind]:
    return [e.event for e in events]


def test_replay_of_a_csv_reports_one_alert_per_anomaly_at_the_row_as_written(
        tmp_path: Path) -> None:
    rows = flat_with_spike()
    rows = [(t.replace(" ", "T"), v) for t, v in rows]  # written another way: kept as is
    run = replay_csv(write_csv(tmp_path / "trace.csv", rows), metric="response_ms")
    events = list(run)
    assert kinds(events) == [EventKind.FIRING, EventKind.RESOLVED]
    fired = events[0]
    assert fired.at == rows[1000][0] == "2024-01-04T11:20:00"
    assert fired.row == 1001
    assert fired.severity is Status.WARNING
    assert fired.value == 400.0
    assert fired.why.startswith("response_ms 400ms is far above normal")
    assert "(usually " in fired.why
    s = run.summary
    assert (s.samples, s.alerts, s.events, s.skipped) == (len(rows), 1, 2, 0)
    assert (s.first_at, s.last_at) == (rows[0][0], rows[-1][0])
    assert s.alerts_per_day == pytest.approx(1 / s.days)


def test_replay_takes_adaptive_settings_alone() -> None:
    rows = flat_with_spike()
    quiet = list(replay(rows, AdaptiveSettings.model_validate({"warmup": "5d"})))
    assert quiet == []
    assert kinds(list(replay(rows, AdaptiveSettings()))) == [EventKind.FIRING,
                                                             EventKind.RESOLVED]


@pytest.mark.parametrize(("content", "message"), [
    ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,abc\n",
     "trace.csv:3: value 'abc' is not a number"),
    ("timestamp,value\n2024-01-01 00:00:00,1\n\n2024-13-01 00:05:00,2\n",
     "trace.csv:4: cannot read '2024-13-01' as a date"),
    ("timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n",
     "trace.csv:3: cannot read 'yesterday' as a time"),
    ("timestamp,value\n2024-01-01 00:00:00\n", "trace.csv:2: expected timestamp,value"),
    ("time,reading\n2024-01-01 00:00:00,1\n", "trace.csv:1: expected the header timestamp,value"),
    ("", "trace.csv: the file is empty"),
])
def test_a_bad_csv_is_a_clear_error_naming_the_line(tmp_path: Path, content: str,
                                                    message: str) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(content)
    with pytest.raises(ReplayError) as err:
        list(replay_csv(path))
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="cannot read"):
        list(replay_csv(tmp_path / "nope.csv"))
    path = tmp_path / "bin.csv"
    path.write_bytes(b"timestamp,value\n\xff\xfe\x00,1\n")
    with pytest.raises(ReplayError, match="not UTF-8"):
        list(replay_csv(path))


def test_rows_given_directly_name_the_bad_row() -> None:
    with pytest.raises(ReplayError, match="row 2: cannot read 'soon' as a time"):
        list(replay([("2024-01-01 00:00:00", 1.0), ("soon", 2.0)]))


@pytest.mark.parametrize("text", [
    "2024-01-01 00:05:00", "2024-01-01T00:05:00", "2024-01-01T00:05:00Z",
    "2024-01-01T02:05:00+02:00", "2024-01-01 00:05:00.000000", "1704067500", "1704067500.0",
])
def test_timestamps_in_common_forms(text: str) -> None:
    assert TimeParser()(text) == START + 300


def test_timestamps_read_again_and_again_stay_right_and_bad_ones_stay_errors() -> None:
    # Days and times of day are remembered; a day of one-second stamps is more than is
    # kept, and every one of them must still be read right.
    parse = TimeParser()
    for _ in range(2):
        for second in range(0, 86400, 7):
            h, m, s = second // 3600, second // 60 % 60, second % 60
            assert parse(f"2024-01-01 {h:02d}:{m:02d}:{s:02d}") == START + second
    for bad in ("2024-01-01 24:00:00", "2024-01-01 00:60:00", "2024-01-01 0a:00:00"):
        with pytest.raises(ValueError, match="cannot read"):
            parse(bad)
        with pytest.raises(ValueError, match="cannot read"):
            parse(bad)  # the second time, from what was remembered


def test_static_rule_applies_from_the_first_sample() -> None:
    rule = ThresholdRule("used_percent", warn=parse_comparison("> 80", "used_percent"),
                         crit=parse_comparison("> 90", "used_percent"))
    rows = [(stamp(i), v) for i, v in enumerate([50, 85, 95, 95, 70, 60])]
    events = list(replay(rows, ReplaySettings(rule=rule), metric="used_percent"))
    assert [(e.at, e.event, e.severity) for e in events] == [
        (stamp(1), EventKind.FIRING, Status.WARNING),
        (stamp(2), EventKind.ESCALATED, Status.CRITICAL),
        (stamp(4), EventKind.RESOLVED, Status.CRITICAL),
    ]
    assert events[1].why == "used_percent 95% > 90%"


def test_reminders_follow_the_policy() -> None:
    rule = ThresholdRule("value", crit=parse_comparison("> 90", "value"))
    rows = [(stamp(i), 95.0 if 10 <= i < 40 else 50.0) for i in range(60)]
    settings = ReplaySettings(adaptive=None, rule=rule,
                              policy=Policy(repeat_interval=3600.0))
    assert kinds(list(replay(rows, settings))) == [
        EventKind.FIRING, EventKind.REMINDER, EventKind.REMINDER, EventKind.RESOLVED]


def test_a_forecast_alerts_before_the_limit() -> None:
    rows = [(stamp(i, 60), 40 + 4 * i / 60) for i in range(60 * 12)]  # +4 an hour
    forecast = ForecastSettings.model_validate({"limit": 100, "horizon": "12h"})
    settings = ReplaySettings(adaptive=None, forecast=forecast)
    events = list(replay(rows, settings, metric="used_percent"))
    assert events and events[0].event is EventKind.FIRING
    assert events[0].why.startswith("used_percent will reach 100% in about")
    assert events[0].value < 70


def test_nan_rows_are_skipped_not_alerted() -> None:
    rows = flat_with_spike(spike_at=900)
    for i in (950, 951, 960):
        rows[i] = (rows[i][0], math.nan)
    run = replay(rows)
    assert kinds(list(run)) == [EventKind.FIRING, EventKind.RESOLVED]
    assert run.summary.skipped == 3


def test_a_nan_row_under_a_static_rule_is_unknown() -> None:
    rule = ThresholdRule("value", crit=parse_comparison("> 90", "value"))
    rows = [(stamp(0), 50.0), (stamp(1), math.nan), (stamp(2), 50.0)]
    events = list(replay(rows, ReplaySettings(adaptive=None, rule=rule)))
    assert [(e.event, e.severity) for e in events] == [
        (EventKind.FIRING, Status.UNKNOWN), (EventKind.RESOLVED, Status.UNKNOWN)]


def noisy_trace(seed: int) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    rows = []
    level = 50.0
    for i in range(6 * 288):
        if rng.random() < 0.002:
            level += rng.choice([-30.0, 40.0])
        v = level + rng.gauss(0, 2) + (rng.random() < 0.004) * rng.uniform(50, 200)
        rows.append((stamp(i), v))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skipping_quiet_samples_changes_no_event(seed: int) -> None:
    rule = ThresholdRule("value", warn=parse_comparison("> 150", "value"),
                         crit=parse_comparison("> 220", "value"),
                         recover=parse_comparison("< 120", "value", Op.LT),
                         fire_after=Persistence(samples=2),
                         recover_after=Persistence(seconds=900))
    rows = noisy_trace(seed)
    policy = Policy(fire_after=Persistence(samples=2), recover_after=Persistence(seconds=900),
                    repeat_interval=7200.0)
    fast = list(replay(rows, ReplaySettings(rule=rule, policy=policy)))
    exact = list(replay(rows, ReplaySettings(rule=rule, policy=policy, exact=True)))
    assert fast == exact
    assert len(fast) >= 4


def test_summary_of_an_empty_trace() -> None:
    run = replay([])
    assert list(run) == []
    assert (run.summary.samples, run.summary.alerts, run.summary.alerts_per_day) == (0, 0, 0.0)


def test_events_and_summary_read_well_in_a_terminal() -> None:
    run = replay(flat_with_spike(), metric="response_ms")
    lines = [e.as_text() for e in run]
    assert lines[0].startswith("2024-01-04 11:20:00  firing      warning   400ms     "
                               "response_ms 400ms is far")
    assert run.summary.as_text() == "1152 samples over 3d 23h: 1 alert (0.25 a day), " \
                                    "2 notifications"


def test_a_byte_order_mark_and_a_multi_line_field_keep_line_numbers_right(
        tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text('\ufefftimestamp,value\n2024-01-01 00:00:00,"1"\n2024-01-01 00:05:00,"2\n"\n'
                    "2024-01-01 00:10:00,x\n", encoding="utf-8")
    with pytest.raises(ReplayError, match=r"trace.csv:5: value 'x' is not a number"):
        list(replay_csv(path))
