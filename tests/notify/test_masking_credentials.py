"""Credentials in what checks report: Basic ones in every form, proxies' passwords."""

from __future__ import annotations

import base64

import pytest

from agent.notify.masking import (
    CredentialScrubber,
    authorization_secrets,
    basic_credential_forms,
    mask_userinfo,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_every_form_of_a_basic_credential_is_a_secret() -> None:
    forms = basic_credential_forms("ops", "p@ss/w?rd")
    for form in ("p@ss/w?rd", "p%40ss%2Fw%3Frd", "ops:p@ss/w?rd", b64("ops:p@ss/w?rd"),
                 b64("ops:p@ss/w?rd").rstrip("="),
                 base64.urlsafe_b64encode(b"ops:p@ss/w?rd").decode(), b64("p@ss/w?rd")):
        assert form in forms, form


def test_no_password_no_secret() -> None:
    assert basic_credential_forms("ops", "") == []


@pytest.mark.parametrize(("value", "expected"), [
    (f"Basic {b64('ops:pw-1')}", [b64("ops:pw-1"), "pw-1", "ops:pw-1"]),
    (f"basic   {b64('ops:pw-1').rstrip('=')}", ["pw-1", "ops:pw-1"]),
    ("Bearer tok-abc", ["tok-abc"]),
    ("Basic not-base64!", ["not-base64!"]),
    ("rawtoken", ["rawtoken"]),
    ("", []),
])
def test_the_secrets_of_an_authorization_header(value: str, expected: list[str]) -> None:
    found = authorization_secrets(value)
    for secret in expected:
        assert secret in found
    assert (found == []) == (expected == [])


@pytest.mark.parametrize(("text", "shown"), [
    ("bob:pw@proxy.example:3128", "****@proxy.example:3128"),
    ("http://bob:pw@proxy.example:3128", "http://****@proxy.example:3128"),
    ("http://bob:pa ss/w@rd@proxy:3128", "http://****@proxy:3128"),
    ("http://TOKEN123@proxy:3128", "http://****@proxy:3128"),
    ("http://proxy.example:3128/", "http://proxy.example:3128/"),
    ("proxy.example:3128", "proxy.example:3128"),
])
def test_a_proxy_shows_without_its_credentials(text: str, shown: str) -> None:
    assert mask_userinfo(text) == shown


@pytest.mark.parametrize(("text", "shown"), [
    # The check's own credential, in every form, wherever it stands.
    (f'$.h is "Basic {b64("ops:pw-1")}"', '$.h is "Basic ****"'),
    (f'$.t is "{b64("ops:pw-1")}"', '$.t is "****"'),
    ('$.d is "ops:pw-1"', '$.d is "****"'),
    ('$.p is "xpw-1x"', '$.p is "x****x"'),
    # Anyone's Basic credential: the token carries a user:password.
    (f"Basic {b64('root:toor')} was sent", "Basic **** was sent"),
    (f"AUTHORIZATION: BASIC {b64('root:toor')}", "AUTHORIZATION: BASIC ****"),
    # Words after "Basic" that carry no credential stay.
    ("Basic auth required", "Basic auth required"),
    ("basic checks passed", "basic checks passed"),
    ("200 OK in 3 ms, 2 B", "200 OK in 3 ms, 2 B"),
])
def test_the_scrubber_hides_credentials_in_any_form(text: str, shown: str) -> None:
    scrub = CredentialScrubber(basic_credential_forms("ops", "pw-1"))
    assert scrub(text) == shown


def test_a_scrubber_without_secrets_still_hides_basic_tokens() -> None:
    scrub = CredentialScrubber([])
    assert scrub(f"got Basic {b64('a:b')}") == "got Basic ****"
    assert scrub("nothing here") == "nothing here"
