"""Rows of the ``learned`` table: what learned thresholds learned, one row per series.

The row keeps the series' key text (``host/check/metric{labels}``) as its primary key and
the check, metric and labels beside it, so rows can be listed by check; the host is the
head of the key text.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from agent.model import AlertKey
from agent.store.codec import labels_from_json, labels_to_json

UPSERT = (
    "INSERT INTO learned (key, check_name, metric, labels, data, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "data = excluded.data, updated_at = excluded.updated_at"
)
SELECT_DATA = "SELECT data FROM learned WHERE key = ?"
SELECT_KEYS = "SELECT key, check_name, metric, labels FROM learned"


def to_row(key: AlertKey, data: bytes, now: float) -> tuple[Any, ...]:
    """The learned row of a series, in ``UPSERT`` order."""
    return (key.as_text(), key.check, key.metric, labels_to_json(key.labels),
            sqlite3.Binary(data), now)


def key_from_row(row: sqlite3.Row) -> AlertKey:
    """The AlertKey of a learned row; ValueError when the columns do not fit the key text."""
    check, metric = str(row["check_name"]), str(row["metric"])
    labels = labels_from_json(row["labels"])
    text = str(row["key"])
    # The key text is host/check/metric{labels}: the host is whatever precedes the rest.
    tail = AlertKey("", check, metric, labels).as_text()[1:]
    host = text[:-len(tail) - 1] if text.endswith("/" + tail) else ""
    if not host:
        raise ValueError(f"key {text!r} does not match check {check!r} and metric {metric!r}")
    return AlertKey(host, check, metric, labels)
