"""Static thresholds: judge one sample against a rule's warn/crit limits, with hysteresis.

The result is a Finding: what the value says *now*. Persistence (``for`` / ``recover_for``)
is the alert state machine's job, not this module's. Hysteresis is judged here because it
depends on the value: a firing alert whose rule has a ``recover`` level stays a problem
until the value reaches that level.
"""

from __future__ import annotations

import math

from agent.alerting.state import AlertState, Phase
from agent.model import AlertKey, CheckResult, Finding, Sample, Status
from agent.thresholds.rules import Comparison, ThresholdRule
from agent.units import format_pair, format_value


def _said(metric: str, value: float, cmp: Comparison,
          op: str | None = None) -> tuple[str, str]:
    """``value`` and the condition ``cmp`` (with ``op`` instead of its own, if given), the
    limit in the metric's unit like every value (``< 1 GiB`` for ``< 1GiB``; a bare
    ``warn: 90`` gets its operator), with the digits it takes to tell the value from the
    limit: never ``90 > 90``."""
    shown, limit = format_pair(metric, value, cmp.limit)
    return shown, f"{op or cmp.op.value} {limit}"


def _breach(rule: ThresholdRule, value: float) -> tuple[Status, Comparison] | None:
    """The worst limit the value crosses, if any (crit beats warn)."""
    if rule.crit is not None and rule.crit.holds(value):
        return Status.CRITICAL, rule.crit
    if rule.warn is not None and rule.warn.holds(value):
        return Status.WARNING, rule.warn
    return None


def _held_base(rule: ThresholdRule, previous: AlertState) -> Status:
    """The severity a held (not yet recovered) alert keeps."""
    if previous.severity in (Status.WARNING, Status.CRITICAL):
        return previous.severity
    # Fired on something other than a value (UNKNOWN): hold at the rule's lowest level.
    return Status.WARNING if rule.warn is not None else Status.CRITICAL


def evaluate(rule: ThresholdRule, sample: Sample, key: AlertKey,
             previous: AlertState | None = None) -> Finding:
    """Judge ``sample`` against ``rule``: CRITICAL if crit holds, else WARNING, else OK.

    With ``rule.recover`` set and ``previous`` FIRING, a value that has not reached the
    recover level keeps the alert a problem at (at least) its previous severity; crit
    holding can still raise it. Without ``recover`` the alert may resolve as soon as
    neither warn nor crit holds.
    """
    metric = sample.metric
    value = sample.value
    if not math.isfinite(value):
        return Finding(key, Status.UNKNOWN, f"{metric} is not a number ({value})", value)

    breach = _breach(rule, value)
    if (previous is not None and previous.phase is Phase.FIRING
            and rule.recover is not None and not rule.recover.holds(value)):
        shown, recover = _said(metric, value, rule.recover)
        recover_note = f"(recovers at {recover})"
        base = _held_base(rule, previous)
        if breach is None:
            return Finding(key, base, f"{metric} {shown}, still {base.value} {recover_note}",
                           value, recover)
        status, cmp = breach
        held = Status.worst([base, status])
        still = f", still {held.value}" if held is not status else ""
        shown, cond = _said(metric, value, cmp)
        return Finding(key, held, f"{metric} {shown} {cond}{still} {recover_note}",
                       value, cond)

    if breach is not None:
        status, cmp = breach
        shown, cond = _said(metric, value, cmp)
        return Finding(key, status, f"{metric} {shown} {cond}", value, cond)

    # Fine: say which level it satisfies, so a resolve message reads "used_percent 70 < 80".
    if rule.recover is not None and rule.recover.holds(value):
        shown, cond = _said(metric, value, rule.recover)
        return Finding(key, Status.OK, f"{metric} {shown} {cond}", value, cond)
    nearest = rule.warn if rule.warn is not None else rule.crit
    if nearest is None:
        return Finding(key, Status.OK, f"{metric} {format_value(metric, value)}", value)
    shown, within = _said(metric, value, nearest, nearest.op.opposite.value)
    return Finding(key, Status.OK, f"{metric} {shown} {within}", value,
                   _said(metric, value, nearest)[1])


def status_finding(result: CheckResult, key: AlertKey) -> Finding:
    """The finding for a check's own verdict (pseudo-metric ``STATUS_METRIC``).

    The check's summary is the reason; a blank summary falls back to the status name.
    """
    why = result.summary.strip() or f"check is {result.status.value}"
    return Finding(key, result.status, why)
