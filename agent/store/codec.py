"""Encoding of alert values to and from what SQLite holds (columns and JSON text)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey, Labels, Status

#: The alert_states columns in the order ``state_to_row`` produces them.
STATE_COLUMNS = (
    "key", "host", "check_name", "metric", "labels", "phase", "severity", "problem_since",
    "problem_samples", "fired_at", "recovering_since", "recovering_samples",
    "last_notified_at", "updated_at", "incident", "why", "value", "threshold", "episode",
    "emitted", "history", "history_len", "flapping",
)


def labels_to_json(labels: Labels) -> str:
    return json.dumps([list(pair) for pair in labels])


def labels_from_json(text: str) -> Labels:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def state_to_row(state: AlertState) -> tuple[Any, ...]:
    """The alert_states row of a state, in ``STATE_COLUMNS`` order."""
    k = state.key
    return (
        k.as_text(), k.host, k.check, k.metric, labels_to_json(k.labels), state.phase.value,
        state.severity.value, state.problem_since, state.problem_samples, state.fired_at,
        state.recovering_since, state.recovering_samples, state.last_notified_at,
        state.updated_at, state.incident, state.why, state.value, state.threshold,
        state.episode, state.emitted, state.history, state.history_len, int(state.flapping),
    )


def state_from_row(row: sqlite3.Row | Mapping[str, Any]) -> AlertState:
    """Rebuild an AlertState from an alert_states row (a sqlite3.Row or a dict).

    A row from before episodes and events were counted (no ``episode``/``emitted``, or
    NULL there) reads as 0: its next incident is numbered 1, its next event too.
    """
    key = AlertKey(row["host"], row["check_name"], row["metric"],
                   labels_from_json(row["labels"]))
    return AlertState(
        key=key,
        phase=Phase(row["phase"]),
        severity=Status(row["severity"]),
        problem_since=row["problem_since"],
        problem_samples=int(row["problem_samples"]),
        fired_at=row["fired_at"],
        recovering_since=row["recovering_since"],
        recovering_samples=int(row["recovering_samples"]),
        last_notified_at=row["last_notified_at"],
        updated_at=row["updated_at"],
        incident=row["incident"],
        why=row["why"],
        value=row["value"],
        threshold=row["threshold"],
        episode=_count(row, "episode"),
        emitted=_count(row, "emitted"),
        history=_count(row, "history"),
        history_len=_count(row, "history_len"),
        flapping=bool(_count(row, "flapping")),
    )


def event_to_json(event: AlertEvent) -> str:
    """The event as compact JSON (every field, so that it reads back equal)."""
    k = event.key
    return json.dumps({
        "kind": event.kind.value,
        "key": {"host": k.host, "check": k.check, "metric": k.metric,
                "labels": [list(pair) for pair in k.labels]},
        "severity": event.severity.value,
        "at": event.at,
        "incident": event.incident,
        "why": event.why,
        "value": event.value,
        "threshold": event.threshold,
        "since": event.since,
        "duration": event.duration,
        "previous_severity": (event.previous_severity.value
                              if event.previous_severity is not None else None),
        "tags": list(event.tags),
        "seq": event.seq,
        **({"runbook": event.runbook} if event.runbook else {}),
        **({"dependents": list(event.dependents)} if event.dependents else {}),
        **({"grouped": list(event.grouped)} if event.grouped else {}),
        **({"action": event.action} if event.action else {}),
        **({"where": event.where} if event.where else {}),
    }, separators=(",", ":"))


def event_from_json(text: str) -> AlertEvent:
    """Rebuild an AlertEvent from ``event_to_json`` output (one stored before events were
    numbered has ``seq`` 0, and keeps the delivery key it was queued with)."""
    d = json.loads(text)
    k = d["key"]
    prev = d.get("previous_severity")
    return AlertEvent(
        kind=EventKind(d["kind"]),
        key=AlertKey(k["host"], k["check"], k["metric"],
                     tuple((str(a), str(b)) for a, b in k["labels"])),
        severity=Status(d["severity"]),
        at=float(d["at"]),
        incident=d["incident"],
        why=d["why"],
        value=_opt_float(d.get("value")),
        threshold=d.get("threshold"),
        since=_opt_float(d.get("since")),
        duration=_opt_float(d.get("duration")),
        previous_severity=Status(prev) if prev is not None else None,
        tags=tuple(d.get("tags", ())),
        seq=int(d.get("seq") or 0),
        runbook=d.get("runbook") or None,
        dependents=tuple(str(c) for c in d.get("dependents", ())),
        grouped=tuple(str(c) for c in d.get("grouped", ())),
        action=d.get("action") or None,
        where=d.get("where") or None,
    )


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _count(row: sqlite3.Row | Mapping[str, Any], column: str) -> int:
    """A counter column, 0 when the row has no such column or NULL in it."""
    names = row.keys()
    return int(row[column] or 0) if column in names else 0
