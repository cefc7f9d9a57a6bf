"""Secrets in Apprise URLs and in error texts never show."""

from __future__ import annotations

import pytest

from agent.notify.masking import looks_secret, mask_text, mask_url, scrub, url_secrets


@pytest.mark.parametrize(("url", "masked"), [
    ("mailto://user:pass@gmail.com", "mailto://user:****@gmail.com"),
    ("twilio://SID:TOKEN@+15551234567/+15557654321", "twilio://****:****@****/****"),
    ("slack://TokenA/TokenB/TokenC/#chan", "slack://****/****/****/#chan"),
    ("tgram://bottoken/chatid", "tgram://****/****"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",
     "tgram://****/****"),
    ("pagerduty://integrationkey@apikey", "pagerduty://****@****"),
    ("opsgenie://apikey", "opsgenie://****"),
    ("json://user:pw@127.0.0.1:8080/path?token=abc",
     "json://user:****@127.0.0.1:8080/****?token=****"),
    ("jsons://hooks.example.com/?format=text&apikey=s3cr3t",
     "jsons://hooks.example.com/?format=text&apikey=****"),
    ("discord://1234567890/AbCdEf123456GhIjKl", "discord://****/****"),
    ("mailtos://smtp.example.com:587?user=alerts&pass=hunter2&to=ops@example.com",
     "mailtos://smtp.example.com:587?user=alerts&pass=****&to=ops@example.com"),
    ("mailto://user:pass@gmail.com/oncall@example.com",
     "mailto://user:****@gmail.com/oncall@example.com"),
    ("ntfys://ntfy.sh/my-private-topic", "ntfys://ntfy.sh/****"),
    ("gotify://gotify.example.com/A0z5i1hsJ6tQqF8", "gotify://gotify.example.com/****"),
    ("json://host.example.com/?webhook_url=x&signature=y&mode=z",
     "json://host.example.com/?webhook_url=****&signature=****&mode=z"),
    ("json://host.example.com/?Zx81kdLq0aPp", "json://host.example.com/?****"),
    ("mailto://a1b2c3d4e5f6@smtp.example.com", "mailto://****@smtp.example.com"),
    ("notaservice://x", "notaservice://****"),
    ("log://", "log://"),
    ("not a url with s3cret", "****"),
    ("", ""),
])
def test_mask_url_hides_secrets(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", [
    "mailto://user:pass@gmail.com", "slack://TokenA/TokenB/TokenC/#chan",
    "json://user:pw@127.0.0.1:8080/path?token=abc", "garbage", "opsgenie://apikey",
])
def test_masking_twice_changes_nothing(url: str) -> None:
    assert mask_url(mask_url(url)) == mask_url(url)


@pytest.mark.parametrize(("url", "secrets"), [
    ("twilio://SID:TOKEN@+15551234567/+15557654321",
     ["SID", "TOKEN", "+15551234567", "+15557654321"]),
    ("json://user:p%40ss@127.0.0.1/x", ["p%40ss", "p@ss", "x"]),
    ("log://", []),
])
def test_url_secrets_lists_what_was_hidden(url: str, secrets: list[str]) -> None:
    assert url_secrets(url) == secrets


@pytest.mark.parametrize(("text", "expected"), [
    ("tokenA is bad", "**** is bad"),
    ("login for user failed", "login for user failed"),
    ("a: x", "a: x"),  # a one-letter secret would garble the text
])
def test_mask_text_scrubs_known_secrets(text: str, expected: str) -> None:
    assert mask_text(text, ["tokenA", "x"]) == expected


def test_scrub_masks_quoted_urls_known_or_not() -> None:
    url = "tgram://bottoken/chatid"
    text = ("Unparseable Telegram URL tgram://bottoken/chatid; bot bottoken refused; "
            "also discord://111/SECRETSECRET")
    out = scrub(text, [url])
    assert "bottoken" not in out and "chatid" not in out and "SECRETSECRET" not in out
    assert "tgram://****/****" in out


@pytest.mark.parametrize(("text", "secret"), [
    ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", True),
    ("a1b2c3d4", True),
    ("abcdefghijklmnopq", True),
    ("alerts", False),
    ("monitoring-team", False),
    ("+15551234567", False),
])
def test_looks_secret(text: str, secret: bool) -> None:
    assert looks_secret(text) is secret


def test_secret_fragments_match_url_secrets() -> None:
    from agent.notify.masking import secret_fragments

    url = "slack://TokenA/TokenB/TokenC/#chan"
    assert secret_fragments(url) == url_secrets(url) == ["TokenA", "TokenB", "TokenC"]
