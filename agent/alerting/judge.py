"""The one judgement: from a check's result to its judged status, new alert states and
events (thresholds, then the state machine).

The running agent, ``watchkeeper check``, ``replay`` and /metrics all judge through this
class, so they cannot disagree about a value. Pure apart from the dict of current states
it keeps; the caller persists what it returns and only then calls ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace

from agent.alerting.flapping import flap_step
from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.alerting.state import AlertEvent, AlertState, Phase
from agent.config.models import AlertPolicy, CheckConfig
from agent.model import STATUS_METRIC, AlertKey, CheckResult, Finding, Sample, Status
from agent.thresholds.rules import ThresholdRule
from agent.thresholds.series import SeriesJudge
from agent.thresholds.static import evaluate, status_finding


@dataclass
class Verdict:
    """What one result changed: states to persist, events to send, and every finding.

    ``status`` is the judged status: the check's own outcome and its thresholds together,
    the one status the log line, /metrics, ``status`` and ``check`` show.
    """

    states: list[AlertState] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    status: Status = Status.OK
    #: Series judged normal without a finding (quiet learning series).
    quiet_keys: set[AlertKey] = field(default_factory=set)

    def problems(self) -> list[Finding]:
        """The findings that are not OK, worst first (the order of ``findings`` on a tie)."""
        bad = [f for f in self.findings if f.status is not Status.OK]
        return sorted(bad, key=lambda f: -f.status.rank)

    def record(self, finding: Finding) -> None:
        """Add a finding (the judged status follows the worst)."""
        self.findings.append(finding)
        if finding.status.rank > self.status.rank:
            self.status = finding.status


_QUIET = (Phase.OK, Phase.RESOLVED)


def _material(state: AlertState) -> tuple[object, ...]:
    """The fields of a state that matter for storing it: what changes on every run is left
    out (the time; the reason and value too while all is quiet), to tell real changes."""
    quiet = state.phase in _QUIET
    # The flapping history counts once it holds a problem: all quiet, it changes nothing.
    history = (state.history, state.history_len) if state.history else (0, 0)
    return (state.key, state.phase, state.severity, state.problem_since,
            state.problem_samples, state.fired_at, state.recovering_since,
            state.recovering_samples, state.last_notified_at, state.incident,
            "" if quiet else state.why, None if quiet else state.threshold,
            state.flapping, *history)


LearnedLoader = Callable[[AlertKey], bytes | None]

#: Successful runs without a series before its open alert is resolved as gone.
VANISHED_AFTER = 3
#: Learned state is saved at most once per this many seconds of wall clock per series
#: (the clock hour: a baseline changes when an hour closes).
LEARNED_SAVE_PERIOD = 3600


class Judge:
    """Holds every alert's current state and judges new results against it.

    Metrics with learned thresholds (adaptive, forecast) get a SeriesJudge per series, the
    same class the replay tool uses; ``load_learned`` returns what a series had learned
    before a restart. ``learned_due`` says what to save now, and ``learned_saved`` is told
    once it is saved (the same persist-then-apply order as ``judge``/``apply``).
    """

    def __init__(self, host: str, states: dict[AlertKey, AlertState] | None = None,
                 load_learned: LearnedLoader | None = None,
                 utc_offset: float | None = None, exact: bool = False) -> None:
        self.host = host
        #: Step the state machine on every sample, quiet ones too (the shortcut's proof).
        self.exact = exact
        #: The zone of learned hours (None: the host's local time; replay uses the trace's).
        self.utc_offset = utc_offset
        self.states: dict[AlertKey, AlertState] = dict(states or {})
        self.series: dict[AlertKey, SeriesJudge] = {}
        #: Successful runs in a row that did not report an open alert's series.
        self._absent: dict[AlertKey, int] = {}
        self._load_learned = load_learned
        #: Series that learned something since they were last saved.
        self._unsaved: set[AlertKey] = set()
        #: Series judged since the last ``learned_due`` (the only ones that can be due).
        self._touched: set[AlertKey] = set()
        #: The save period (clock hour) each series was last saved in.
        self._saved_period: dict[AlertKey, int] = {}

    def _series(self, key: AlertKey, rule: ThresholdRule) -> SeriesJudge:
        judge = self.series.get(key)
        if judge is None or (judge.rule is not rule and judge.rule != rule):
            old = judge
            judge = SeriesJudge(rule.metric, rule=rule, adaptive=rule.adaptive,
                                forecast=rule.forecast, utc_offset=self.utc_offset)
            # A rule changed in place: carry over what is learned in memory (newer than the
            # store); restore() drops what no longer fits the new rule.
            if old is not None:
                data: bytes | None = old.to_bytes()
            else:
                data = self._load_learned(key) if self._load_learned else None
            if data:
                judge.restore(data)
            self.series[key] = judge
        self._unsaved.add(key)
        self._touched.add(key)
        return judge

    def learned_due(self, now: float, everything: bool = False) -> list[tuple[AlertKey, bytes]]:
        """The learned state to save now, as ``(key, bytes)``.

        Each series judged since the last call that was not yet saved in this clock hour;
        with ``everything``, each series that learned anything since it was last saved (at
        shutdown). Call ``learned_saved`` once the items are stored; a series whose save
        failed is due again when it is next judged.
        """
        if everything:
            keys = sorted(self._unsaved, key=AlertKey.as_text)
        else:
            period = int(now // LEARNED_SAVE_PERIOD)
            keys = sorted((k for k in self._touched
                           if k in self._unsaved and self._saved_period.get(k) != period),
                          key=AlertKey.as_text)
            self._touched.clear()
        return [(k, self.series[k].to_bytes()) for k in keys]

    def learned_saved(self, keys: Iterable[AlertKey], now: float) -> None:
        """Record that the learned state of ``keys`` was stored at ``now``."""
        period = int(now // LEARNED_SAVE_PERIOD)
        for k in keys:
            self._saved_period[k] = period
            self._unsaved.discard(k)

    def judge(self, check: CheckConfig, result: CheckResult, now: float) -> Verdict:
        """Judge one result at time ``now``; the states are not changed until ``apply``."""
        verdict = Verdict()
        status_key = AlertKey(self.host, check.name, STATUS_METRIC)
        self._decide(verdict, check, status_finding(result, status_key),
                     check.thresholds.get(STATUS_METRIC), now)
        for sample in result.samples:
            self.judge_sample(verdict, check, sample, now)
        if result.status is Status.OK:
            present = {f.key for f in verdict.findings} | verdict.quiet_keys
            for finding in self._gone(check, present):
                self._decide(verdict, check, finding, None, now)
        return verdict

    def judge_sample(self, verdict: Verdict, check: CheckConfig, sample: Sample,
                     now: float) -> None:
        """Judge one sample of ``check`` at ``now`` into ``verdict``."""
        rule = check.thresholds.get(sample.metric)
        if rule is None or sample.metric == STATUS_METRIC:
            return
        key = AlertKey(self.host, check.name, sample.metric, sample.labels)
        finding = self._finding(key, rule, sample.value, now, sample)
        if finding is None:
            verdict.quiet_keys.add(key)
        else:
            self._decide(verdict, check, finding, rule, now)

    def series_judge(self, check: CheckConfig, key: AlertKey,
                     rule: ThresholdRule) -> Callable[[float, float], Verdict | None]:
        """``judge(value, now)`` for the one series ``key`` (a metric of ``check`` judged by
        ``rule``): what ``judge_sample`` does for it, with the lookups made once, for
        replay's loop over the rows of a trace. It answers None for a value that is quiet
        and changes nothing. The rule must stay the same for its life.
        """
        if not rule.learns:
            def judge_static(value: float, now: float) -> Verdict | None:
                finding = evaluate(rule, Sample(key.metric, value, key.labels), key,
                                   self.states.get(key))
                return self._verdict(check, finding, rule, now)

            return judge_static
        series = self._series(key, rule)
        observe, states, exact = series.observe, self.states, self.exact

        def judge_learned(value: float, now: float) -> Verdict | None:
            previous = states.get(key)
            # Quiet and staying so changes nothing, unless the flapping history still
            # holds a problem (each evaluation shifts it).
            if not observe(now, value) and not exact and (
                    previous is None or (previous.phase in _QUIET and not previous.history)):
                return None
            return self._verdict(check, series.finding(key, now, value, previous), rule, now)

        return judge_learned

    def _verdict(self, check: CheckConfig, finding: Finding, rule: ThresholdRule,
                 now: float) -> Verdict:
        verdict = Verdict()
        self._decide(verdict, check, finding, rule, now)
        return verdict

    def _finding(self, key: AlertKey, rule: ThresholdRule, value: float, now: float,
                 sample: Sample | None = None) -> Finding | None:
        # ``series_judge`` makes the same decision, its lookups hoisted out of the loop.
        """The finding on one sample; None for a sample of a learning series that every
        threshold finds normal while its alert is quiet: the state machine would change
        nothing that is kept, so it is skipped (unless ``exact``)."""
        previous = self.states.get(key)
        if not rule.learns:
            return evaluate(rule, sample or Sample(key.metric, value, key.labels), key, previous)
        series = self._series(key, rule)
        # Quiet and staying so changes nothing, unless the flapping history still holds a
        # problem (each evaluation shifts it: a flapping alert settles, as in replay).
        if not series.observe(now, value) and not self.exact and (
                previous is None or (previous.phase in _QUIET and not previous.history)):
            return None
        return series.finding(key, now, value, previous)

    def _decide(self, verdict: Verdict, check: CheckConfig, finding: Finding,
                rule: ThresholdRule | None, now: float) -> None:
        verdict.record(finding)
        old = self.states.get(finding.key) or AlertState(key=finding.key)
        new, events = flap_step(old, finding, now, Policy.build(rule, check.policy),
                                check.tags)
        verdict.events.extend(events)
        if events or _material(new) != _material(old):
            verdict.states.append(new)

    def _gone(self, check: CheckConfig, present: set[AlertKey]) -> list[Finding]:
        """OK findings for the open alerts of this check that have nothing to judge any more.

        A series the check stopped reporting (a disk unmounted, a resolver removed) resolves
        after ``VANISHED_AFTER`` successful runs without it; a metric whose thresholds were
        removed from the config resolves at once. Runs where the check itself failed prove
        nothing and are not counted.
        """
        gone: list[Finding] = []
        for key, state in self.states.items():
            if key.check != check.name or key.host != self.host or key.metric == STATUS_METRIC:
                continue
            if key in present or state.phase not in (Phase.PENDING, Phase.FIRING):
                self._absent.pop(key, None)
                continue
            name = key.series
            if key.metric not in check.thresholds:
                gone.append(Finding(key, Status.OK, f"{name} has no thresholds any more"))
                continue
            self._absent[key] = self._absent.get(key, 0) + 1
            if self._absent[key] >= VANISHED_AFTER:
                gone.append(Finding(key, Status.OK, f"{name} is no longer reported"))
        return gone

    def retire(self, active_checks: Collection[str], now: float,
               alert_policy: AlertPolicy) -> Verdict:
        """Close the alerts of checks no longer configured (or of another host name).

        A firing one resolves, with its notice ("no longer configured"), so no incident is
        left open forever in a pager; a pending one is dropped without a word.
        """
        verdict = Verdict()
        policy = Policy.build(None, alert_policy)
        for key, state in self.states.items():
            if state.phase not in (Phase.PENDING, Phase.FIRING):
                continue
            if key.host == self.host and key.check in active_checks:
                continue
            where = "check" if key.host == self.host else f"host name {key.host}"
            finding = Finding(key, Status.OK, f"{where} no longer configured")
            new, events = step(state, finding, now, policy)
            new = replace(new, flapping=False)
            verdict.record(finding)
            verdict.states.append(new)
            verdict.events.extend(events)
        return verdict

    def count_event(self, key: AlertKey, incident: str) -> AlertState | None:
        """Count one event of ``incident`` made outside the state machine (an
        acknowledgement, an escalation step): the key's state that counted it, now
        current (its ``emitted`` is the event's ``seq``, to be stored with the event), or
        None when the key's state is not of that incident."""
        state = self.states.get(key)
        if state is None or state.incident != incident:
            return None
        state = replace(state, emitted=state.emitted + 1)
        self.states[key] = state
        return state

    def apply(self, verdict: Verdict) -> None:
        """Take the verdict's states as current (after they were persisted)."""
        for s in verdict.states:
            self.states[s.key] = s
