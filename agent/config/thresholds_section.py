"""A check's ``thresholds:`` mapping -> ``ThresholdRule`` per metric, with sanity checks.

``warn`` and ``crit`` default to ``>`` when written as a bare number; a bare ``recover``
takes the opposite of the rule's operator (``> 80`` recovers at ``<= 75``). The ``status``
pseudo-metric (the check's own verdict) takes only ``for`` and ``recover_for``.

``limit`` declares the value a metric cannot go past (a quota, a queue's capacity): it
turns the forecast on towards it, and is the limit of a ``forecast:`` block that names
none. A kind's default rules (a disk's forecast towards 100 %) stay under a metric's own
rule unless that rule says otherwise (``forecast: false`` turns the forecast off).
"""

from __future__ import annotations

import enum
import math
import re
from typing import Any

from agent.alerting.policy import Persistence
from agent.config.report import Reporter
from agent.config.suggest import did_you_mean, quoted, unknown_key
from agent.config.yaml_lines import YamlPath
from agent.durations import MAX_DURATION
from agent.durations import out_of_range as duration_out_of_range
from agent.model import STATUS_METRIC
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings, Heading
from agent.thresholds.rules import (
    Comparison,
    Op,
    ThresholdRule,
    parse_comparison,
    parse_persistence,
)

RULE_KEYS = ("warn", "crit", "recover", "for", "recover_for", "adaptive", "forecast", "limit")
STATUS_KEYS = ("for", "recover_for")

_THRESHOLD_HINT = 'expected a threshold like "> 90" or "< 5%"'
_PERSISTENCE_HINT = "expected a duration like 5m or a sample count like 3"

#: The most consecutive samples ``for`` / ``recover_for`` may ask for.
MAX_SAMPLES = 1_000_000
#: A sample count as written (``3``, ``3x``, ``3 samples``), to judge its digits before
#: ``int()`` converts them (slowly past a few thousand, and not at all past 4,300).
_COUNT = re.compile(r"\s*(\d+)\s*(?:x|samples?|times)?\s*")


class _Direction(enum.Enum):
    UP = "up"      # a problem when the value is high
    DOWN = "down"  # a problem when the value is low


_DIRECTIONS = {Op.GT: _Direction.UP, Op.GE: _Direction.UP,
               Op.LT: _Direction.DOWN, Op.LE: _Direction.DOWN}


def parse_thresholds(data: Any, path: YamlPath, metrics: frozenset[str], kind: str,
                     report: Reporter, *,
                     defaults: dict[str, ThresholdRule] | None = None) -> dict[str, ThresholdRule]:
    """Parse ``thresholds:`` at ``path``. ``metrics`` empty = any metric name is accepted.

    ``defaults`` are the kind's own rules: a metric's rule replaces its default, except
    that the default's forecast stays unless the rule has ``forecast`` or ``limit``.
    """
    rules: dict[str, ThresholdRule] = dict(defaults or {})
    if data is None:
        return rules
    if not isinstance(data, dict):
        report.add(path, "expected a mapping of metric names to rules, "
                         f"got {report.show(path, data)}")
        return rules
    for metric, spec in data.items():
        mpath = (*path, metric)
        known = not metrics or metric == STATUS_METRIC or metric in metrics
        if not known:
            report.add(mpath, _unknown_metric(metric, metrics, kind))
        # The rule is judged either way: its own mistakes are further problems to fix.
        default = rules.get(metric) if known else None
        rule = _parse_rule(metric, spec, mpath, report,
                           default.forecast if default is not None else None)
        if rule is not None and known:
            rules[metric] = rule
    return rules


def _unknown_metric(metric: str, metrics: frozenset[str], kind: str) -> str:
    known = sorted(metrics | {STATUS_METRIC})
    hint = did_you_mean(metric, known)
    if hint:
        return f"unknown metric {quoted(metric)}{hint}"
    return f"unknown metric {quoted(metric)} (kind {kind} reports: {', '.join(known)})"


def _parse_rule(metric: str, spec: Any, path: YamlPath, report: Reporter,
                default_forecast: ForecastSettings | None = None) -> ThresholdRule | None:
    is_status = metric == STATUS_METRIC
    allowed = STATUS_KEYS if is_status else RULE_KEYS
    if not isinstance(spec, dict):
        report.add(path, f"expected a mapping with {_listing(allowed)}, "
                         f"got {report.show(path, spec)}")
        return None
    before = report.count()
    for key in spec:
        if key in allowed:
            continue
        if is_status and key in RULE_KEYS:
            report.add((*path, key), "the status pseudo-metric takes only for and recover_for")
        else:
            report.add((*path, key), unknown_key(key, allowed))
    fire_after = _persistence(spec, "for", path, report)
    recover_after = _persistence(spec, "recover_for", path, report)
    if is_status:
        if report.count() > before:
            return None
        return ThresholdRule(metric, fire_after=fire_after, recover_after=recover_after)

    warn = _comparison(spec, "warn", metric, Op.GT, path=path, report=report)
    crit = _comparison(spec, "crit", metric, Op.GT, path=path, report=report)
    adaptive = _adaptive(spec, path, report)
    firing = warn or crit
    # A metric whose limits are lower bounds (free space) falls towards its limit.
    falls = firing is not None and _DIRECTIONS.get(firing.op) is _Direction.DOWN
    forecast = _forecast(spec, path, report, default_forecast, falls=falls)
    if not {"warn", "crit", "adaptive", "forecast", "limit"} & set(spec):
        report.add(path, "a threshold needs warn, crit, adaptive, forecast or limit")
    recover_op = firing.op.opposite if firing is not None else Op.LE
    recover = _comparison(spec, "recover", metric, recover_op, path=path, report=report)
    if report.count() > before:
        return None
    if not _sane(warn, crit, recover, path, report):
        return None
    return ThresholdRule(metric, warn=warn, crit=crit, recover=recover,
                         fire_after=fire_after, recover_after=recover_after,
                         adaptive=adaptive, forecast=forecast)


def _adaptive(spec: dict[str, Any], path: YamlPath,
              report: Reporter) -> AdaptiveSettings | None:
    """The ``adaptive:`` block; ``adaptive: true`` means all defaults."""
    if "adaptive" not in spec or spec["adaptive"] is False:
        return None
    value = {} if spec["adaptive"] is True or spec["adaptive"] is None else spec["adaptive"]
    return report.validate(AdaptiveSettings, value, (*path, "adaptive"))


def _forecast(spec: dict[str, Any], path: YamlPath, report: Reporter,
              default: ForecastSettings | None, *, falls: bool) -> ForecastSettings | None:
    """The forecast of a rule: its ``forecast:`` block (``true``: every default, ``false``:
    none), towards the rule's ``limit``, else the block's own, else the kind's default's.
    Without a ``forecast:`` key, a ``limit`` turns it on; otherwise the default stands.
    The user's own limit is approached ``falling`` when the rule's warn/crit are ``<``
    (free space sinks to its floor) unless the block says its ``direction``."""
    limit: float | None = None
    if "limit" in spec:
        declared = report.validate(ForecastSettings, {"limit": spec["limit"]}, path)
        if declared is None:
            return None
        limit = declared.limit
    heading = {"direction": Heading.FALLING.value} if falls else {}
    if "forecast" not in spec:
        if limit is None:
            return default
        return ForecastSettings.model_validate({"limit": limit, **heading})
    block = spec["forecast"]
    if block is False:
        return None
    fpath = (*path, "forecast")
    value = {} if block is True or block is None else block
    if not isinstance(value, dict):
        return report.validate(ForecastSettings, value, fpath)  # says what it expected
    if limit is not None or "limit" in value:  # the user's own limit, not the kind's
        value = {**heading, **value}
    if limit is not None:
        if "limit" in value:
            report.add((*fpath, "limit"), "the limit is set twice (limit: beside forecast:); "
                                          "keep one")
            return None
        value = {**value, "limit": limit}
    elif "limit" not in value:
        if default is None:
            report.add(fpath, "a forecast needs a limit: set limit: on the metric "
                              "or in forecast:")
            return None
        value = {**value, "limit": default.limit}
    return report.validate(ForecastSettings, value, fpath)


def _comparison(spec: dict[str, Any], key: str, metric: str, default_op: Op, *,
                path: YamlPath, report: Reporter) -> Comparison | None:
    if key not in spec:
        return None
    kpath = (*path, key)
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        report.add(kpath, f"{_THRESHOLD_HINT}, got {report.show(kpath, value)}")
        return None
    try:
        comparison = parse_comparison(value, metric, default_op)
    except (ValueError, OverflowError) as e:
        message = str(e)
        if isinstance(e, OverflowError):
            message = _limit_out_of_range(report.show(kpath, value))
        elif not message.startswith(("expected", "cannot read")):
            # float() said something in Python's words ("could not convert ...").
            message = f"{_THRESHOLD_HINT}, got {report.show(kpath, value)}"
        report.add(kpath, message)
        return None
    if not math.isfinite(comparison.limit):
        report.add(kpath, _limit_out_of_range(report.show(kpath, value)))
        return None
    return comparison


def _limit_out_of_range(shown: str) -> str:
    return f"the threshold {shown} is out of range (it must be a finite number)"


def _persistence(spec: dict[str, Any], key: str, path: YamlPath,
                 report: Reporter) -> Persistence:
    if key not in spec:
        return Persistence()
    kpath = (*path, key)
    value = spec[key]
    if not isinstance(value, str | int | float | None):
        report.add(kpath, f"{_PERSISTENCE_HINT}, got {report.show(kpath, value)}")
        return Persistence()
    count = _COUNT.fullmatch(value) if isinstance(value, str) else None
    if (isinstance(value, int) and not isinstance(value, bool) and value > MAX_SAMPLES) or \
            (count is not None and len(count.group(1).lstrip("0")) > len(str(MAX_SAMPLES))):
        report.add(kpath, _count_out_of_range(report.show(kpath, value)))
        return Persistence()
    try:
        persistence = parse_persistence(value)
    except ValueError as e:
        message = str(e)
        if message.startswith("expected"):
            message = f"{_PERSISTENCE_HINT}, got {report.show(kpath, value)}"
        report.add(kpath, message)
        return Persistence()
    if persistence.samples > MAX_SAMPLES:
        report.add(kpath, _count_out_of_range(report.show(kpath, value)))
        return Persistence()
    if not math.isfinite(persistence.seconds) or persistence.seconds > MAX_DURATION:
        report.add(kpath, duration_out_of_range(value))
        return Persistence()
    return persistence


def _count_out_of_range(shown: str) -> str:
    return f"the sample count {shown} is out of range (at most {MAX_SAMPLES:,})"


def _sane(warn: Comparison | None, crit: Comparison | None, recover: Comparison | None,
          path: YamlPath, report: Reporter) -> bool:
    """warn and crit agree in direction and order; recover lies on the healthy side."""
    def show(key: str, c: Comparison) -> str:
        kpath = (*path, key)
        if kpath in report.sources:
            return report.show(kpath, c.text)
        text = c.text.strip()
        return text if text[:1] in "<>=!" else f"{c.op.value} {text}"

    ok = True
    up = {_Direction.UP: True, _Direction.DOWN: False}
    if warn is not None and crit is not None:
        wd, cd = _DIRECTIONS.get(warn.op), _DIRECTIONS.get(crit.op)
        if wd is not None and cd is not None:
            if wd is not cd:
                report.add(path, f"warn ({show('warn', warn)}) and crit ({show('crit', crit)}) "
                                 "point in opposite directions")
                ok = False
            elif (crit.limit < warn.limit) if up[wd] else (crit.limit > warn.limit):
                side = "above" if up[wd] else "below"
                report.add((*path, "crit"), f"crit ({show('crit', crit)}) must be at or "
                                            f"{side} warn ({show('warn', warn)})")
                ok = False
    first, first_key = (warn, "warn") if warn is not None else (crit, "crit")
    if ok and recover is not None and first is not None:
        fd, rd = _DIRECTIONS.get(first.op), _DIRECTIONS.get(recover.op)
        if fd is not None and rd is not None:
            if fd is rd:
                report.add((*path, "recover"),
                           f"recover ({show('recover', recover)}) must point the other way "
                           f"from {first_key} ({show(first_key, first)})")
                ok = False
            elif (recover.limit > first.limit) if up[fd] else (recover.limit < first.limit):
                side = "below" if up[fd] else "above"
                report.add((*path, "recover"),
                           f"recover ({show('recover', recover)}) must be at or {side} "
                           f"{first_key} ({show(first_key, first)})")
                ok = False
    return ok


def _listing(keys: tuple[str, ...]) -> str:
    return ", ".join(keys[:-1]) + f" or {keys[-1]}" if len(keys) > 1 else keys[0]
