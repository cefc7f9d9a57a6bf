"""From a check's result to new alert states and events: thresholds, then the state machine.

Pure apart from the dict of current states it keeps; the caller persists what it returns
and only then calls ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertEvent, AlertState, Phase
from agent.config.models import CheckConfig
from agent.model import STATUS_METRIC, AlertKey, CheckResult, Finding
from agent.thresholds.rules import ThresholdRule
from agent.thresholds.series import SeriesJudge
from agent.thresholds.static import evaluate, status_finding


@dataclass
class Verdict:
    """What one result changed: states to persist, events to send, and every finding."""

    states: list[AlertState] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _material(state: AlertState) -> AlertState:
    """A state with the fields that change on every run blanked, to tell real changes."""
    if state.phase in (Phase.OK, Phase.RESOLVED):
        return replace(state, updated_at=None, why="", value=None, threshold=None)
    return replace(state, updated_at=None, value=None)


LearnedLoader = Callable[[AlertKey], bytes | None]


class Judge:
    """Holds every alert's current state and judges new results against it.

    Metrics with learned thresholds (adaptive, forecast) get a SeriesJudge per series, the
    same class the replay tool uses; ``load_learned`` returns what a series had learned
    before a restart.
    """

    def __init__(self, host: str, states: dict[AlertKey, AlertState] | None = None,
                 load_learned: LearnedLoader | None = None) -> None:
        self.host = host
        self.states: dict[AlertKey, AlertState] = dict(states or {})
        self.series: dict[AlertKey, SeriesJudge] = {}
        self._load_learned = load_learned

    def _series(self, key: AlertKey, rule: ThresholdRule) -> SeriesJudge:
        judge = self.series.get(key)
        if judge is None or judge.rule != rule:
            judge = SeriesJudge(rule.metric, rule=rule, adaptive=rule.adaptive,
                                forecast=rule.forecast)
            data = self._load_learned(key) if self._load_learned else None
            if data:
                judge.restore(data)
            self.series[key] = judge
        return judge

    def judge(self, check: CheckConfig, result: CheckResult, now: float) -> Verdict:
        """Judge one result at time ``now``; the states are not changed until ``apply``."""
        verdict = Verdict()
        status_key = AlertKey(self.host, check.name, STATUS_METRIC)
        findings = [(status_finding(result, status_key), check.thresholds.get(STATUS_METRIC))]
        for sample in result.samples:
            rule = check.thresholds.get(sample.metric)
            if rule is None or sample.metric == STATUS_METRIC:
                continue
            key = AlertKey(self.host, check.name, sample.metric, sample.labels)
            previous = self.states.get(key)
            if rule.learns:
                finding = self._series(key, rule).judge(key, now, sample.value, previous)
            else:
                finding = evaluate(rule, sample, key, previous)
            findings.append((finding, rule))
        for finding, rule in findings:
            verdict.findings.append(finding)
            old = self.states.get(finding.key) or AlertState(key=finding.key)
            new, events = step(old, finding, now, Policy.build(rule, check.policy), check.tags)
            verdict.events.extend(events)
            if events or _material(new) != _material(old):
                verdict.states.append(new)
        return verdict

    def apply(self, verdict: Verdict) -> None:
        """Take the verdict's states as current (after they were persisted)."""
        for s in verdict.states:
            self.states[s.key] = s
