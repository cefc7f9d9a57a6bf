"""What Alertmanager is told (its API v2 ``postableAlert``), and which alerts are still
open for it. Pure: times are passed in.

An alert's identity in Alertmanager is its label set: ``alertname`` (the check's name),
``host``, ``check``, ``metric``, ``severity``, the series' own labels (a disk's
``mount``) and the check's tags (``team=ops`` as a label ``team``; plain words joined,
sorted, in ``tags``). A severity change is a new label set, so the old one is ended in the
same post. Open alerts carry an ``endsAt`` in the future and are posted again before it
passes; a resolve carries the moment it resolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey, Status
from agent.notify.message import effective_severity, render, render_test
from agent.notify.payload import AlertStatus, KindOf, rfc3339, started_at, status_of
from agent.units import format_value

if TYPE_CHECKING:
    from agent.alerting.settle import Routing

#: Labels every alert has; a series label or a tag of the same name is renamed ``label_*``.
RESERVED = frozenset({"alertname", "host", "check", "metric", "severity", "tags"})
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_URL = re.compile(r"^https?://\S+$")


def label_name(name: str) -> str:
    """``name`` as a valid label name not among the reserved ones (``mount-point`` ->
    ``mount_point``, ``host`` -> ``label_host``, ``1x`` -> ``_1x``)."""
    clean = _INVALID.sub("_", name) or "_"
    if not _LABEL_NAME.match(clean):
        clean = f"_{clean}"
    return f"label_{clean}" if clean in RESERVED else clean


def labels_of(key: AlertKey, severity: Status, tags: Sequence[str]) -> dict[str, str]:
    """The label set of one alert at one severity."""
    labels = {"alertname": key.check, "host": key.host, "check": key.check,
              "metric": key.metric, "severity": severity.value}
    words: list[str] = []
    for tag in tags:
        name, eq, value = tag.partition("=")
        if eq and name.strip() and value.strip():
            labels.setdefault(label_name(name.strip()), value.strip())
        elif tag.strip():
            words.append(tag.strip())
    if words:
        labels["tags"] = ",".join(sorted(set(words)))
    for name, value in key.labels:
        # Series labels tell the alerts of one check apart: they win over tags.
        labels[label_name(name)] = value
    return labels


@dataclass(frozen=True, slots=True)
class AlertContext:
    """What an alert needs besides its event: each check's kind and the URL to show as
    the alert's source."""

    kind_of: KindOf
    generator_url: Callable[[AlertKey], str]


def alerts_for(event: AlertEvent, ctx: AlertContext, now: float,
               ends_after: float) -> list[dict[str, Any]]:
    """The alerts that say what ``event`` tells, posted at ``now`` (the wall clock):
    the alert itself (open until ``now + ends_after``, or ended at its resolve) and,
    after a severity change, the label set it had before, ended."""
    severity = effective_severity(event)
    resolved = status_of(event) is AlertStatus.RESOLVED
    ends = event.at if resolved else now + ends_after
    out = [_alert(event, severity, ctx, ends)]
    prev = event.previous_severity
    if (event.kind in (EventKind.ESCALATED, EventKind.DEESCALATED) and prev is not None
            and prev is not severity and prev.is_problem):
        out.append(_alert(event, prev, ctx, event.at))
    return out


def ended(alert: Mapping[str, Any], at: float) -> dict[str, Any]:
    """``alert`` (as posted before) ended at ``at``."""
    return {**alert, "endsAt": rfc3339(at)}


def _alert(event: AlertEvent, severity: Status, ctx: AlertContext,
           ends: float) -> dict[str, Any]:
    key = event.key
    annotations = {"summary": _summary(event), "description": event.why,
                   "incident": event.incident}
    kind = ctx.kind_of(key.check)
    if kind:
        annotations["kind"] = kind
    if event.value is not None:
        annotations["value"] = format_value(key.metric, event.value)
    if event.threshold:
        annotations["threshold"] = event.threshold
    if event.runbook:
        name = "runbook_url" if _URL.match(event.runbook.strip()) else "runbook"
        annotations[name] = event.runbook.strip()
    if event.dependents:
        annotations["dependents"] = ", ".join(event.dependents)
    start = min(started_at(event), ends)
    return {"labels": labels_of(key, severity, event.tags),
            "annotations": {k: v for k, v in annotations.items() if v},
            "startsAt": rfc3339(start), "endsAt": rfc3339(ends),
            "generatorURL": ctx.generator_url(key)}


def _summary(event: AlertEvent) -> str:
    """The alert's title as it stands, whatever event restates it (an acknowledgement
    or a reminder is still the same open alert)."""
    if status_of(event) is AlertStatus.RESOLVED:
        return render(replace(event, kind=EventKind.RESOLVED)).title
    if event.kind in (EventKind.FIRING, EventKind.ESCALATED, EventKind.DEESCALATED):
        return render(event).title
    return render(replace(event, kind=EventKind.FIRING, previous_severity=None)).title


#: How long the alert of ``watchkeeper notify test`` stays open in Alertmanager.
TEST_OPEN_FOR = 300.0


def test_alert(host: str, now: float, url: str) -> dict[str, Any]:
    """The alert ``watchkeeper notify test`` posts: ``alertname=WatchkeeperTest``, open
    for five minutes, then ended by Alertmanager itself."""
    return {"labels": {"alertname": "WatchkeeperTest", "host": host, "severity": "info"},
            "annotations": {"summary": render_test(host, now).title,
                            "description": "This is a test notification; nothing is "
                                           "wrong."},
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + TEST_OPEN_FOR),
            "generatorURL": url}


# Not a test, despite its name: keep pytest from collecting it where it is imported.
test_alert.__test__ = False  # type: ignore[attr-defined]


def open_event(state: AlertState, now: float, tags: Sequence[str] = (),
               runbook: str | None = None) -> AlertEvent | None:
    """The event that restates a FIRING alert as it stands (posted again to keep it open
    in Alertmanager); None for an alert that is not firing."""
    if state.phase is not Phase.FIRING or not state.incident or not state.severity.is_problem:
        return None
    since = state.problem_since if state.problem_since is not None else state.fired_at
    return AlertEvent(kind=EventKind.FIRING, key=state.key, severity=state.severity,
                      at=now, incident=state.incident, why=state.why, value=state.value,
                      threshold=state.threshold, since=since, tags=tuple(tags),
                      runbook=runbook)


def open_events(states: Collection[AlertState], now: float, *,
                held: Collection[str] = (),
                tags: Mapping[str, Sequence[str]] | None = None,
                runbooks: Mapping[str, str] | None = None) -> list[AlertEvent]:
    """Every firing alert restated, but those of ``held`` incidents (a silence or a
    dependency held their FIRING back: Alertmanager never heard of them)."""
    out: list[AlertEvent] = []
    for state in states:
        if state.incident in held:
            continue
        check = state.key.check
        ev = open_event(state, now, (tags or {}).get(check, ()), (runbooks or {}).get(check))
        if ev is not None:
            out.append(ev)
    return out


def open_for(url: str, states: Collection[AlertState], now: float, *, routing: Routing,
             held: Collection[str] = (),
             escalated: Mapping[str, Sequence[str]] | None = None) -> list[AlertEvent]:
    """The firing alerts that go to the target ``url``: those its channels' routes send
    there, and those of incidents escalated to one of its channels."""
    channels = {name for name, ch in routing.channels.items() if url in ch.urls}
    if not channels:
        return []
    out: list[AlertEvent] = []
    for ev in open_events(states, now, held=held, tags=routing.tags,
                          runbooks=routing.runbooks):
        routed = {d.channel for d in routing.deliveries(ev)}
        routed.update((escalated or {}).get(ev.incident, ()))
        if routed & channels:
            out.append(routing.annotate(ev))
    return out
