"""An email's threading and headers: one conversation per incident, nothing a URL's
``+Header=value`` or an alert's text can forge or break."""

from __future__ import annotations

import email
import email.policy

import pytest

from agent.notify.email_format import mime_message, thread_headers
from agent.notify.protocol import WireMessage

DATE = "Tue, 14 Nov 2023 22:13:20 +0000"


def wire(ref: str = "abc-17.1:2", incident: str = "abc-17.1", title: str = "CRITICAL x",
         alerts: int = 1) -> WireMessage:
    return WireMessage(title, "Severity: CRITICAL", "critical", "failure",
                       (("Status", "CRITICAL"),), incident, ref, alerts)


@pytest.mark.parametrize(("message", "headers"), [
    (wire(ref="abc-17.1:1"), {"Message-ID": "<abc-17.1.1@example.com>"}),
    (wire(ref="abc-17.1:2"), {"Message-ID": "<abc-17.1.2@example.com>",
                              "In-Reply-To": "<abc-17.1.1@example.com>",
                              "References": "<abc-17.1.1@example.com>"}),
    # An event queued before events were numbered: still in its incident's thread.
    (wire(ref="abc-17:resolved:1700000300", incident="abc-17"),
     {"Message-ID": "<abc-17.resolved.1700000300@example.com>",
      "In-Reply-To": "<abc-17.1@example.com>", "References": "<abc-17.1@example.com>"}),
    (wire(ref="", incident="", alerts=3), {}),  # a group: a conversation of its own
])
def test_every_message_of_an_incident_answers_its_first(message: WireMessage,
                                                        headers: dict[str, str]) -> None:
    assert thread_headers(message, "example.com") == headers


def test_headers_from_the_url_are_added_but_never_replace_or_inject() -> None:
    mail = mime_message(
        wire(title="CRITICAL web1\r\nBcc: victim@example.com http: down"),
        ("Watch", "alerts@example.com"), ("", "ops@example.com"), date=DATE,
        headers={"X-Team": "web\r\nBcc: victim@example.com", "Message-ID": "<forged@x>",
                 "Bad Name": "x", "Subject": "forged"})
    parsed = email.message_from_string(mail.as_string(), policy=email.policy.default)
    assert parsed["X-Team"] == "web Bcc: victim@example.com"
    assert parsed.get_all("Message-ID") == ["<abc-17.1.2@example.com>"]
    assert parsed.get_all("Subject") == ["CRITICAL web1 Bcc: victim@example.com http: down"]
    assert parsed["Bcc"] is None and parsed["Bad Name"] is None
    assert parsed["From"] == "Watch <alerts@example.com>"


def test_a_sender_domain_unfit_for_a_message_id_is_replaced() -> None:
    mail = mime_message(wire(), ("", "alerts@exa mple"), ("", "ops@example.com"), date=DATE)
    assert mail["Message-ID"] == "<abc-17.1.2@watchkeeper.invalid>"
