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
from agent.thresholds.numbers import format_value
from agent.thresholds.rules import Comparison, ThresholdRule

_OP_CHARS = "<>=! \t"


def comparison_text(cmp: Comparison) -> str:
    """The limit as the user wrote it, always with its operator: ``> 90``, ``< 1GiB``.

    A bare threshold (``warn: 90``) is stored without an operator; the default one that
    was applied is put in front so the text reads as a condition.
    """
    text = cmp.text.strip()
    if not text or text[0] not in "<>=!":
        return f"{cmp.op.value} {text}" if text else str(cmp)
    return text


def _limit_text(cmp: Comparison) -> str:
    """The limit without its operator (``90``, ``1GiB``)."""
    return comparison_text(cmp).lstrip(_OP_CHARS) or str(cmp).lstrip(_OP_CHARS)


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
    shown = format_value(metric, value)
    if not math.isfinite(value):
        return Finding(key, Status.UNKNOWN, f"{metric} is not a number ({value})", value)

    breach = _breach(rule, value)
    if (previous is not None and previous.phase is Phase.FIRING
            and rule.recover is not None and not rule.recover.holds(value)):
        recover_note = f"(recovers at {comparison_text(rule.recover)})"
        base = _held_base(rule, previous)
        if breach is None:
            return Finding(key, base, f"{metric} {shown}, still {base.value} {recover_note}",
                           value, comparison_text(rule.recover))
        status, cmp = breach
        held = Status.worst([base, status])
        still = f", still {held.value}" if held is not status else ""
        return Finding(key, held,
                       f"{metric} {shown} {comparison_text(cmp)}{still} {recover_note}",
                       value, comparison_text(cmp))

    if breach is not None:
        status, cmp = breach
        return Finding(key, status, f"{metric} {shown} {comparison_text(cmp)}", value,
                       comparison_text(cmp))

    # Fine: say which level it satisfies, so a resolve message reads "used_percent 70 < 80".
    if rule.recover is not None and rule.recover.holds(value):
        return Finding(key, Status.OK, f"{metric} {shown} {comparison_text(rule.recover)}",
                       value, comparison_text(rule.recover))
    nearest = rule.warn if rule.warn is not None else rule.crit
    if nearest is None:
        return Finding(key, Status.OK, f"{metric} {shown}", value)
    within = f"{nearest.op.opposite.value} {_limit_text(nearest)}"
    return Finding(key, Status.OK, f"{metric} {shown} {within}", value,
                   comparison_text(nearest))


def status_finding(result: CheckResult, key: AlertKey) -> Finding:
    """The finding for a check's own verdict (pseudo-metric ``STATUS_METRIC``).

    The check's summary is the reason; a blank summary falls back to the status name.
    """
    why = result.summary.strip() or f"check is {result.status.value}"
    return Finding(key, result.status, why)
