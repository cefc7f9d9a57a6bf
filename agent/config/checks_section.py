"""The ``checks:`` list -> ``CheckConfig`` per entry.

Each entry holds the common keys (name, kind, interval, ...) and, beside them, the kind's
own options, validated by the kind's ``Options`` model. Only the kinds named are imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.check import Check, UnknownKind
from agent.config.models import (
    NAME_CHARS,
    ActionConfig,
    AgentSettings,
    AlertPolicy,
    CheckConfig,
    Recurrence,
)
from agent.config.report import Reporter
from agent.config.suggest import did_you_mean, quoted
from agent.config.thresholds_section import parse_thresholds
from agent.config.yaml_lines import YamlPath
from agent.durations import Duration, PositiveDuration

#: Turns a kind name into its check class; raises UnknownKind for a name not installed.
KindResolver = Callable[[str], type[Check[Any]]]


class _CommonKeys(BaseModel):
    """The keys every check takes besides ``kind`` and ``thresholds``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=NAME_CHARS)
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True
    #: Shown on the status page (``/status``, ``watchkeeper status-page``).
    public: bool = False
    repeat_interval: Duration | None = None
    send_resolved: bool | None = None
    #: The checks this one depends on: while one fails, this one's new alerts wait.
    depends_on: tuple[str, ...] = ()
    #: Commands run when one of its alerts fires / resolves.
    on_firing: ActionConfig | None = None
    on_resolved: ActionConfig | None = None
    recurrence: Recurrence | None = None
    #: Overrides ``defaults.flap_changes`` (0: this check never counts as flapping).
    flap_changes: int | None = Field(default=None, ge=0, le=63)
    #: What to do when it alerts: a URL or a short text, shown in every message.
    runbook: str | None = Field(default=None, min_length=1, max_length=2000)
    #: The uptime target in percent: ``watchkeeper uptime`` shows the error budget left.
    slo: float | None = Field(default=None, gt=0, lt=100)


COMMON_KEYS: tuple[str, ...] = ("kind", "thresholds", *_CommonKeys.model_fields)


@dataclass
class ParsedChecks:
    """The valid checks, and every name the file declares (valid or not, for routes)."""

    checks: list[CheckConfig] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


class _Kinds:
    """Resolves each kind once per file and remembers the outcome (class or failure)."""

    def __init__(self, resolve: KindResolver) -> None:
        self._resolve = resolve
        self._seen: dict[str, type[Check[Any]] | str] = {}

    def get(self, kind: str) -> type[Check[Any]] | str:
        """The check class, or the message saying why there is none."""
        if kind not in self._seen:
            try:
                self._seen[kind] = self._resolve(kind)
            except UnknownKind as e:
                installed = ", ".join(e.available) or "none"
                self._seen[kind] = (f"unknown check kind {quoted(kind)}"
                                    f"{did_you_mean(kind, e.available)} (installed: {installed})")
            except Exception as e:  # a broken plugin must not hide the other issues
                self._seen[kind] = f"check kind {quoted(kind)} cannot be loaded: {e}"
        return self._seen[kind]


def parse_checks(data: Any, agent: AgentSettings, defaults: AlertPolicy,
                 resolve_kind: KindResolver, report: Reporter) -> ParsedChecks:
    """Validate the ``checks:`` list; report every problem, return the valid entries."""
    out = ParsedChecks()
    path: YamlPath = ("checks",)
    if data is None:
        return out
    if not isinstance(data, list):
        report.add(path, f"expected a list of checks, got {report.show(path, data)}")
        return out
    kinds = _Kinds(resolve_kind)
    first_seen: dict[str, YamlPath] = {}
    for index, entry in enumerate(data):
        epath: YamlPath = (*path, index)
        if not isinstance(entry, dict):
            report.add(epath, f"expected a mapping with kind and options, "
                              f"got {report.show(epath, entry)}")
            continue
        before = report.count()
        check = _parse_entry(entry, epath, agent=agent, defaults=defaults, kinds=kinds,
                             report=report)
        name = _name_of(entry)
        if name is not None:
            out.names.append(name)
            _check_unique(name, entry, epath, first_seen, report)
        if check is not None and report.count() == before:
            out.checks.append(check)
    _check_dependencies(data, out.names, report)
    return out


def _check_dependencies(data: list[Any], names: list[str], report: Reporter) -> None:
    """Every name under ``depends_on`` is a check, not the check itself, and no chain of
    them comes back to where it started."""
    from agent.alerting.dependencies import cycle

    known = set(names)
    graph: dict[str, list[str]] = {}
    where: dict[str, YamlPath] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("depends_on"), list):
            continue
        name = _name_of(entry)
        dpath: YamlPath = ("checks", index, "depends_on")
        parents = [p for p in entry["depends_on"] if isinstance(p, str)]
        for parent in parents:
            if parent == name:
                report.add(dpath, f"check {name!r} cannot depend on itself")
            elif parent not in known:
                report.add(dpath, f"no check is named {parent!r}")
        if name is not None:
            graph[name] = [p for p in parents if p in known and p != name]
            where[name] = dpath
    found = cycle(graph)
    if found is not None:
        report.add(where[found[0]], "dependencies go round in a circle: "
                                    + " -> ".join(found))


def _parse_entry(entry: dict[str, Any], path: YamlPath, *, agent: AgentSettings,
                 defaults: AlertPolicy, kinds: _Kinds, report: Reporter) -> CheckConfig | None:
    kind = entry.get("kind")
    cls: type[Check[Any]] | None = None
    if "kind" not in entry:
        report.add(path, "missing required key 'kind'")
    elif not isinstance(kind, str):
        report.add((*path, "kind"), f"expected a check kind name, "
                                    f"got {report.show((*path, 'kind'), kind)}")
    else:
        found = kinds.get(kind)
        if isinstance(found, str):
            report.add((*path, "kind"), found)
        else:
            cls = found

    common = report.validate(
        _CommonKeys, {k: v for k, v in entry.items() if k in _CommonKeys.model_fields}, path)
    options: Any = None
    if cls is not None:
        option_data = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
        options = report.validate(cls.Options, option_data, path, extra_keys=COMMON_KEYS)
    kind_rules = (cls.default_thresholds(options)
                  if cls is not None and options is not None else {})
    thresholds = parse_thresholds(entry.get("thresholds"), (*path, "thresholds"),
                                  cls.metrics if cls is not None else frozenset(),
                                  kind if isinstance(kind, str) else "?", report,
                                  defaults=kind_rules)
    if cls is None or common is None or options is None or not isinstance(kind, str):
        return None
    policy = AlertPolicy(
        repeat_interval=(common.repeat_interval if common.repeat_interval is not None
                         else defaults.repeat_interval),
        send_resolved=(common.send_resolved if common.send_resolved is not None
                       else defaults.send_resolved),
        flap_window=defaults.flap_window,
        flap_changes=(common.flap_changes if common.flap_changes is not None
                      else defaults.flap_changes))
    return CheckConfig(
        name=common.name or kind, kind=kind,
        interval=common.interval if common.interval is not None else agent.interval,
        timeout=common.timeout if common.timeout is not None else agent.timeout,
        tags=common.tags, enabled=common.enabled, public=common.public, policy=policy,
        thresholds=thresholds, options=options,
        runbook=common.runbook.strip() if common.runbook else None,
        depends_on=common.depends_on, on_firing=common.on_firing,
        on_resolved=common.on_resolved, recurrence=common.recurrence, slo=common.slo)


def _name_of(entry: dict[str, Any]) -> str | None:
    name = entry.get("name")
    if name is None:
        name = entry.get("kind")
    return name if isinstance(name, str) and name else None


def _check_unique(name: str, entry: dict[str, Any], path: YamlPath,
                  first_seen: dict[str, YamlPath], report: Reporter) -> None:
    if name not in first_seen:
        first_seen[name] = path
        return
    line = report.lines.line_of((*first_seen[name], "name"))
    if "name" in entry:
        report.add((*path, "name"), f"duplicate check name {quoted(name)} (first at line {line})")
    else:
        report.add(path, f"duplicate check name {quoted(name)} (first at line {line}); the name "
                         "defaults to the kind, so give each of these checks a name")
