"""The ``watchkeeper.alert/v1`` document a webhook receives: built from the events
themselves, never parsed back out of a message's text.

One document per notification. Its top-level fields describe the notification's lead
alert (the only one, unless the channel groups an alert storm into one message); its
``alerts`` list every alert the notification carries, the lead included, each with the
same fields. The schema is ``agent/notify/schema/watchkeeper.alert.v1.json``: a change
that could break a receiver gets a new version, never an edit of v1.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from agent.alerting.state import AlertEvent, EventKind
from agent.model import Status
from agent.notify.message import effective_severity, render, render_group, render_test

SCHEMA = "watchkeeper.alert/v1"
#: The ``event`` of ``watchkeeper notify test``'s document (no alert is behind it).
TEST_EVENT = "test"
#: The schema file, shipped in the package beside this module.
SCHEMA_FILE = "watchkeeper.alert.v1.json"

#: The check kind of a check name (None: no longer configured).
KindOf = Callable[[str], str | None]


class AlertStatus(enum.Enum):
    """Whether an alert is open or over, whatever event announced it."""

    FIRING = "firing"
    RESOLVED = "resolved"


def status_of(event: AlertEvent) -> AlertStatus:
    """RESOLVED for a resolve, and for a flapping alert that settled OK; else FIRING
    (an acknowledgement or a reminder leaves the alert open)."""
    if event.kind is EventKind.RESOLVED or (
            event.kind is EventKind.STABLE and event.severity is Status.OK):
        return AlertStatus.RESOLVED
    return AlertStatus.FIRING


def rfc3339(ts: float) -> str:
    """``2024-05-01T12:00:00Z``: the second ``ts`` falls in (RFC 3339, UTC)."""
    return datetime.fromtimestamp(math.floor(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def started_at(event: AlertEvent) -> float:
    """When the problem began: its first bad sample, else its resolve less its duration,
    else the event itself."""
    if event.since is not None:
        return event.since
    if event.duration is not None:
        return event.at - event.duration
    return event.at


@dataclass(frozen=True, slots=True)
class AlertFields:
    """One alert as the document gives it (see the schema for each field)."""

    event: str
    key: str
    incident: str
    severity: str
    previous_severity: str | None
    status: str
    host: str
    check: str
    kind: str | None
    metric: str
    labels: dict[str, str]
    value: float | None
    threshold: str | None
    why: str
    summary: str
    at: str
    started_at: str
    resolved_at: str | None
    duration_seconds: float | None
    runbook: str | None
    tags: list[str]
    dependents: list[str]
    action: str | None
    #: Optional in v1 (receivers of older agents never see them).
    grouped: list[str] = field(default_factory=list)
    ack_url: str | None = None
    held_by: str | None = None

    @classmethod
    def of(cls, event: AlertEvent, kind_of: KindOf) -> AlertFields:
        """The fields of ``event`` (``kind_of`` names its check's kind)."""
        key = event.key
        status = status_of(event)
        resolved = status is AlertStatus.RESOLVED
        start = started_at(event)
        value = event.value if event.value is None or math.isfinite(event.value) else None
        prev = event.previous_severity
        return cls(
            event=event.kind.value, key=event.dedup_key, incident=event.incident,
            severity=effective_severity(event).value,
            previous_severity=prev.value if prev is not None else None,
            status=status.value, host=key.host, check=key.check, kind=kind_of(key.check),
            metric=key.metric, labels=dict(key.labels), value=value,
            threshold=event.threshold, why=event.why, summary=render(event).title,
            at=rfc3339(event.at), started_at=rfc3339(start),
            resolved_at=rfc3339(event.at) if resolved else None,
            duration_seconds=max(0.0, event.at - start) if resolved else None,
            runbook=event.runbook, tags=list(event.tags), dependents=list(event.dependents),
            action=event.action, grouped=list(event.grouped), ack_url=event.ack_url,
            held_by=event.held)


def _lead(events: Sequence[AlertEvent]) -> AlertEvent:
    """The alert a grouped notification is about first: the worst one still firing, the
    earliest of equals; the first when all are resolved."""
    firing = [e for e in events if status_of(e) is AlertStatus.FIRING]
    if not firing:
        return events[0]
    worst = Status.worst([effective_severity(e) for e in firing])
    return next(e for e in firing if effective_severity(e) is worst)


def document(events: Sequence[AlertEvent], kind_of: KindOf) -> dict[str, Any]:
    """The v1 document of one notification about ``events`` (one, or a group)."""
    if not events:
        raise ValueError("a notification needs at least one event")
    alerts = [AlertFields.of(e, kind_of) for e in events]
    lead = alerts[events.index(_lead(events))]
    top = asdict(lead)
    if len(events) > 1:
        top["summary"] = render_group(events).title
    return {"schema": SCHEMA, **top, "alerts": [asdict(a) for a in alerts]}


def test_document(host: str, now: float) -> dict[str, Any]:
    """The document ``watchkeeper notify test`` sends: ``event`` ``test``, status
    ``resolved`` (a receiver that opens tickets for what fires opens none for it)."""
    stamp = rfc3339(now)
    alert = AlertFields(
        event=TEST_EVENT, key=f"test:{int(now)}", incident=f"test-{int(now)}",
        severity=Status.OK.value, previous_severity=None,
        status=AlertStatus.RESOLVED.value, host=host, check="watchkeeper", kind=None,
        metric="status", labels={}, value=None, threshold=None,
        why="This is a test notification; nothing is wrong.",
        summary=render_test(host, now).title, at=stamp, started_at=stamp,
        resolved_at=stamp, duration_seconds=0.0, runbook=None, tags=[], dependents=[],
        action=None)
    return {"schema": SCHEMA, **asdict(alert), "alerts": [asdict(alert)]}


# Not a test, despite its name: keep pytest from collecting it where it is imported.
test_document.__test__ = False  # type: ignore[attr-defined]


def encode(doc: Mapping[str, Any]) -> bytes:
    """The body posted: compact UTF-8 JSON (what a signature is computed over)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode()


def schema() -> dict[str, Any]:
    """The JSON Schema of v1 documents, as shipped."""
    text = resources.files("agent.notify").joinpath("schema", SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
