"""Secrets in URLs and in error texts never show; ordinary words are never masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.notify import masking
from agent.notify.masking import (
    UrlForm,
    fallback_form,
    fixed_secrets,
    form_with,
    looks_secret,
    mask_parts,
    mask_text,
    mask_url,
    scrub,
    secret_fragments,
)


@pytest.fixture(autouse=True)
def _nothing_remembered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no URL forms known, as a process that asked no Apprise."""
    monkeypatch.setattr(masking, "_known", {})
    yield


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
    ("notaservice://user:hunter2@mail.example.com:2525/x",
     "notaservice://user:****@mail.example.com:2525/****"),
    ("notaservice://x", "notaservice://****"),
    ("log://", "log://"),
    ("not a url with s3cret", "****"),
    ("", ""),
])
def test_without_apprise_the_fallback_hides_whatever_may_be_secret(url: str,
                                                                   masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", [
    "mailto://user:pass@gmail.com", "slack://TokenA/TokenB/TokenC/#chan",
    "json://user:pw@127.0.0.1:8080/path?token=abc", "garbage", "opsgenie://apikey",
])
def test_masking_twice_changes_nothing(url: str) -> None:
    assert mask_url(mask_url(url)) == mask_url(url)


@pytest.mark.parametrize(("url", "secrets"), [
    ("json://user:p%40ss@127.0.0.1/x", ["p%40ss"]),
    ("postgresql://monitor:DbPass99@db.example.com:5432/app", ["DbPass99"]),
    ("postgresql://db.example.com/app?user=mon&password=DbPass99&sslmode=require",
     ["DbPass99"]),
    ("mailtos://smtp.example.com?user=alerts&pass=hunter2", ["hunter2"]),
    ("redis://cache.example.com:6379/0", []),
    ("not a url", []),
])
def test_passwords_and_secret_query_values_are_secret_in_every_scheme(
        url: str, secrets: list[str]) -> None:
    assert fixed_secrets(url) == secrets


def test_the_fallback_gives_the_log_scrubber_only_sure_secrets() -> None:
    form = fallback_form("ntfys://ntfy.sh/alerts?token=Tk9x&priority=high")
    assert form.shown == "ntfys://ntfy.sh/****?token=****&priority=high"
    assert "alerts" in form.hidden  # hidden in the URL, to be safe...
    assert "alerts" not in form.secrets  # ...but no secret for every log line
    assert form.secrets == ("Tk9x",)


def test_a_form_keeps_only_secrets_that_stand_in_the_url() -> None:
    url = "pagerduty://IntegKey1234@ApiKey5678"
    # Apprise's private form also hides defaults the user never wrote ("Notification").
    form = form_with(url, ["IntegKey1234", "ApiKey5678", "Notification", "Key1"])
    assert form == UrlForm("pagerduty://****@****", ("IntegKey1234", "ApiKey5678"))


@pytest.mark.parametrize(("url", "secrets", "masked"), [
    ("json://pw.example.com/x?token=pw", ["pw"], "json://pw.example.com/x?token=****"),
    ("tgram://123:AbC/-100", ["123:AbC"], "tgram://****/-100"),
    ("json://h.example.com/a%40b", ["a@b"], "json://h.example.com/****"),
])
def test_secrets_are_masked_as_whole_parts_of_the_url(url: str, secrets: list[str],
                                                      masked: str) -> None:
    assert mask_parts(url, secrets) == masked


@pytest.mark.parametrize(("text", "expected"), [
    ("tokenA is bad", "**** is bad"),
    ("a tokenAB is not the token", "a tokenAB is not the token"),
    ("sent with key=tokenA.", "sent with key=****."),
    ("login for user failed", "login for user failed"),
    ("a: x", "a: x"),  # a one-letter secret would garble the text
])
def test_mask_text_masks_secrets_standing_as_words(text: str, expected: str) -> None:
    assert mask_text(text, ["tokenA", "x"]) == expected


def test_scrub_masks_quoted_urls_known_or_not() -> None:
    url = "tgram://bottoken/chatid"
    text = ("Unparseable Telegram URL tgram://bottoken/chatid; bot bottoken refused; "
            "also discord://111/SECRETSECRET")
    out = scrub(text, [url])
    assert "bottoken" not in out and "chatid" not in out and "SECRETSECRET" not in out
    assert "tgram://****/****" in out


def test_a_remembered_form_is_what_is_shown_and_scrubbed() -> None:
    url = "ntfy://ntfy.sh/alerts?token=tk_abcdef"
    masking.remember(url, UrlForm("ntfy://ntfy.sh/alerts?token=****", ("tk_abcdef",)))
    assert mask_url(url) == "ntfy://ntfy.sh/alerts?token=****"
    assert secret_fragments(url) == ["tk_abcdef"]
    out = scrub(f"POST {url} failed: token tk_abcdef refused for topic alerts", [url])
    assert out == ("POST ntfy://ntfy.sh/alerts?token=**** failed: token **** refused for "
                   "topic alerts")


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
