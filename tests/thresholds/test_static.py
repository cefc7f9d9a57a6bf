"""Static thresholds: operators, warn vs crit, hysteresis, bare numbers, falling limits."""

from __future__ import annotations

import math

import pytest

from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertState, EventKind, Phase
from agent.model import STATUS_METRIC, AlertKey, CheckResult, Finding, Sample, Status
from agent.thresholds.rules import Comparison, ThresholdRule, parse_comparison
from agent.thresholds.static import evaluate, status_finding

OK, WARN, CRIT, UNKNOWN = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN


def rule(metric: str, warn: str | float | None = None, crit: str | float | None = None,
         recover: str | float | None = None) -> ThresholdRule:
    def cmp(expr: str | float | None) -> Comparison | None:
        return None if expr is None else parse_comparison(expr, metric)

    return ThresholdRule(metric, warn=cmp(warn), crit=cmp(crit), recover=cmp(recover))


def judge(r: ThresholdRule, value: float, previous: AlertState | None = None) -> Finding:
    key = AlertKey("web1", "disk", r.metric)
    return evaluate(r, Sample(r.metric, value), key, previous)


def firing(metric: str, severity: Status) -> AlertState:
    return AlertState(AlertKey("web1", "disk", metric), Phase.FIRING, severity)


USED = rule("used_percent", warn="> 80", crit="> 90")
FREE = rule("free_percent", warn="< 10%", crit="< 5%")


@pytest.mark.parametrize(
    ("r", "value", "status", "why", "threshold"),
    [
        pytest.param(USED, 93.1, CRIT, "used_percent 93.1% > 90%", "> 90%", id="crit-beats-warn"),
        pytest.param(USED, 85, WARN, "used_percent 85% > 80%", "> 80%", id="warn-only"),
        pytest.param(USED, 70, OK, "used_percent 70% <= 80%", "> 80%", id="below-both"),
        pytest.param(USED, 80, OK, "used_percent 80% <= 80%", "> 80%", id="gt-boundary-is-ok"),
        pytest.param(USED, 90, WARN, "used_percent 90% > 80%", "> 80%",
                     id="crit-boundary-is-warn"),
        pytest.param(rule("used_percent", warn=">= 80"), 80, WARN, "used_percent 80% >= 80%",
                     ">= 80%", id="ge-boundary-holds"),
        pytest.param(rule("load", crit="<= 0"), 0, CRIT, "load 0 <= 0", "<= 0", id="le"),
        pytest.param(rule("replicas", crit="== 0"), 0, CRIT, "replicas 0 == 0", "== 0",
                     id="eq"),
        pytest.param(rule("replicas", crit="= 0"), 1, OK, "replicas 1 != 0", "== 0",
                     id="single-equals-means-eq"),
        pytest.param(rule("exit_code", warn="!= 0"), 2, WARN, "exit_code 2 != 0", "!= 0",
                     id="ne"),
        pytest.param(rule("used_percent", crit="> 90"), 85, OK, "used_percent 85% <= 90%",
                     "> 90%", id="crit-only-ok"),
        pytest.param(rule("used_percent"), 99, OK, "used_percent 99%", None, id="no-limits"),
        pytest.param(FREE, 7.5, WARN, "free_percent 7.5% < 10%", "< 10%", id="falling-warn"),
        pytest.param(FREE, 3, CRIT, "free_percent 3% < 5%", "< 5%", id="falling-crit"),
        pytest.param(FREE, 20, OK, "free_percent 20% >= 10%", "< 10%", id="falling-ok"),
        pytest.param(FREE, 10, OK, "free_percent 10% >= 10%", "< 10%", id="falling-boundary"),
        pytest.param(rule("free_bytes", crit="< 1GiB"), 512 * 2**20, CRIT,
                     "free_bytes 512 MiB < 1 GiB", "< 1 GiB", id="bytes-shown-as-size"),
        pytest.param(rule("response_ms", warn="> 1s"), 1532.25, WARN,
                     "response_ms 1.53s > 1s", "> 1s", id="duration-limit"),
        pytest.param(USED, 93.123456789012, CRIT, "used_percent 93.1% > 90%", "> 90%",
                     id="no-seventeen-digits"),
    ],
)
def test_value_is_judged_against_warn_and_crit(r: ThresholdRule, value: float, status: Status,
                                               why: str, threshold: str | None) -> None:
    f = judge(r, value)
    assert (f.status, f.why, f.threshold, f.value) == (status, why, threshold, value)


@pytest.mark.parametrize(
    ("warn", "value", "status", "why"),
    [
        pytest.param(90, 95, WARN, "used_percent 95% > 90%", id="int"),
        pytest.param(90.5, 95, WARN, "used_percent 95% > 90.5%", id="float"),
        pytest.param("90", 95, WARN, "used_percent 95% > 90%", id="string"),
        pytest.param("90%", 95, WARN, "used_percent 95% > 90%", id="percent-string"),
        pytest.param(90, 90, OK, "used_percent 90% <= 90%", id="int-boundary"),
    ],
)
def test_bare_number_threshold_means_greater_than(warn: str | float, value: float,
                                                  status: Status, why: str) -> None:
    f = judge(rule("used_percent", warn=warn), value)
    assert (f.status, f.why) == (status, why)
    assert f.threshold is not None and f.threshold.startswith(">")


HYST = rule("used_percent", warn="> 85", crit="> 90", recover="< 80")
HYST_FREE = rule("free_percent", warn="< 10", recover="> 15")


@pytest.mark.parametrize(
    ("r", "previous", "value", "status", "why"),
    [
        pytest.param(HYST, firing("used_percent", WARN), 82, WARN,
                     "used_percent 82%, still warning (recovers at < 80%)",
                     id="hold-below-warn"),
        pytest.param(HYST, firing("used_percent", WARN), 88, WARN,
                     "used_percent 88% > 85% (recovers at < 80%)", id="hold-at-warn"),
        pytest.param(HYST, firing("used_percent", WARN), 95, CRIT,
                     "used_percent 95% > 90% (recovers at < 80%)", id="crit-raises-held"),
        pytest.param(HYST, firing("used_percent", CRIT), 88, CRIT,
                     "used_percent 88% > 85%, still critical (recovers at < 80%)",
                     id="hold-keeps-crit"),
        pytest.param(HYST, firing("used_percent", CRIT), 82, CRIT,
                     "used_percent 82%, still critical (recovers at < 80%)",
                     id="hold-crit-below-warn"),
        pytest.param(HYST, firing("used_percent", WARN), 80, WARN,
                     "used_percent 80%, still warning (recovers at < 80%)",
                     id="recover-boundary-still-held"),
        pytest.param(HYST, firing("used_percent", WARN), 79, OK, "used_percent 79% < 80%",
                     id="release-at-recover-level"),
        pytest.param(HYST, firing("used_percent", CRIT), 50, OK, "used_percent 50% < 80%",
                     id="release-from-crit"),
        pytest.param(HYST, firing("used_percent", UNKNOWN), 82, WARN,
                     "used_percent 82%, still warning (recovers at < 80%)",
                     id="hold-after-unknown-at-lowest-level"),
        pytest.param(HYST, None, 82, OK, "used_percent 82% <= 85%", id="no-previous-no-hold"),
        pytest.param(HYST, AlertState(AlertKey("web1", "disk", "used_percent"),
                                      Phase.PENDING, WARN),
                     82, OK, "used_percent 82% <= 85%", id="pending-is-not-held"),
        pytest.param(HYST, AlertState(AlertKey("web1", "disk", "used_percent"),
                                      Phase.RESOLVED, OK),
                     82, OK, "used_percent 82% <= 85%", id="resolved-is-not-held"),
        pytest.param(rule("used_percent", warn="> 85"), firing("used_percent", WARN), 82, OK,
                     "used_percent 82% <= 85%", id="without-recover-release-at-once"),
        pytest.param(HYST_FREE, firing("free_percent", WARN), 12, WARN,
                     "free_percent 12%, still warning (recovers at > 15%)", id="falling-hold"),
        pytest.param(HYST_FREE, firing("free_percent", WARN), 16, OK, "free_percent 16% > 15%",
                     id="falling-release"),
    ],
)
def test_firing_alert_holds_until_recover_level(r: ThresholdRule, previous: AlertState | None,
                                                value: float, status: Status,
                                                why: str) -> None:
    f = judge(r, value, previous)
    assert (f.status, f.why) == (status, why)


def test_hysteresis_keeps_one_alert_while_value_wobbles_around_the_limit() -> None:
    key = AlertKey("web1", "disk", "used_percent")

    def run(r: ThresholdRule) -> list[EventKind]:
        state, kinds = AlertState(key), []
        for t, value in enumerate([86, 84, 86, 84, 86, 79]):
            finding = evaluate(r, Sample("used_percent", value), key, state)
            state, events = step(state, finding, float(t * 60), Policy())
            kinds += [e.kind for e in events]
        return kinds

    assert run(rule("used_percent", warn="> 85")) == [EventKind.FIRING, EventKind.RESOLVED] * 3
    assert run(rule("used_percent", warn="> 85", recover="< 80")) == [EventKind.FIRING,
                                                                      EventKind.RESOLVED]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_value_is_unknown(value: float) -> None:
    f = judge(USED, value)
    assert f.status is UNKNOWN
    assert "used_percent is not a number" in f.why


@pytest.mark.parametrize(
    ("result", "status", "why"),
    [
        pytest.param(CheckResult.failed(CRIT, "connection refused"), CRIT,
                     "connection refused", id="failed"),
        pytest.param(CheckResult.unknown("timed out after 10s"), UNKNOWN,
                     "timed out after 10s", id="unknown"),
        pytest.param(CheckResult.ok("200 OK in 41ms"), OK, "200 OK in 41ms", id="ok"),
        pytest.param(CheckResult.failed(WARN, "  "), WARN, "check is warning",
                     id="blank-summary"),
    ],
)
def test_status_finding_carries_the_check_verdict(result: CheckResult, status: Status,
                                                  why: str) -> None:
    key = AlertKey("web1", "shop", STATUS_METRIC)
    f = status_finding(result, key)
    assert (f.key, f.status, f.why) == (key, status, why)


@pytest.mark.parametrize(
    ("metric", "expr", "value", "why", "threshold"),
    [
        ("used_percent", 90, 93.1, "used_percent 93.1% > 90%", "> 90%"),
        ("used_percent", ">90", 93.1, "used_percent 93.1% > 90%", "> 90%"),
        ("free_bytes", "< 10GiB", 5 * 2**30, "free_bytes 5 GiB < 10 GiB", "< 10 GiB"),
        ("free_bytes", "  <= 1GiB ", 2**29, "free_bytes 512 MiB <= 1 GiB", "<= 1 GiB"),
        ("response_ms", "> 2s", 2450, "response_ms 2.45s > 2s", "> 2s"),
        ("cert_days_left", "< 14d", 13.5, "cert_days_left 13d 12h < 14d", "< 14d"),
    ],
)
def test_reason_writes_value_and_limit_the_one_way(metric: str, expr: str | float,
                                                   value: float, why: str,
                                                   threshold: str) -> None:
    f = judge(rule(metric, crit=expr), value)
    assert (f.status, f.why, f.threshold) == (CRIT, why, threshold)


@pytest.mark.parametrize(
    ("value", "why"),
    [(90.04, "used_percent 90.04% > 90%"), (90.0004, "used_percent 90.0004% > 90%"),
     (89.996, "used_percent 89.996% <= 90%")],
)
def test_a_value_next_to_its_limit_gets_the_digits_to_tell_them_apart(value: float,
                                                                       why: str) -> None:
    assert judge(rule("used_percent", warn="> 90"), value).why == why
