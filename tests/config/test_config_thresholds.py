"""The ``thresholds:`` of a check: parsing into rules and the sanity checks on them."""

from __future__ import annotations

import textwrap

import pytest

from agent.alerting.policy import Persistence
from agent.thresholds.rules import Comparison, Op, ThresholdRule
from tests.config.config_support import LoadIssues, LoadText


def _check(thresholds: str, kind: str = "fakedisk", extra: str = "") -> str:
    """A config with one check whose thresholds mapping starts on line 4."""
    body = textwrap.indent(textwrap.dedent(thresholds).strip("\n"), "      ")
    return f"checks:\n  - kind: {kind}\n{extra}    thresholds:\n{body}\n"


@pytest.mark.parametrize(("thresholds", "metric", "expected"), [
    ("used_percent: {warn: 80}", "used_percent",
     ThresholdRule("used_percent", warn=Comparison(Op.GT, 80.0, "> 80"))),
    ("used_percent: {warn: '>= 80', crit: 95.5}", "used_percent",
     ThresholdRule("used_percent", warn=Comparison(Op.GE, 80.0, ">= 80"),
                   crit=Comparison(Op.GT, 95.5, "> 95.5"))),
    ("used_percent: {warn: '> 80%', recover: 70}", "used_percent",
     ThresholdRule("used_percent", warn=Comparison(Op.GT, 80.0, "> 80%"),
                   recover=Comparison(Op.LE, 70.0, "<= 70"))),
    ("free_bytes: {crit: '< 1GiB', recover: '2GiB'}", "free_bytes",
     ThresholdRule("free_bytes", crit=Comparison(Op.LT, 2.0**30, "< 1GiB"),
                   recover=Comparison(Op.GE, 2.0 * 2**30, "2GiB"))),
    ("used_percent: {crit: 90, for: 3, recover_for: 2m}", "used_percent",
     ThresholdRule("used_percent", crit=Comparison(Op.GT, 90.0, "> 90"),
                   fire_after=Persistence(samples=3),
                   recover_after=Persistence(seconds=120.0))),
    ("status: {for: 3, recover_for: 1m}", "status",
     ThresholdRule("status", fire_after=Persistence(samples=3),
                   recover_after=Persistence(seconds=60.0))),
])
def test_threshold_rules_are_parsed(load: LoadText, thresholds: str, metric: str,
                                    expected: ThresholdRule) -> None:
    (check,) = load(_check(thresholds)).checks
    assert check.thresholds == {metric: expected}


def test_a_kind_with_open_metric_names_takes_any_name(load: LoadText) -> None:
    (check,) = load(_check("latency_ms: {warn: '> 2s'}", kind="fakeprobe",
                           extra="    url: http://127.0.0.1/\n")).checks
    assert check.thresholds["latency_ms"].warn == Comparison(Op.GT, 2000.0, "> 2s")


@pytest.mark.parametrize(("thresholds", "expected"), [
    ("used_percent: {warn: '=> 80'}",
     (4, "checks[0].thresholds.used_percent.warn",
      "expected a threshold like \"> 90\" or \"< 5%\", got '=> 80'")),
    ("used_percent: {warn: '1.2.3%'}",
     (4, "checks[0].thresholds.used_percent.warn",
      "expected a threshold like \"> 90\" or \"< 5%\", got '1.2.3%'")),
    ("used_percent: {warn: '> 80 apples'}",
     (4, "checks[0].thresholds.used_percent.warn",
      "cannot read '80 apples' as a value of used_percent (a plain number is always "
      "accepted)")),
    ("used_percent: {warn: [80]}",
     (4, "checks[0].thresholds.used_percent.warn",
      "expected a threshold like \"> 90\" or \"< 5%\", got a list")),
    ("free_bytes: {warn: '< 5 parsecs'}",
     (4, "checks[0].thresholds.free_bytes.warn",
      "expected a size like 500MB or 2GiB, got '5 parsecs'")),
    ("used_percent: {warn: 90, crit: 80}",
     (4, "checks[0].thresholds.used_percent.crit",
      "crit (> 80) must be at or above warn (> 90)")),
    ("free_bytes: {warn: '< 1GiB', crit: '< 2GiB'}",
     (4, "checks[0].thresholds.free_bytes.crit",
      "crit (< 2GiB) must be at or below warn (< 1GiB)")),
    ("used_percent: {warn: '> 80', crit: '< 90'}",
     (4, "checks[0].thresholds.used_percent",
      "warn (> 80) and crit (< 90) point in opposite directions")),
    ("used_percent: {warn: 80, recover: '> 70'}",
     (4, "checks[0].thresholds.used_percent.recover",
      "recover (> 70) must point the other way from warn (> 80)")),
    ("used_percent: {warn: 80, recover: '< 85'}",
     (4, "checks[0].thresholds.used_percent.recover",
      "recover (< 85) must be at or below warn (> 80)")),
    ("used_percent: {warn: 80, critical: 90}",
     (4, "checks[0].thresholds.used_percent.critical",
      "unknown key 'critical'; did you mean 'crit'?")),
    ("used_percent: {for: 5m}",
     (4, "checks[0].thresholds.used_percent",
      "a threshold needs warn, crit, adaptive, forecast or limit")),
    ("used_percent: {warn: 80, for: soon}",
     (4, "checks[0].thresholds.used_percent.for",
      "expected a duration like 5m or a sample count like 3, got 'soon'")),
    ("used_percent: 90",
     (4, "checks[0].thresholds.used_percent",
      "expected a mapping with warn, crit, recover, for, recover_for, adaptive, forecast or "
      "limit, got 90")),
    ("status: {for: 3, warn: 1}",
     (4, "checks[0].thresholds.status.warn",
      "the status pseudo-metric takes only for and recover_for")),
    ("status: {fro: 3}",
     (4, "checks[0].thresholds.status.fro", "unknown key 'fro'; did you mean 'for'?")),
    ("used_precent: {warn: 80}",
     (4, "checks[0].thresholds.used_precent",
      "unknown metric 'used_precent'; did you mean 'used_percent'?")),
    ("load1: {warn: 4}",
     (4, "checks[0].thresholds.load1",
      "unknown metric 'load1' (kind fakedisk reports: free_bytes, status, used_percent)")),
])
def test_bad_thresholds_are_reported_at_their_key(
        issues: LoadIssues, thresholds: str, expected: tuple[int, str, str]) -> None:
    assert issues(_check(thresholds)) == [expected]


def test_thresholds_must_be_a_mapping(issues: LoadIssues) -> None:
    assert issues("checks:\n  - kind: fakedisk\n    thresholds: [used_percent]\n") == [
        (3, "checks[0].thresholds", "expected a mapping of metric names to rules, got a list")]


def test_each_bad_threshold_gets_its_own_line(issues: LoadIssues) -> None:
    assert issues(_check("""
        used_percent:
          warn: 90
          crit: 80
        free_bytes: {warn: '< 1GiB', crit: nope}
    """)) == [
        (6, "checks[0].thresholds.used_percent.crit",
         "crit (> 80) must be at or above warn (> 90)"),
        (7, "checks[0].thresholds.free_bytes.crit",
         "expected a threshold like \"> 90\" or \"< 5%\", got 'nope'"),
    ]
