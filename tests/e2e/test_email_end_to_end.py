"""Email, the channel most sysadmins start with: a real SMTP server on 127.0.0.1, and
the messages read back as a mail client reads them (MIME parts, table, threading)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from tests.e2e.agent_process import Agents, wait_until
from tests.ports import free_port
from tests.servers.receiver import Receiver
from tests.servers.smtp_server import Mail, SmtpTestServer

pytestmark = pytest.mark.slow

CONFIG = """
agent: {host: mailhost, state_dir: {state}, interval: 1s, group_window: 0s}
channels:
  email: ["{email}"]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {crit: "{limit}"}
"""

#: A long host and check name, so that the subject must be cut.
WEB_CONFIG = """
agent: {host: shop-frontend-eu-west-production-01, state_dir: {state}, interval: 1s,
       group_window: 0s}
channels:
  email: ["{email}"]
checks:
  - name: storefront-checkout-health-endpoint
    kind: http
    interval: 1s
    timeout: 2s
    url: "{url}"
    runbook: https://wiki.example.com/runbooks/checkout
"""


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


def _email_url(smtp: SmtpTestServer) -> str:
    return (f"mailto://alerts:${{file:smtp-password}}@127.0.0.1:{smtp.port}"
            "?from=alerts@example.com&to=ops@example.com&mode=insecure")


def parse(mail: Mail) -> EmailMessage:
    message = email.message_from_string(mail.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML part of a ``multipart/alternative`` message."""
    assert message.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in message.iter_parts())
    return text, html


class _Cells(HTMLParser):
    """The rows of an HTML table, as (header cell, data cell) texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1][-1] += data


def table(html: str) -> dict[str, str]:
    cells = _Cells()
    cells.feed(html)
    return {row[0]: row[1] for row in cells.rows if len(row) == 2}


def test_an_alert_and_its_resolve_arrive_by_email(agents: Agents, smtp: SmtpTestServer) -> None:
    (agents.tmp / "smtp-password").write_text("Sm7pS3cret\n")
    firing = agents.start(CONFIG, email=_email_url(smtp), limit="> 0")
    wait_until(lambda: smtp.mails, what="the alert's mail")
    assert firing.stop() == 0
    resolving = agents.start(CONFIG, email=_email_url(smtp), limit="> 1000")
    wait_until(lambda: len(smtp.mails) >= 2, what="the resolve's mail")
    assert resolving.stop() == 0
    assert [m.recipients for m in smtp.mails] == [["ops@example.com"], ["ops@example.com"]]
    assert smtp.mails[0].login == "alerts"
    first, second = (parse(m) for m in smtp.mails[:2])
    assert first["Subject"].startswith("CRITICAL mailhost mem: used_percent")
    assert second["Subject"].startswith("RESOLVED mailhost mem: used_percent")
    # One incident, one conversation, across the agent's restart.
    assert second["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in second["References"]
    assert "Sm7pS3cret" not in firing.log() + resolving.log()
    assert all("Sm7pS3cret" not in m.data for m in smtp.mails)


def test_an_email_names_what_failed_in_lines_and_a_table_threaded_to_its_resolve(
        agents: Agents, smtp: SmtpTestServer) -> None:
    (agents.tmp / "smtp-password").write_text("Sm7pS3cret\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}/health?token=Q7zT0kenValue99&lang=en"
    shown = f"http://127.0.0.1:{port}/health?token=****&lang=en"
    site = Receiver(port=port)
    agent = agents.start(WEB_CONFIG, email=_email_url(smtp), url=url)
    try:
        wait_until(lambda: smtp.mails, what="the alert's mail")
        site.start()  # the site comes back: the same agent resolves the same incident
        wait_until(lambda: len(smtp.mails) >= 2, what="the resolve's mail")
    finally:
        site.stop()
        assert agent.stop() == 0
    firing, resolved = (parse(m) for m in smtp.mails[:2])

    # The subject: under 80 characters, cut after a whole word of the title.
    subject = firing["Subject"]
    assert len(subject) < 80 and subject.endswith("...")
    text, html = parts(firing)
    title = text.splitlines()[0]
    kept = subject.removesuffix("...")
    assert title.startswith(kept) and title[len(kept)] == " "

    # The text part: real lines, one fact a line, what failed named.
    lines = text.splitlines()
    assert lines[1] == ""
    facts = {ln.split(None, 1)[0]: ln.split(None, 1)[1] for ln in lines[2:] if ln.strip()
             and not ln.startswith("key:")}
    assert facts["Status"] == "CRITICAL"
    assert facts["Where"] == shown
    assert facts["Runbook"] == "https://wiki.example.com/runbooks/checkout"
    assert facts["Since"].endswith("ago)")
    assert facts["Incident"]

    # The HTML part: the same facts as table cells.
    cells = table(html)
    assert cells["Status"] == "CRITICAL"
    assert cells["What"] == ("storefront-checkout-health-endpoint on "
                             "shop-frontend-eu-west-production-01")
    assert cells["Where"] == shown
    assert cells["Incident"] == facts["Incident"]
    assert cells["Runbook"] == "https://wiki.example.com/runbooks/checkout"
    assert 'href="https://wiki.example.com/runbooks/checkout"' in html
    assert "Q7zT0kenValue99" not in smtp.mails[0].data + smtp.mails[1].data

    # The resolve: its own table, in the same conversation.
    r_text, r_html = parts(resolved)
    r_cells = table(r_html)
    assert "Status    RESOLVED (was CRITICAL)" in r_text.splitlines()
    assert resolved["Subject"].startswith("RESOLVED shop-frontend-eu-west-production-01")
    assert len(resolved["Subject"]) < 80
    assert r_cells["Status"] == "RESOLVED (was CRITICAL)"
    assert r_cells["Incident"] == cells["Incident"]
    assert "lasted" in r_cells["Resolved"]
    assert resolved["Message-ID"] != firing["Message-ID"]
    assert resolved["In-Reply-To"] == firing["Message-ID"]
    assert resolved["References"] == firing["Message-ID"]
    assert firing["In-Reply-To"] is None
