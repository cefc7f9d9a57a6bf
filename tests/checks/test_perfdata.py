"""Nagios plugin output parsing: summary, perfdata, units and threshold ranges."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import Status
from checks.command.perfdata import (
    NagiosRange,
    metric_name,
    parse_perfdata,
    parse_plugin_output,
    parse_range,
    snake_case,
)

INF = math.inf


@pytest.mark.parametrize(("text", "start", "end", "inside"), [
    ("10", 0.0, 10.0, False),
    ("10:", 10.0, INF, False),
    ("~:10", -INF, 10.0, False),
    ("10:20", 10.0, 20.0, False),
    ("@10:20", 10.0, 20.0, True),
    ("-5:-1", -5.0, -1.0, False),
    ("0.5:1.5", 0.5, 1.5, False),
    (":7", 0.0, 7.0, False),
    ("~:", -INF, INF, False),
])
def test_range_syntax_reads_start_end_and_inside(text: str, start: float, end: float,
                                                  inside: bool) -> None:
    rng = parse_range(text)
    assert (rng.start, rng.end, rng.inside) == (start, end, inside)


@pytest.mark.parametrize("text", ["", "@", "abc", "20:10", "1:2:3", "~", "10:x", "inf", "nan"])
def test_range_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range(text)


@pytest.mark.parametrize(("text", "value", "alerts"), [
    ("10", -1, True), ("10", 0, False), ("10", 10, False), ("10", 10.1, True),
    ("10:", 9.9, True), ("10:", 10, False), ("10:", 1e9, False),
    ("~:10", -1e9, False), ("~:10", 10, False), ("~:10", 11, True),
    ("10:20", 9, True), ("10:20", 15, False), ("10:20", 21, True),
    ("@10:20", 9, False), ("@10:20", 10, True), ("@10:20", 20, True), ("@10:20", 21, False),
])
def test_range_alerts_outside_or_with_at_inside(text: str, value: float, alerts: bool) -> None:
    assert parse_range(text).alerts(value) is alerts


@pytest.mark.parametrize(("label", "expected"), [
    ("load1", "load1"),
    ("Response Time", "response_time"),
    ("responseTime", "response_time"),
    ("HTTPStatus", "http_status"),
    ("/", "root"),
    ("/var/log", "var_log"),
    ("C:\\ Used Space", "c_used_space"),
    ("Température", "temperature"),
    ("5min", "m_5min"),
    ("%%", ""),
])
def test_labels_become_snake_case(label: str, expected: str) -> None:
    assert snake_case(label) == expected


@pytest.mark.parametrize(("label", "uom", "expected"), [
    ("time", "s", "time_seconds"),
    ("time", "ms", "time_seconds"),
    ("response_ms", "ms", "response_seconds"),
    ("latency", "us", "latency_seconds"),
    ("usage", "%", "usage_percent"),
    ("usage_pct", "%", "usage_percent"),
    ("size", "B", "size_bytes"),
    ("/", "MB", "root_bytes"),
    ("errors", "c", "errors_total"),
    ("errors_total", "c", "errors_total"),
    ("users", "", "users"),
    ("temp", "degC", "temp_deg_c"),
])
def test_metric_names_carry_the_normalised_unit(label: str, uom: str, expected: str) -> None:
    assert metric_name(label, uom) == expected


@pytest.mark.parametrize(("perfdata", "metric", "value"), [
    ("time=0.25s", "time_seconds", 0.25),
    ("time=250ms", "time_seconds", 0.25),
    ("time=250us", "time_seconds", 0.00025),
    ("used=42.5%", "used_percent", 42.5),
    ("size=10B", "size_bytes", 10.0),
    ("size=2KB", "size_bytes", 2048.0),
    ("size=3MB", "size_bytes", 3 * 1024.0**2),
    ("size=1GB", "size_bytes", 1024.0**3),
    ("size=1TB", "size_bytes", 1024.0**4),
    ("hits=17c", "hits_total", 17.0),
    ("'load 1'=0.5", "load_1", 0.5),
    ("'it''s'=1", "it_s", 1.0),
    ("x=-3", "x", -3.0),
    ("x=1e3", "x", 1000.0),
    ("x=1,5", "x", 1.5),
])
def test_perfdata_values_are_converted_to_metric_units(perfdata: str, metric: str,
                                                       value: float) -> None:
    items, problems = parse_perfdata(perfdata)
    assert problems == []
    assert [d.metric for d in items] == [metric]
    assert items[0].value == pytest.approx(value)


def test_perfdata_keeps_warn_crit_min_max_in_metric_units() -> None:
    (d,), _ = parse_perfdata("time=250ms;200;500;0;1000")
    assert d.warn == NagiosRange(0.0, 0.2, False, "200")
    assert d.crit is not None and d.crit.end == pytest.approx(0.5)
    assert (d.minimum, d.maximum) == (0.0, 1.0)
    assert d.status() is Status.WARNING
    assert d.violation() == "time_seconds 0.25 outside warn range 0:0.2"


@pytest.mark.parametrize(("perfdata", "status"), [
    ("load=1;5;10", Status.OK),
    ("load=6;5;10", Status.WARNING),
    ("load=11;5;10", Status.CRITICAL),
    ("free=3;10:;5:", Status.CRITICAL),
    ("free=7;10:;5:", Status.WARNING),
    ("inside=15;@10:20", Status.WARNING),
    ("nothing=15;;", Status.OK),
])
def test_perfdata_ranges_give_a_status(perfdata: str, status: Status) -> None:
    (d,), _ = parse_perfdata(perfdata)
    assert d.status() is status


@pytest.mark.parametrize(("perfdata", "problem"), [
    ("novalue", "expected label=value"),
    ("x=abc", "value is not a number"),
    ("x=1;abc", "not a number"),
    ("x=1;20:10", "starts after it ends"),
    ("x=1.2.3", "value is not a number"),
    ("%=1", "label has no letters or digits"),
    ("'unterminated=1", "unterminated quote"),
])
def test_malformed_perfdata_is_skipped_and_named(perfdata: str, problem: str) -> None:
    items, problems = parse_perfdata(f"ok=1 {perfdata} after=2")
    assert [d.metric for d in items][:1] == ["ok"]
    assert len(problems) == 1 and problem in problems[0]


def test_unknown_value_u_is_skipped_without_complaint() -> None:
    items, problems = parse_perfdata("a=U;1;2 b=3")
    assert [d.metric for d in items] == ["b"]
    assert problems == []


@pytest.mark.parametrize(("perfdata", "names"), [
    ("'a b'=1 a_b=2 A-B=3", ["a_b", "a_b_2", "a_b_3"]),
    ("a=1 a=2 a_2=3", ["a", "a_2", "a_2_2"]),
])
def test_labels_normalising_to_one_name_stay_apart(perfdata: str, names: list[str]) -> None:
    items, _ = parse_perfdata(perfdata)
    assert [d.metric for d in items] == names


def test_plugin_output_splits_summary_long_text_and_multiline_perfdata() -> None:
    text = ("DISK OK - free space: / 3326 MB | /=2643MB;5948;5958;0;5968\n"
            "/ 15272 MB (77%);\n"
            "/boot 68 MB (69%); | /boot=68MB;88;93;0;98\n"
            "/home=69357MB;253404;253409;0;253414\n")
    out = parse_plugin_output(text)
    assert out.summary == "DISK OK - free space: / 3326 MB"
    assert out.long_text == "/ 15272 MB (77%);\n/boot 68 MB (69%);"
    assert [d.metric for d in out.perfdata] == ["root_bytes", "boot_bytes", "home_bytes"]
    assert out.perfdata[0].value == 2643 * 1024.0**2
    assert out.problems == ()


@pytest.mark.parametrize(("text", "summary"), [
    ("", ""),
    ("OK", "OK"),
    ("  OK - fine  \r\n", "OK - fine"),
    ("| a=1", ""),
    ("OK | a=1 | b=2", "OK"),
])
def test_plugin_output_summary_is_the_first_line_before_the_pipe(text: str,
                                                                 summary: str) -> None:
    assert parse_plugin_output(text).summary == summary


_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_raises_on_arbitrary_text(text: str) -> None:
    out = parse_plugin_output(text)
    for d in out.perfdata:
        assert _METRIC.match(d.metric), d.metric
        assert math.isfinite(d.value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["a", "=", "'", ";", ":", "@", "~", "1", "-", ".", ",", "e", " ", "\n", "|", "%", "U",
     "ms", "KB", "c", "9", "''"]), max_size=40).map("".join))
def test_parser_never_raises_on_perfdata_like_text(text: str) -> None:
    out = parse_plugin_output("OK | " + text)
    assert all(math.isfinite(d.value) for d in out.perfdata)
    assert len({d.metric for d in out.perfdata}) == len(out.perfdata)
