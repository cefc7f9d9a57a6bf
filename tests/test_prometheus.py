"""The hand-written Prometheus text format: names, escaping, values, grouping, clashes; and
what the official parser reads back from it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from agent.prometheus import (
    CONTENT_TYPE,
    Exposition,
    MetricType,
    NameClashError,
    help_text,
    label_name,
    label_pairs,
    label_value,
    metric_name,
    sample_value,
)


@pytest.mark.parametrize(("text", "name"), [
    ("used_percent", "used_percent"),
    ("watchkeeper:used_percent", "watchkeeper:used_percent"),
    ("used-percent", "used_percent"),
    ("a b.c/d", "a_b_c_d"),
    ("9lives", "_9lives"),
    ("résumé", "r_sum_"),
    ("_private", "_private"),
    ("", "_"),
])
def test_metric_names_are_sanitised(text: str, name: str) -> None:
    assert metric_name(text) == name


@pytest.mark.parametrize(("text", "name"), [
    ("mount", "mount"),
    ("a:b", "a_b"),
    ("device-name", "device_name"),
    ("1st", "_1st"),
    ("__name__", "_name__"),
    ("___x", "_x"),
    ("_x", "_x"),
    ("", "_"),
])
def test_label_names_are_sanitised(text: str, name: str) -> None:
    assert label_name(text) == name


@pytest.mark.parametrize(("text", "escaped"), [
    ("/var/lib", "/var/lib"),
    ("C:\\data", "C:\\\\data"),
    ('say "hi"', 'say \\"hi\\"'),
    ("two\nlines", "two\\nlines"),
    ('\\"\n', '\\\\\\"\\n'),
    ("tab\tand ünïcode", "tab\tand ünïcode"),
    ("bad byte \udcff", "bad byte \ufffd"),
])
def test_label_values_escape_backslash_quote_and_newline(text: str, escaped: str) -> None:
    assert label_value(text) == escaped


@pytest.mark.parametrize(("text", "escaped"), [
    ("plain", "plain"),
    ("back\\slash", "back\\\\slash"),
    ("two\nlines", "two\\nlines"),
    ('a "quote" stays', 'a "quote" stays'),
])
def test_help_text_escapes_backslash_and_newline_only(text: str, escaped: str) -> None:
    assert help_text(text) == escaped


@pytest.mark.parametrize(("value", "text"), [
    (math.nan, "NaN"),
    (math.inf, "+Inf"),
    (-math.inf, "-Inf"),
    (0.0, "0"),
    (-0.0, "0"),
    (3.0, "3"),
    (3, "3"),
    (-17.0, "-17"),
    (0.5, "0.5"),
    (93.125, "93.125"),
    (1e-7, "1e-07"),
    (1e20, "1e+20"),
    (2.0**53, "9007199254740992.0"),
    (1700000000.25, "1700000000.25"),
])
def test_values_are_written_as_the_format_reads_them(value: float, text: str) -> None:
    assert sample_value(value) == text
    assert float(text) == value or math.isnan(value)


@pytest.mark.parametrize(("labels", "pairs"), [
    ([], ()),
    ([("check", "a"), ("mount", "/")], (("check", "a"), ("mount", "/"))),
    ([("check", "a"), ("check", "b")], (("check", "a"), ("exported_check", "b"))),
    ([("check", "a"), ("exported_check", "b"), ("check", "c")],
     (("check", "a"), ("exported_check", "b"), ("exported_exported_check", "c"))),
    ([("a_b", "1"), ("a-b", "2")], (("a_b", "1"), ("exported_a_b", "2"))),
    ([("dev name", "sda")], (("dev_name", "sda"),)),
])
def test_clashing_label_names_keep_both_values(labels: list[tuple[str, str]],
                                               pairs: tuple[tuple[str, str], ...]) -> None:
    assert label_pairs(labels) == pairs


def test_the_content_type_is_the_text_format_0_0_4() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_a_family_has_one_help_and_type_and_its_samples_stay_together() -> None:
    page = Exposition()
    page.family("disk_used", "used space").add(50, {"mount": "/"})
    page.family("runs_total", "runs", MetricType.COUNTER).add(3)
    page.family("disk_used", "used space").add(70, {"mount": "/var"})
    assert page.render() == (
        "# HELP disk_used used space\n"
        "# TYPE disk_used gauge\n"
        'disk_used{mount="/"} 50\n'
        'disk_used{mount="/var"} 70\n'
        "# HELP runs_total runs\n"
        "# TYPE runs_total counter\n"
        "runs_total 3\n")


def test_a_series_given_twice_keeps_its_first_value() -> None:
    page = Exposition()
    fam = page.family("x", "x")
    fam.add(1, [("a", "1"), ("b", "2")])
    fam.add(2, [("b", "2"), ("a", "1")])  # the same label set in another order
    fam.add(3, [("a", "1")])
    assert page.render().splitlines()[2:] == ['x{a="1",b="2"} 1', 'x{a="1"} 3']


def test_family_names_are_sanitised_and_shared_after_sanitising() -> None:
    page = Exposition()
    assert page.family("used-percent", "h") is page.family("used_percent", "h")
    assert "used-percent" in page and "used_percent" in page and "other" not in page
    assert page.render().startswith("# HELP used_percent h\n# TYPE used_percent gauge\n")


def test_an_empty_family_still_says_what_it_is_and_an_empty_page_is_empty() -> None:
    assert Exposition().render() == ""
    page = Exposition()
    page.family("alert_firing", "1 for each firing alert")
    assert page.render() == ("# HELP alert_firing 1 for each firing alert\n"
                             "# TYPE alert_firing gauge\n")


@pytest.mark.parametrize(("first", "second"), [
    (("x", "h", MetricType.GAUGE), ("x", "other help", MetricType.GAUGE)),
    (("x_total", "h", MetricType.GAUGE), ("x_total", "h", MetricType.COUNTER)),
    (("x_total", "h", MetricType.COUNTER), ("x", "h", MetricType.GAUGE)),
    (("x", "h", MetricType.GAUGE), ("x_total", "h", MetricType.COUNTER)),
    (("x-y", "h", MetricType.GAUGE), ("x_y", "other help", MetricType.GAUGE)),
])
def test_a_name_taken_by_another_kind_of_family_is_refused(
        first: tuple[str, str, MetricType], second: tuple[str, str, MetricType]) -> None:
    page = Exposition()
    page.family(*first).add(1)
    with pytest.raises(NameClashError, match="clashes with"):
        page.family(*second)
    assert page.render().count("# TYPE") == 1


def test_the_official_parser_reads_back_what_is_written() -> None:
    page = Exposition()
    gauge = page.family("wk_value", 'latest "value"\nwith \\ in it')
    gauge.add(math.nan, {"check": 'we"ird\\name\n'})
    gauge.add(math.inf, {"check": "up"})
    gauge.add(-math.inf, {"check": "down"})
    gauge.add(0.125)
    page.family("wk_runs_total", "runs", MetricType.COUNTER).add(7, {"check": "a"})
    parsed = {f.name: f for f in text_string_to_metric_families(page.render())}
    assert set(parsed) == {"wk_value", "wk_runs"}
    value, runs = parsed["wk_value"], parsed["wk_runs"]
    assert (value.type, value.documentation) == ("gauge", 'latest "value"\nwith \\ in it')
    by_check = {s.labels.get("check"): s.value for s in value.samples}
    assert math.isnan(by_check['we"ird\\name\n'])
    assert (by_check["up"], by_check["down"], by_check[None]) == (math.inf, -math.inf, 0.125)
    assert runs.type == "counter"
    assert [(s.name, s.labels, s.value) for s in runs.samples] == \
        [("wk_runs_total", {"check": "a"}, 7)]


@given(name=st.text(max_size=20), value=st.text(max_size=40),
       number=st.floats(allow_nan=False))
def test_any_label_value_and_number_survive_the_official_parser(name: str, value: str,
                                                                number: float) -> None:
    page = Exposition()
    page.family(name, "h").add(number, {"label": value})
    (family,) = text_string_to_metric_families(page.render())
    (sample,) = family.samples
    assert family.name == metric_name(name)
    assert sample.labels == {"label": value}
    assert sample.value == number
