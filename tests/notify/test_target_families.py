"""The Apprise child sends each family its own form, to real local servers: email as a
threaded two-part MIME message (SMTP), chat as markdown (a Mattermost webhook), SMS as
the title alone (an SMSEagle gateway)."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import apprise
import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.model import AlertKey, Status
from agent.notify.formats import Family, for_family
from agent.notify.message import render, render_group
from agent.notify.plugin_send import target_family
from agent.notify.protocol import WireMessage, encode_send
from tests.servers.receiver import Receiver
from tests.servers.smtp_server import SmtpTestServer

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
KEY = AlertKey("shop1", "storefront", "status")
FIRING = AlertEvent(EventKind.FIRING, KEY, Status.CRITICAL, T0, "a1b2c3d4e5f6-1699999940",
                    "connection refused", since=T0 - 60, seq=1,
                    where="https://shop.example.com/cart")
RESOLVED = AlertEvent(EventKind.RESOLVED, KEY, Status.OK, T0 + 300, "a1b2c3d4e5f6-1699999940",
                      "200 OK", since=T0 - 60, duration=300,
                      previous_severity=Status.CRITICAL, seq=2,
                      where="https://shop.example.com/cart")
OTHER = AlertEvent(EventKind.FIRING, AlertKey("shop1", "disk", "used_percent"),
                   Status.WARNING, T0, "0f0e0d0c0b0a-1700000000", "used_percent 91 > 90",
                   value=91.0, threshold="> 90", seq=1)


def send(urls: list[str], events: list[list[AlertEvent]]) -> list[dict[str, object]]:
    messages = [render(e[0]) if len(e) == 1 else render_group(e) for e in events]
    proc = subprocess.run([sys.executable, "-m", "agent.notify.apprise_child"],
                          input=encode_send(urls, messages), capture_output=True, timeout=60,
                          cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    *answers, done = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert done["done"] is True
    return answers


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()


def _parsed(data: str) -> EmailMessage:
    message = email.message_from_string(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_is_two_parts_threaded_per_incident_to_every_recipient(
        smtp: SmtpTestServer) -> None:
    url = (f"mailto://alerts:Sm7pS3cret@127.0.0.1:{smtp.port}?from=Watch <alerts@example.com>"
           "&to=ops@example.com,oncall@example.com&cc=boss@example.com"
           "&bcc=audit@example.com&mode=insecure&+X-Team=web&+Message-ID=<forged@x>")
    answers = send([url], [[FIRING], [RESOLVED], [FIRING, OTHER]])
    assert [a["ok"] for a in answers] == [True, True, True], answers
    assert len(smtp.mails) == 6  # each message once per To: recipient
    by_to: dict[str, list[EmailMessage]] = {}
    for mail in smtp.mails:
        message = _parsed(mail.data)
        by_to.setdefault(str(message["To"]), []).append(message)
        assert "audit@example.com" in mail.recipients and "boss@example.com" in mail.recipients
        assert "audit@example.com" not in mail.data  # bcc: delivered, never shown
        assert "Sm7pS3cret" not in mail.data
        assert message["X-Team"] == "web"
        assert message.get_all("Message-ID") == [message["Message-ID"]]  # one, ours
        assert "forged" not in message["Message-ID"]
        assert message["Cc"] == "boss@example.com"
        assert message["From"] == "Watch <alerts@example.com>"
        kinds = [p.get_content_type() for p in message.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
    assert sorted(by_to) == ["oncall@example.com", "ops@example.com"]
    for first, resolve, group in by_to.values():
        assert first["Message-ID"] == "<a1b2c3d4e5f6-1699999940.1@example.com>"
        assert first["In-Reply-To"] is None
        assert resolve["In-Reply-To"] == first["Message-ID"]
        assert resolve["References"] == first["Message-ID"]
        # A group spans incidents: a conversation of its own.
        assert group["In-Reply-To"] is None and group["Message-ID"] != first["Message-ID"]
        text = next(group.iter_parts()).get_content()
        assert "CRITICAL  shop1 storefront: connection refused at " \
               "https://shop.example.com/cart" in text.splitlines()


def test_an_email_that_cannot_be_delivered_fails_and_says_why_without_the_password(
        ) -> None:
    from tests.ports import free_port

    url = (f"mailto://alerts:Sm7pS3cret@127.0.0.1:{free_port()}?from=alerts@example.com"
           "&to=ops@example.com&mode=insecure")
    [answer] = send([url], [[FIRING]])
    assert answer["ok"] is False and answer["permanent"] is False
    assert "Connection error" in str(answer["error"])
    assert "Sm7pS3cret" not in str(answer["error"])


def test_chat_gets_a_title_and_a_short_markdown_body() -> None:
    with Receiver() as hook:
        url = f"mmost://127.0.0.1:{hook.port}/abcdefghijklmnopqrstuvwxyz"
        answers = send([url], [[FIRING]])
        [request] = hook.wait_for_requests(1)
    assert answers[0]["ok"] is True, answers
    text = json.loads(request.body)["text"]
    title, *body = text.splitlines()
    assert "CRITICAL shop1 storefront: connection refused" in title
    assert "**Where:** <https://shop.example.com/cart>" in body
    assert "**Incident:** `a1b2c3d4e5f6-1699999940`" in body
    assert len(body) <= 6


def test_an_sms_is_the_title_alone() -> None:
    with Receiver() as gateway:
        url = f"smseagle://Tok3nAbcdef12345@127.0.0.1:{gateway.port}/+15551234567"
        send([url], [[FIRING]])
        [request] = gateway.wait_for_requests(1)
    sent = json.dumps(json.loads(request.body))
    assert "CRITICAL shop1 storefront: connection refused" in sent
    assert "Incident" not in sent and "shop.example.com" not in sent


@pytest.mark.parametrize(("url", "family"), [
    ("mailto://user:pw@example.com", Family.EMAIL),
    ("mailtos://user:pw@smtp.example.com?to=a@example.com", Family.EMAIL),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops", Family.CHAT),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", Family.CHAT),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", Family.CHAT),
    ("twilio://ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb@"
     "+15551234567/+15557654321", Family.SMS),
    ("sns://AHIAJGNT76XIMXDBIJYA/bu1dHSdO22pfaaVy/us-east-2/+15551234567", Family.SMS),
    ("smseagle://Tok3nAbcdef12345@127.0.0.1:8080/+15551234567", Family.SMS),
    ("sendgrid://SG.abcd1234efgh5678ijkl:alerts@example.com/ops@example.com",
     Family.EMAIL_API),
    ("json://127.0.0.1:8080/hook", Family.PLAIN),
    ("ntfy://ntfy.sh/alerts", Family.PLAIN),
])
def test_each_apprise_plugin_falls_in_its_family(url: str, family: Family) -> None:
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    assert target_family(plugin, url) is family


@pytest.mark.parametrize(("url", "line"), [
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",
     "*Value:* `91% (threshold > 90)`"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
     "*Value:* `91% (threshold &gt; 90)`"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "**Value:** `91% (threshold > 90)`"),
])
def test_chat_markdown_becomes_each_services_own_markup(url: str, line: str) -> None:
    shown = for_family(Family.CHAT, WireMessage.of(render(OTHER)))
    plugin = apprise.Apprise.instantiate(url)
    assert plugin is not None
    converted = plugin.dialect_convert(shown.body, apprise.NotifyFormat.MARKDOWN)
    assert line in converted.splitlines()
