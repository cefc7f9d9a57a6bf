"""One way to write a value: the unit from the metric's name, and the one spelling of it
in summaries, reasons, messages, the check table and replay output."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from agent.alerting.machine import step
from agent.alerting.policy import IMMEDIATE, Policy
from agent.alerting.state import AlertState, EventKind
from agent.cli import replay_cmd
from agent.cli.commands import render_check_table
from agent.cli.main import build_parser
from agent.clock import FakeClock
from agent.config import load_config
from agent.model import AlertKey, CheckResult, Sample, Status, make_labels, series_name
from agent.notify.message import render
from agent.replay import ReplayEvent, ReplaySettings, replay
from agent.runtime import Agent
from agent.thresholds.rules import ThresholdRule, parse_comparison, parse_value
from agent.thresholds.static import evaluate
from agent.units import (
    Unit,
    format_bytes,
    format_count,
    format_duration,
    format_number,
    format_pair,
    format_percent,
    format_range,
    format_value,
    parse_duration,
    parse_percent,
    parse_size,
    unit_of,
)
from checks.disk import DiskUsage

GIB = 2**30


@pytest.mark.parametrize(("metric", "unit"), [
    ("free_bytes", Unit.BYTES),
    ("database_size_bytes", Unit.BYTES),
    ("used_percent", Unit.PERCENT),
    ("inodes_used_percent", Unit.PERCENT),
    ("response_ms", Unit.MILLISECONDS),
    ("lag_p99_ms", Unit.MILLISECONDS),
    ("uptime_seconds", Unit.SECONDS),
    ("age_hours", Unit.HOURS),
    ("idle_minutes", Unit.MINUTES),
    ("cert_days_left", Unit.DAYS),
    ("check_last_run_timestamp_seconds", Unit.NONE),
    ("restarts", Unit.NONE),
    ("bytes", Unit.NONE),
    ("load1_per_core", Unit.NONE),
    ("value", Unit.NONE),
])
def test_the_unit_is_the_last_word_of_the_metric_name(metric: str, unit: Unit) -> None:
    assert unit_of(metric) is unit


@pytest.mark.parametrize(("metric", "text", "value"), [
    ("free_bytes", "1GiB", float(GIB)),
    ("response_ms", "1.5s", 1500.0),
    ("uptime_seconds", "2m", 120.0),
    ("age_hours", "2d", 48.0),
    ("cert_days_left", "14d", 14.0),
    ("used_percent", "85%", 85.0),
])
def test_threshold_values_are_read_in_the_unit_the_name_gives(metric: str, text: str,
                                                              value: float) -> None:
    assert parse_value(text, metric) == pytest.approx(value)


def test_a_unit_the_name_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot read '5m' as a value of restarts"):
        parse_value("5m", "restarts")


@pytest.mark.parametrize(("n", "noun", "plural", "text"), [
    (0, "check", "", "0 checks"),
    (1, "channel", "", "1 channel"),
    (2, "route", "", "2 routes"),
    (1, "process", "processes", "1 process"),
    (3, "process", "processes", "3 processes"),
])
def test_a_count_takes_the_plural_unless_it_is_one(n: int, noun: str, plural: str,
                                                   text: str) -> None:
    assert format_count(n, noun, plural) == text


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"),
    (-0.0, "0"),
    (90.0, "90"),
    (93.14159, "93.1"),
    (1532.0, "1532"),
    (1532.7, "1533"),
    (5368709120, "5368709120"),
    (999.6, "1000"),
    (0.001234, "0.00123"),
    (3.24e-05, "0.0000324"),
    (0.32799999999999996, "0.328"),
    (0.1 + 0.2, "0.3"),
    (0.1 + 0.2 - 0.3, "0"),
    (-2.5, "-2.5"),
    (-0.001, "-0.001"),
    (1e12, "1000000000000"),
    (9999999999999998.0, "9999999999999998"),
    (math.nan, "nan"),
    (math.inf, "inf"),
    (-math.inf, "-inf"),
])
def test_plain_numbers_have_three_significant_digits_and_no_exponent(value: float,
                                                                     text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (1e16, "1e16"),
    (1e21, "1e21"),
    (1e23, "1e23"),  # plain, it would read 99999999999999991611392
    (1.234e21, "1.23e21"),
    (9.996e20, "1e21"),
    (-4.567e100, "-4.57e100"),
    (1e308, "1e308"),
    (1.7976931348623157e308, "1.8e308"),
])
def test_numbers_from_1e16_up_keep_three_significant_digits_and_a_power_of_ten(
        value: float, text: str) -> None:
    """Past 1e16 a float's whole part has digits that are not its value's, and 1e308
    would be 309 of them: three significant digits and a power of ten instead."""
    assert format_number(value) == text


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("free_bytes", 1e308, "8.67e289 EiB"),
    ("used_percent", 1e308, "1e308%"),
    ("span_seconds", 1e301, "1.16e296d"),
    ("age_days", -1e300, "-1e300d"),
    ("uptime_seconds", 1e6 * 86400 + 3600, "1000000d 1h"),  # days counted below 1e16
])
def test_huge_values_of_every_unit_are_short(metric: str, value: float, text: str) -> None:
    assert format_value(metric, value) == text


def test_a_replay_spanning_an_absurd_time_says_so_in_a_few_characters() -> None:
    rows = [("0", 1.0), ("1e301", 2.0)]
    rep = replay(rows, ReplaySettings(adaptive=None, rule=RULE), "free_bytes")
    list(rep)
    assert "over 1.16e296d:" in rep.summary.as_text()
    assert len(rep.summary.as_text()) < 100


def test_huge_values_beside_their_limit_still_differ() -> None:
    assert format_pair("value", 1e20, 1.0001e20) == ("1e20", "1.0001e20")


@pytest.mark.parametrize(("value", "text"), [
    (0, "0 B"),
    (900, "900 B"),
    (1000, "1000 B"),
    (1024, "1 KiB"),
    (1536, "1.5 KiB"),
    (1023.99 * 1024, "1 MiB"),
    (512 * 2**20, "512 MiB"),
    (5368709120, "5 GiB"),
    (5.4e9, "5.03 GiB"),
    (5.37 * GIB, "5.37 GiB"),
    (3 * 2**40, "3 TiB"),
    (-1.5 * GIB, "-1.5 GiB"),
    (0.5, "0.5 B"),
    (math.nan, "nan"),
])
def test_sizes_are_binary_with_a_space_before_the_unit(value: float, text: str) -> None:
    assert format_bytes(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (0, "0%"),
    (93.14, "93.1%"),
    (100, "100%"),
    (0.05, "0.05%"),
    (0.01, "0.01%"),
    (3.24e-05, "<0.01%"),
    (0.004, "<0.01%"),
    (-0.004, ">-0.01%"),
    (-12.5, "-12.5%"),
    (250, "250%"),
    (123456.7, "123457%"),
    (math.inf, "inf"),
])
def test_percentages_tiny_and_huge_never_use_an_exponent(value: float, text: str) -> None:
    assert format_percent(value) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"),
    (0.0004, "0.4ms"),
    (0.245, "245ms"),
    (0.9996, "1s"),
    (1.532, "1.53s"),
    (12.34, "12.3s"),
    (45, "45s"),
    (59.97, "1m"),
    (60, "1m"),
    (134, "2m 14s"),
    (600, "10m"),
    (725, "12m"),
    (3600, "1h"),
    (3 * 3600 + 5 * 60 + 9, "3h 5m"),
    (2 * 86400 + 4 * 3600 + 59, "2d 4h"),
    (400 * 86400, "400d"),
    (-5, "-5s"),
    (-134, "-2m 14s"),
    (math.nan, "nan"),
    (-math.inf, "-inf"),
])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("free_bytes", 5368709120, "5 GiB"),
    ("used_percent", 93.14, "93.1%"),
    ("inodes_used_percent", 3.24e-05, "<0.01%"),
    ("response_ms", 245, "245ms"),
    ("response_ms", 1532, "1.53s"),
    ("response_ms", 62_000, "1m 2s"),
    ("replication_lag_seconds", -0.5, "-500ms"),
    ("uptime_seconds", 11_100, "3h 5m"),
    ("age_hours", 26.5, "1d 2h"),
    ("cert_days_left", 13.5, "13d 12h"),
    ("restarts", 1532, "1532"),
    ("value", 0.32799999999999996, "0.328"),
    ("value", 0, "0"),
])
def test_a_value_is_written_in_the_unit_its_metric_announces(metric: str, value: float,
                                                              text: str) -> None:
    assert format_value(metric, value) == text


@pytest.mark.parametrize(("text", "parse"), [
    (format_bytes(5.37 * GIB), parse_size),
    (format_duration(134), parse_duration),
    (format_duration(2 * 86400 + 4 * 3600), parse_duration),
    (format_duration(0.245), parse_duration),
    (format_percent(93.1), parse_percent),
])
def test_what_is_written_reads_back_as_config(text: str, parse: object) -> None:
    assert callable(parse)
    assert parse(text) > 0


@pytest.mark.parametrize(("metric", "value", "other", "texts"), [
    ("used_percent", 90.04, 90, ("90.04%", "90%")),
    ("used_percent", 93.1, 90, ("93.1%", "90%")),
    ("used_percent", 90, 90, ("90%", "90%")),
    ("free_bytes", 10 * GIB - 2**20, 10 * GIB, ("9.999 GiB", "10 GiB")),
    ("uptime_seconds", 3601, 3600, ("1h 0m 1s", "1h")),
])
def test_a_value_beside_its_limit_gets_the_digits_to_differ(metric: str, value: float,
                                                            other: float,
                                                            texts: tuple[str, str]) -> None:
    assert format_pair(metric, value, other) == texts


@pytest.mark.parametrize(("metric", "labels", "text"), [
    ("used_percent", {"mount": "/var"}, "used_percent{mount=/var}"),
    ("used_percent", {"mount": "/", "device": "sda1"}, "used_percent{device=sda1,mount=/}"),
    ("response_ms", {}, "response_ms"),
])
def test_a_series_is_written_one_way(metric: str, labels: dict[str, str], text: str) -> None:
    assert series_name(metric, make_labels(labels)) == text
    assert Sample(metric, 1.0, make_labels(labels)).series == text
    key = AlertKey("web1", "disk", metric, make_labels(labels))
    assert key.series == text and key.as_text() == f"web1/disk/{text}"


# -- one quantity, one spelling: 5 GiB free on /var, against "< 10GiB" -----------------

FREE = 5368709120.0
VAR = make_labels({"mount": "/var"})
KEY = AlertKey("web1", "disk", "free_bytes", VAR)
RULE = ThresholdRule("free_bytes", crit=parse_comparison("< 10GiB", "free_bytes"))


def test_the_disk_summary_writes_free_space_in_binary_units() -> None:
    usage = DiskUsage(used_percent=93.14, free_bytes=FREE, inodes_used_percent=3.24e-05)
    assert usage.text() == "93.1% used, 5 GiB free"


def test_the_reason_writes_value_and_limit_alike() -> None:
    finding = evaluate(RULE, Sample("free_bytes", FREE, VAR), KEY)
    assert (finding.why, finding.threshold) == ("free_bytes 5 GiB < 10 GiB", "< 10 GiB")


def test_the_message_value_line_writes_the_value_as_the_reason_does() -> None:
    finding = evaluate(RULE, Sample("free_bytes", FREE, VAR), KEY)
    _, events = step(AlertState(KEY), finding, 1_700_000_000.0, Policy(IMMEDIATE, IMMEDIATE))
    body = render(events[0]).body.splitlines()
    assert "Value: 5 GiB (threshold < 10 GiB)" in body
    assert "Reason: free_bytes 5 GiB < 10 GiB" in body
    assert "Metric: free_bytes{mount=/var}" in body


def test_the_check_table_writes_each_metric_in_its_unit() -> None:
    labels = {"mount": "/var"}
    table = render_check_table([{
        "check": "disk", "kind": "disk", "status": "critical",
        "summary": "93.1% used, 5 GiB free", "problems": ["free_bytes 5 GiB < 10 GiB"],
        "metrics": [{"metric": "free_bytes", "labels": labels, "value": FREE},
                    {"metric": "inodes_used_percent", "labels": labels, "value": 3.24e-05},
                    {"metric": "used_percent", "labels": labels, "value": 93.14}]}])
    lines = [line.strip() for line in table.splitlines()]
    assert "free_bytes{mount=/var} = 5 GiB" in lines
    assert "inodes_used_percent{mount=/var} = <0.01%" in lines
    assert "used_percent{mount=/var} = 93.1%" in lines
    assert "e-0" not in table


def test_a_replay_line_writes_the_value_in_its_unit() -> None:
    rows = [(f"2024-01-01 00:0{i}:00", v) for i, v in enumerate([20 * GIB, FREE])]
    [fired] = list(replay(rows, ReplaySettings(adaptive=None, rule=RULE), "free_bytes"))
    assert fired.shown == "5 GiB"
    assert fired.as_text() == ("2024-01-01 00:01:00  firing      critical  5 GiB     "
                               "free_bytes 5 GiB < 10 GiB")


def test_replay_json_keeps_the_value_exact_and_adds_it_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp,value\n2024-01-01 00:00:00,0.1\n"
                     "2024-01-01 00:01:00,0.32799999999999996\n")
    config = tmp_path / "config.yaml"
    config.write_text("checks:\n  - name: q\n    kind: command\n    command: [\"true\"]\n"
                      "    thresholds:\n      value: {warn: \"> 0.2\"}\n")
    args = build_parser().parse_args(["replay", str(trace), "--metric", "value",
                                      "-c", str(config), "--check", "q"])
    assert replay_cmd.run(args) == 0
    [line] = capsys.readouterr().out.splitlines()
    doc = json.loads(line)
    assert (doc["value"], doc["shown"]) == (0.32799999999999996, "0.328")
    assert doc["why"] == "value 0.328 > 0.2"


def test_a_replayed_event_line_is_short() -> None:
    ev = ReplayEvent("2014-02-26 14:05:00", EventKind.FIRING, Status.WARNING, "why",
                     0.32799999999999996, 7)
    assert ev.as_text() == "2014-02-26 14:05:00  firing      warning   0.328     why"


async def test_the_agent_log_line_writes_each_sample_in_its_unit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  host: web1\n  state_dir: {tmp_path / 'state'}\n"
                      "checks:\n  - name: disk\n    kind: disk\n    path: /\n    thresholds:\n"
                      "      free_bytes: {crit: \"< 10GiB\"}\n")
    clock = FakeClock()
    agent = Agent(load_config(config), clock=clock)
    try:
        result = CheckResult.ok("93.1% used, 5 GiB free", samples=[
            Sample("free_bytes", FREE, VAR), Sample("inodes_used_percent", 3.24e-05, VAR)])
        with caplog.at_level(logging.INFO, "watchkeeper.agent"):
            await agent.scheduler.on_result(agent.scheduler.jobs[0], result, clock.now())
    finally:
        agent.close()
    assert ("check disk: CRITICAL - 93.1% used, 5 GiB free (free_bytes 5 GiB < 10 GiB) "
            "[free_bytes{mount=/var}=5 GiB inodes_used_percent{mount=/var}=<0.01%]"
            ) in caplog.text


@pytest.mark.parametrize("value", ["9" * 400 + "MB", "2000000TiB", float("inf"), 1e300])
def test_a_size_beyond_an_exbibyte_is_refused_not_infinite(value: str | float) -> None:
    from agent.units import parse_size

    with pytest.raises(ValueError, match="out of range"):
        parse_size(value)


@pytest.mark.parametrize(("metric", "lo", "hi", "text"), [
    ("response_ms", 120, 180, "120ms-180ms"),
    ("value", -36.4, -22.3, "-36.4 to -22.3"),  # never "-36.4--22.3"
    ("value", -2, 5, "-2 to 5"),
    ("value", 0, 0, "0-0"),
])
def test_a_range_never_reads_a_minus_as_its_dash(metric: str, lo: float, hi: float,
                                                 text: str) -> None:
    assert format_range(metric, lo, hi) == text
