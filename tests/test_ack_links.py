"""Signed acknowledgement links: made and checked by the agent's key alone."""

from __future__ import annotations

import os
import stat
from http import HTTPStatus
from pathlib import Path

import pytest

from agent.ack_links import KEY_FILE, AckLinks, load_key
from agent.ack_page import AckEndpoint
from agent.alerting.state import AlertEvent, EventKind
from agent.http_wire import Request
from agent.incidents.record import Incident
from agent.model import AlertKey, Status

KEY = b"k" * 32
LINKS = AckLinks("https://mon.example.com:9110/", KEY)
INCIDENT = "7c73caf708fd-1796149421.1"


def test_a_link_names_its_incident_and_no_other() -> None:
    url = LINKS.url(INCIDENT)
    assert url.startswith("https://mon.example.com:9110/ack/7c73caf708fd-1796149421.1.")
    token = url.rsplit("/", 1)[1]
    assert LINKS.incident_of(token) == INCIDENT
    other = LINKS.token("7c73caf708fd-1796149421.2")
    assert other != token and LINKS.incident_of(other) == "7c73caf708fd-1796149421.2"


@pytest.mark.parametrize("token", [
    "",
    INCIDENT,                                                # no signature
    f"{INCIDENT}.",                                          # an empty one
    LINKS.token(INCIDENT)[:-1] + "A",                        # one character changed
    LINKS.token(INCIDENT).replace("1796149421.1", "1796149421.2", 1),  # another incident
    AckLinks("https://mon.example.com:9110", b"x" * 32).token(INCIDENT),  # another key
    "a" * 600 + "." + "b" * 22,                              # far too long
])
def test_a_link_not_made_with_this_key_for_this_incident_is_refused(token: str) -> None:
    assert LINKS.incident_of(token) is None


@pytest.mark.parametrize(("kind", "severity", "offered"), [
    (EventKind.FIRING, Status.CRITICAL, True),
    (EventKind.REMINDER, Status.WARNING, True),
    (EventKind.UNANSWERED, Status.CRITICAL, True),
    (EventKind.ESCALATED, Status.CRITICAL, True),
    (EventKind.RESOLVED, Status.OK, False),
    (EventKind.ACKNOWLEDGED, Status.CRITICAL, False),
    (EventKind.STABLE, Status.OK, False),
])
def test_messages_of_open_problems_offer_the_link(kind: EventKind, severity: Status,
                                                  offered: bool) -> None:
    ev = AlertEvent(kind, AlertKey("web1", "shop", "status"), severity, 0.0, INCIDENT, "down")
    assert (LINKS.offer(ev).ack_url is not None) is offered


def test_the_key_is_made_once_readable_by_the_agent_alone(tmp_path: Path) -> None:
    first = load_key(tmp_path)
    assert first is not None and len(first) == 32
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
    assert load_key(tmp_path) == first


def test_a_damaged_key_file_means_no_links_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    assert load_key(tmp_path) is None
    assert "does not hold a key of 32 bytes" in caplog.text


def _incident(acked: bool = False) -> Incident:
    return Incident(id=INCIDENT, host="web1", check="shop", metric="status",
                    key="web1/shop/status", opened_at=0.0, first_bad_at=0.0,
                    severity=Status.CRITICAL, worst=Status.CRITICAL, why="<b>refused</b>",
                    acked_at=1.0 if acked else None, acked_by="bob" if acked else None)


def _recording_page() -> tuple[AckEndpoint, list[tuple[str, str, str]]]:
    """The page of INCIDENT's link, and the acknowledgements it made (incident, by,
    comment)."""
    done: list[tuple[str, str, str]] = []

    def ack(incident: str, by: str, comment: str) -> Incident:
        done.append((incident, by, comment))
        return _incident(acked=True)

    return AckEndpoint(LINKS, lambda i: _incident() if i == INCIDENT else None, ack), done


def test_opening_a_link_never_acknowledges_only_the_button_does() -> None:
    page, done = _recording_page()
    path = "/ack/" + LINKS.token(INCIDENT)
    shown = page.answer(Request("GET", path, {}))
    assert shown.status is HTTPStatus.OK and done == []
    assert b'<form method="post">' in shown.body
    assert b"&lt;b&gt;refused&lt;/b&gt;" in shown.body  # escaped
    posted = page.answer(Request("POST", path, {}, b"by=alice++smith&comment=on+it"))
    assert posted.status is HTTPStatus.OK and b"Acknowledged" in posted.body
    assert done == [(INCIDENT, "alice smith", "on it")]
    forged = page.answer(Request("POST", path[:-1] + "x", {}, b""))
    assert forged.status is HTTPStatus.NOT_FOUND and len(done) == 1


def test_a_name_and_comment_from_the_form_keep_no_control_character() -> None:
    page, done = _recording_page()
    path = "/ack/" + LINKS.token(INCIDENT)
    page.answer(Request("POST", path, {}, b"by=eve%1B%5B2J&comment=on%0Ait%00%07"))
    assert done == [(INCIDENT, "eve\\x1b[2J", "on it\\x00\\x07")]


def test_a_link_of_a_resolved_incident_says_it_is_over() -> None:
    page = AckEndpoint(LINKS, lambda i: None, lambda *a: _incident())
    answer = page.answer(Request("POST", "/ack/" + LINKS.token(INCIDENT), {}, b""))
    assert answer.status is HTTPStatus.GONE and b"no longer open" in answer.body
