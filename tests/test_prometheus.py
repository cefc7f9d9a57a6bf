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
    BaseUnit,
    Exposition,
    MetricType,
    NameClashError,
    exposed_metric,
    help_text,
    label_name,
    label_pairs,
    label_value,
    metric_name,
    sample_value,
)
from agent.units import Unit, unit_of
from tests.test_promtool import builtin_metrics


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
    ("deviceName", "device_Name"),
    ("HTTPStatus", "HTTPStatus"),
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
    ('ünï "q"\n', 'ünï \\"q\\"\\n'),
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
    ([("le", "0.5"), ("quantile", "0.9")], (("exported_le", "0.5"),
                                            ("exported_quantile", "0.9"))),
])
def test_clashing_label_names_keep_both_values(labels: list[tuple[str, str]],
                                               pairs: tuple[tuple[str, str], ...]) -> None:
    assert label_pairs(labels) == pairs


G, C = MetricType.GAUGE, MetricType.COUNTER
SECONDS, BYTES, RATIO = BaseUnit.SECONDS, BaseUnit.BYTES, BaseUnit.RATIO


@pytest.mark.parametrize(("metric", "name", "type", "base", "conversion"), [
    # Every metric the built-in checks report.
    ("active", "active", G, None, (1, 1)),
    ("age_hours", "age_seconds", G, SECONDS, (1.5, 5400)),
    ("answers", "answers", G, None, (2, 2)),
    ("available_bytes", "available_bytes", G, BYTES, (4096, 4096)),
    ("body_bytes", "body_bytes", G, BYTES, (512, 512)),
    ("cert_days_left", "cert_left_seconds", G, SECONDS, (10, 864000)),
    ("chain_valid", "chain_valid", G, None, (1, 1)),
    ("connect_ms", "connect_seconds", G, SECONDS, (12.5, 0.0125)),
    ("connected_clients", "connected_clients", G, None, (7, 7)),
    ("connections_used_percent", "connections_used_ratio", G, RATIO, (12.5, 0.125)),
    ("cpu_percent", "cpu_ratio", G, RATIO, (150, 1.5)),
    ("database_size_bytes", "database_size_bytes", G, BYTES, (1e9, 1e9)),
    ("duration_seconds", "duration_seconds", G, SECONDS, (3.25, 3.25)),
    ("failed_logins", "failed_logins", G, None, (3, 3)),
    ("failed_units", "failed_units", G, None, (0, 0)),
    ("files", "files", G, None, (4, 4)),
    ("free_bytes", "free_bytes", G, BYTES, (5368709120, 5368709120)),
    ("handshake_ms", "handshake_seconds", G, SECONDS, (31, 0.031)),
    ("hostname_match", "hostname_match", G, None, (1, 1)),
    ("inodes_used_percent", "inodes_used_ratio", G, RATIO, (3.24e-05, 3.24e-07)),
    ("iowait_percent", "iowait_ratio", G, RATIO, (0.5, 0.005)),
    ("load1", "load1", G, None, (0.42, 0.42)),
    ("load15_per_core", "load15_per_core", G, None, (0.1, 0.1)),
    ("new_source_logins", "new_source_logins", G, None, (1, 1)),
    ("oldest_xact_seconds", "oldest_xact_seconds", G, SECONDS, (60, 60)),
    ("open_fds", "open_fds", G, None, (12, 12)),
    ("query_ms", "query_seconds", G, SECONDS, (0.8, 0.0008)),
    ("query_value", "query_value", G, None, (5, 5)),
    ("rejected_connections", "rejected_connections", G, None, (0, 0)),
    ("replica_lag_seconds", "replica_lag_seconds", G, SECONDS, (2, 2)),
    ("replication_lag_seconds", "replication_lag_seconds", G, SECONDS, (2, 2)),
    ("replication_link_up", "replication_link_up", G, None, (1, 1)),
    ("response_ms", "response_seconds", G, SECONDS, (250, 0.25)),
    ("restarts", "restarts", G, None, (2, 2)),
    ("rss_bytes", "rss_bytes", G, BYTES, (1048576, 1048576)),
    ("running", "running", G, None, (3, 3)),
    ("since_last_ping_seconds", "since_last_ping_seconds", G, SECONDS, (90, 90)),
    ("size_bytes", "size_bytes", G, BYTES, (10, 10)),
    ("size_change_percent", "size_change_ratio", G, RATIO, (-40, -0.4)),
    ("soa_serial", "soa_serial", G, None, (2024030401, 2024030401)),
    ("status_code", "status_code", G, None, (503, 503)),
    ("steal_percent", "steal_ratio", G, RATIO, (0, 0)),
    ("swap_used_percent", "swap_used_ratio", G, RATIO, (33.3, 0.333)),
    ("threads_connected", "threads_connected", G, None, (9, 9)),
    ("tls_version", "tls_version", G, None, (1.3, 1.3)),
    ("up", "up", G, None, (1, 1)),
    ("uptime_seconds", "uptime_seconds", G, SECONDS, (86400, 86400)),
    ("usage_percent", "usage_ratio", G, RATIO, (93.5, 0.935)),
    ("used_memory_percent", "used_memory_ratio", G, RATIO, (50, 0.5)),
    ("used_percent", "used_ratio", G, RATIO, (80, 0.8)),
    # Names a command's perfdata or a database query gives.
    ("time_seconds", "time_seconds", G, SECONDS, (0.5, 0.5)),
    ("requests_total", "requests_total", C, None, (7, 7)),
    ("uptime_ms_total", "uptime_seconds_total", C, SECONDS, (1500, 1.5)),
    ("lag_minutes", "lag_seconds", G, SECONDS, (2, 120)),
    ("ttl_d", "ttl_seconds", G, SECONDS, (1, 86400)),
    ("backlog_kb", "backlog_bytes", G, BYTES, (2, 2048)),
    ("link_bits", "link_bytes", G, BYTES, (16, 2)),
    ("hit_ratio", "hit_ratio", G, RATIO, (0.9, 0.9)),
    ("queueCount", "queue", G, None, (4, 4)),
    ("jobs_gauge", "jobs", G, None, (4, 4)),
    ("disk:used_percent", "disk_used_ratio", G, RATIO, (50, 0.5)),
    ("Response_MS", "response_seconds", G, SECONDS, (5, 0.005)),
    ("count", "value", G, None, (1, 1)),
    # perfdata's name for a label 1min, and other single letters not in the last place
    ("m_1min", "m1min", G, None, (0.5, 0.5)),
    ("s_m_h", "sm_seconds", G, SECONDS, (1, 3600)),
    ("h_d", "seconds", G, SECONDS, (1, 86400)),
    ("b", "bytes", G, BYTES, (1, 1)),
    ("jobs_total_count", "jobs_total", C, None, (3, 3)),
    ("total_gauge", "total", C, None, (3, 3)),
    ("days_queue_bytes", "daysqueue_bytes", G, BYTES, (1, 1)),
    # Words joined must not make another unit (or type) word: kb, min, histogram.
    ("kB:S", "seconds", G, SECONDS, (1, 1)),
    ("x_m_in_y_bytes", "x_miny_bytes", G, BYTES, (1, 1)),
    ("x_h_istogram", "xhistogram", G, None, (1, 1)),
])
def test_check_metrics_are_exposed_in_base_units(metric: str, name: str, type: MetricType,
                                                 base: BaseUnit | None,
                                                 conversion: tuple[float, float]) -> None:
    value, shown = conversion
    exposed = exposed_metric(metric)
    assert (exposed.metric, exposed.name, exposed.type, exposed.base) == \
        (metric, name, type, base)
    assert exposed.value(value) == shown
    assert (exposed.unit == "") is (base is None)


def test_every_built_in_metric_converts_as_the_unit_its_name_announces() -> None:
    # exposed_metric reads more unit words than units.unit_of (the lint refuses
    # abbreviations anywhere in a name); for every built-in metric the two agree.
    for metric in sorted(set().union(*builtin_metrics().values())):
        unit, exposed = unit_of(metric), exposed_metric(metric)
        if unit is Unit.NONE:
            assert not exposed.converted, metric
        elif unit is Unit.PERCENT:
            assert (exposed.base, exposed.value(50)) == (RATIO, 0.5), metric
        elif unit is Unit.BYTES:
            assert (exposed.base, exposed.value(50)) == (BYTES, 50), metric
        else:
            assert (exposed.base, exposed.value(2)) == (SECONDS, 2 * (unit.seconds or 0)), \
                metric


@given(st.text(max_size=30))
def test_an_exposed_name_is_exposed_as_itself(text: str) -> None:
    once = exposed_metric(text)
    twice = exposed_metric(once.name)
    assert (twice.name, twice.type, twice.converted) == (once.name, once.type, False)
    assert metric_name(once.name) == once.name and ":" not in once.name


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
