"""A check's result becomes findings, alert states and events for each metric series."""

from __future__ import annotations

import pytest

from agent.alerting.judge import Judge
from agent.alerting.state import EventKind, Phase
from agent.config.models import AlertPolicy, CheckConfig
from agent.model import CheckResult, Sample, Status, make_labels
from agent.thresholds.rules import ThresholdRule, parse_comparison, parse_persistence


def _check(**rules: ThresholdRule) -> CheckConfig:
    return CheckConfig(name="disks", kind="disk", interval=60, timeout=10, tags=("infra",),
                       policy=AlertPolicy(), thresholds=dict(rules))


def _rule(metric: str, crit: str, for_: str | None = None) -> ThresholdRule:
    return ThresholdRule(metric, crit=parse_comparison(crit, metric),
                         fire_after=parse_persistence(for_))


def _disks(root: float, var: float) -> CheckResult:
    return CheckResult.ok("disks", samples=[
        Sample("used_percent", root, make_labels({"mount": "/"})),
        Sample("used_percent", var, make_labels({"mount": "/var"}))])


def test_each_labelled_series_is_its_own_alert() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_rule("used_percent", "> 90"))
    verdict = judge.judge(check, _disks(50, 95), now=1000)
    firing = [e for e in verdict.events if e.kind is EventKind.FIRING]
    assert [e.key.as_text() for e in firing] == ["h1/disks/used_percent{mount=/var}"]
    assert firing[0].tags == ("infra",)
    assert firing[0].severity is Status.CRITICAL
    judge.apply(verdict)
    again = judge.judge(check, _disks(50, 96), now=1060)
    assert again.events == []


def test_a_failed_check_alerts_on_its_status_and_leaves_metric_alerts_alone() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_rule("used_percent", "> 90"))
    judge.apply(judge.judge(check, _disks(50, 95), now=1000))
    verdict = judge.judge(check, CheckResult.unknown("timed out after 10 s"), now=1060)
    assert [(e.kind, e.key.metric, e.why) for e in verdict.events] == [
        (EventKind.FIRING, "status", "timed out after 10 s")]
    judge.apply(verdict)
    var_key = next(k for k in judge.states if k.labels == make_labels({"mount": "/var"}))
    assert judge.states[var_key].phase is Phase.FIRING


def test_unchanged_ok_results_write_no_state() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_rule("used_percent", "> 90"))
    first = judge.judge(check, _disks(50, 60), now=1000)
    judge.apply(first)
    second = judge.judge(check, _disks(51, 61), now=1060)
    assert second.states == [] and second.events == []


def test_for_duration_on_the_status_pseudo_metric_delays_the_alert() -> None:
    judge = Judge("h1")
    check = _check(status=ThresholdRule("status", fire_after=parse_persistence(3)))
    kinds = []
    for t in range(4):
        v = judge.judge(check, CheckResult.failed(Status.CRITICAL, "connection refused"),
                        now=1000 + 60 * t)
        judge.apply(v)
        kinds.append([e.kind for e in v.events])
    assert kinds == [[], [], [EventKind.FIRING], []]


def test_alerts_of_a_removed_check_resolve_and_pending_ones_drop_silently() -> None:
    from agent.alerting.state import AlertState
    from agent.model import AlertKey

    firing = AlertState(AlertKey("h1", "gone", "used_percent"), Phase.FIRING, Status.CRITICAL,
                        problem_since=900, fired_at=900, last_notified_at=900,
                        incident="abc-900")
    pending = AlertState(AlertKey("h1", "gone", "status"), Phase.PENDING, Status.WARNING,
                         problem_since=950, problem_samples=1)
    kept = AlertState(AlertKey("h1", "disks", "used_percent"), Phase.FIRING, Status.WARNING,
                      problem_since=900, fired_at=900, incident="def-900")
    renamed_host = AlertState(AlertKey("old-name", "disks", "used_percent"), Phase.FIRING,
                              Status.WARNING, problem_since=900, fired_at=900,
                              incident="ghi-900")
    judge = Judge("h1", {s.key: s for s in (firing, pending, kept, renamed_host)})
    verdict = judge.retire({"disks"}, now=1000, alert_policy=AlertPolicy())
    assert [(e.kind, e.key.as_text(), e.why) for e in verdict.events] == [
        (EventKind.RESOLVED, "h1/gone/used_percent", "check no longer configured"),
        (EventKind.RESOLVED, "old-name/disks/used_percent",
         "host name old-name no longer configured")]
    judge.apply(verdict)
    assert {k.as_text(): s.phase for k, s in judge.states.items()} == {
        "h1/gone/used_percent": Phase.RESOLVED, "h1/gone/status": Phase.OK,
        "h1/disks/used_percent": Phase.FIRING, "old-name/disks/used_percent": Phase.RESOLVED}
    assert judge.retire({"disks"}, now=1100, alert_policy=AlertPolicy()).events == []


def test_a_series_the_check_stops_reporting_resolves_after_three_good_runs() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_rule("used_percent", "> 90"))
    judge.apply(judge.judge(check, _disks(50, 95), now=1000))
    only_root = CheckResult.ok("disks", samples=[
        Sample("used_percent", 50, make_labels({"mount": "/"}))])
    kinds = []
    for i, result in enumerate([only_root, CheckResult.unknown("timed out"), only_root,
                                only_root]):
        v = judge.judge(check, result, now=1060 + 60 * i)
        judge.apply(v)
        kinds.append([(e.kind, e.key.metric, e.why) for e in v.events])
    # The failed run (an UNKNOWN status alert) does not count as "not reported".
    assert kinds[0] == []
    assert kinds[1] == [(EventKind.FIRING, "status", "timed out")]
    assert kinds[2] == [(EventKind.RESOLVED, "status", "disks")]
    assert kinds[3] == [(EventKind.RESOLVED, "used_percent",
                         "used_percent{mount=/var} is no longer reported")]


def test_removing_a_metrics_thresholds_resolves_its_alert_at_once() -> None:
    judge = Judge("h1")
    judge.apply(judge.judge(_check(used_percent=_rule("used_percent", "> 90")),
                            _disks(50, 95), now=1000))
    v = judge.judge(_check(), _disks(50, 95), now=1060)
    assert [(e.kind, e.why) for e in v.events] == [
        (EventKind.RESOLVED, "used_percent{mount=/var} has no thresholds any more")]


def test_a_series_that_comes_back_in_time_keeps_its_alert() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_rule("used_percent", "> 90"))
    judge.apply(judge.judge(check, _disks(50, 95), now=1000))
    only_root = CheckResult.ok("disks", samples=[
        Sample("used_percent", 50, make_labels({"mount": "/"}))])
    events = []
    for i, result in enumerate([only_root, only_root, _disks(50, 96), only_root, only_root]):
        v = judge.judge(check, result, now=1060 + 60 * i)
        judge.apply(v)
        events.extend(v.events)
    assert events == []


def _hysteresis_rule() -> ThresholdRule:
    return ThresholdRule("used_percent", warn=parse_comparison("> 75", "used_percent"),
                         crit=parse_comparison("> 90", "used_percent"),
                         recover=parse_comparison("< 70", "used_percent"))


@pytest.mark.parametrize(("result", "expected"), [
    (CheckResult.ok("80% used", {"used_percent": 80}), Status.WARNING),
    (CheckResult.ok("95% used", {"used_percent": 95}), Status.CRITICAL),
    (CheckResult.ok("50% used", {"used_percent": 50}), Status.OK),
    (CheckResult.failed(Status.WARNING, "degraded", metrics={"used_percent": 95}),
     Status.CRITICAL),
    (CheckResult.failed(Status.CRITICAL, "refused"), Status.CRITICAL),
    (CheckResult.unknown("timed out after 10 s"), Status.UNKNOWN),
    (CheckResult.failed(Status.WARNING, "degraded", metrics={"used_percent": 10}),
     Status.WARNING),
])
def test_the_judged_status_is_the_checks_own_and_its_thresholds_together(
        result: CheckResult, expected: Status) -> None:
    judge = Judge("h1")
    verdict = judge.judge(_check(used_percent=_hysteresis_rule()), result, now=1000)
    assert verdict.status is expected


def test_the_judged_status_keeps_a_firing_alert_until_its_recover_level() -> None:
    judge = Judge("h1")
    check = _check(used_percent=_hysteresis_rule())
    judge.apply(judge.judge(check, CheckResult.ok("80%", {"used_percent": 80}), now=1000))
    held = judge.judge(check, CheckResult.ok("72%", {"used_percent": 72}), now=1060)
    assert held.status is Status.WARNING
    assert [f.why for f in held.problems()] and "72" in held.problems()[0].why
    judge.apply(held)
    assert judge.judge(check, CheckResult.ok("60%", {"used_percent": 60}),
                       now=1120).status is Status.OK
