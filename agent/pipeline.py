"""From a check's result to new alert states and events: thresholds, then the state machine.

Pure apart from the dict of current states it keeps; the caller persists what it returns
and only then calls ``apply``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertEvent, AlertState, Phase
from agent.config.models import CheckConfig
from agent.model import STATUS_METRIC, AlertKey, CheckResult, Finding
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


class Judge:
    """Holds every alert's current state and judges new results against it."""

    def __init__(self, host: str, states: dict[AlertKey, AlertState] | None = None) -> None:
        self.host = host
        self.states: dict[AlertKey, AlertState] = dict(states or {})

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
            findings.append((evaluate(rule, sample, key, self.states.get(key)), rule))
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
