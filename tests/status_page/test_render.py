"""The page as written: escaped, self-contained, and its JSON twin."""

from __future__ import annotations

import json
import re

import pytest

from agent.alerting.state import Phase
from agent.model import Status
from agent.status_page.build import build_page
from agent.status_page.render import JSON_SCHEMA, render_html, render_json, spark_points
from agent.status_page.sources import NoHistory
from tests.chromium import parse
from tests.status_page.history_fake import FakeHistory
from tests.status_page.test_build import DAY, NOW, incident, snapshot, state

HOSTILE = '<img src=x onerror="alert(1)">&amp;"\'</li><script>alert(2)</script>'


def hostile_page() -> str:
    name = f"web {HOSTILE}"
    snap = snapshot(state(name, Phase.FIRING, Status.CRITICAL, f"down: {HOSTILE}"),
                    incidents=(incident(1, name, opened=NOW - 600, lasted=None,
                                        why=f"refused {HOSTILE}"),),
                    public=(name,), private=("secret-db-7f3a",), ran=frozenset({name}))
    return render_html(build_page(snap, NoHistory(), NOW, title=f"Acme {HOSTILE}"))


def test_names_and_reasons_are_text_never_markup() -> None:
    doc = parse(hostile_page())
    assert doc.find_all("script") == [] and doc.find_all("img") == []
    card = doc.find("li", class_="check")
    assert card.attrs["data-check"] == f"web {HOSTILE}"
    assert card.find("h3").text == f"web {HOSTILE}"
    assert card.find("p", class_="note").text == f"down: {HOSTILE}"
    assert doc.find("p", class_="why").text == f"refused {HOSTILE}"
    assert doc.find("title").text == f"Acme {HOSTILE}"
    assert doc.find("h1").text == f"Acme {HOSTILE}"


def test_the_page_loads_nothing_and_runs_nothing() -> None:
    doc = parse(hostile_page())
    assert [e.tag for e in doc.walk() if {"src", "href", "action", "style"} & set(e.attrs)] == []
    assert not re.search(r"url\(|@import", doc.find("style").text, re.I)
    assert not doc.find_all("link") and not doc.find_all("iframe")
    csp = doc.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert doc.find("meta", name="viewport").attrs["content"] == \
        "width=device-width, initial-scale=1"
    assert "prefers-color-scheme:dark" in doc.find("style").text


def test_a_check_not_public_is_named_nowhere() -> None:
    assert "secret-db-7f3a" not in hostile_page()


def test_every_day_has_a_tooltip_and_a_label() -> None:
    history = FakeHistory(days={"web": [1.0] * 89 + [0.9]})
    doc = parse(render_html(build_page(snapshot(), history, NOW)))
    days = doc.find("li", data_check="web").find_all("li", class_="day")
    assert len(days) == 90
    assert all(d.attrs["title"] == d.find("span", class_="sr").text for d in days)
    assert days[-1].attrs == {"class": "day down", "title": "2025-12-01: 90.00% up"}
    assert days[0].attrs["title"] == "2025-09-03: 100% up"


@pytest.mark.parametrize(("values", "lines"), [
    ([None, None], []),
    ([10.0, 20.0], ["0.00,15.00 100.00,2.00"]),
    ([0.0, 10.0, None, 5.0], ["0.00,28.00 33.33,2.00", "99.40,15.00 100.00,15.00"]),
    ([None, 4.0, None], ["49.40,2.00 50.60,2.00"]),     # a lone value is a short dash
    ([0.0, 0.0], ["0.00,28.00 100.00,28.00"]),          # all zero: along the bottom
])
def test_the_sparkline_breaks_at_gaps_and_scales_from_zero(values: list[float | None],
                                                           lines: list[str]) -> None:
    assert spark_points(values) == lines


def test_the_json_document_carries_the_figures() -> None:
    history = FakeHistory(uptimes={"web": {DAY: 0.999}})
    snap = snapshot(state("api", Phase.FIRING, Status.CRITICAL),
                    incidents=(incident(1, "api", opened=NOW - 600, lasted=None),))
    doc = json.loads(render_json(build_page(snap, history, NOW, title="Acme")))
    assert doc["schema"] == JSON_SCHEMA
    assert (doc["title"], doc["state"], doc["generated_at"]) == ("Acme", "down",
                                                                 "2025-12-01T14:40:00Z")
    assert doc["checks"] == [
        {"name": "web", "state": "up", "uptime": {"24h": 0.999, "30d": None, "90d": None}},
        {"name": "api", "state": "down", "uptime": {"24h": None, "30d": None, "90d": None}}]
    assert doc["incidents"] == [{
        "id": "i001", "check": "api", "state": "down", "title": "Outage",
        "why": "connection refused", "started_at": "2025-12-01T14:29:00Z",
        "resolved_at": None, "duration_seconds": 660.0}]
