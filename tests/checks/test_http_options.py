"""Bad http options are rejected when the config is loaded, with a message that says what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from agent.http_client import ClientSettings
from agent.ipfamily import IpFamily
from checks.http.options import (
    HttpMethod,
    HttpOptions,
    StatusRanges,
    describe_status,
    parse_status_spec,
)

URL = "http://127.0.0.1:8080/"


def rejection(**options: Any) -> tuple[str, str]:
    """(dotted location, message) of the single error the options raise."""
    with pytest.raises(ValidationError) as info:
        HttpOptions(**options)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(p) for p in errors[0]["loc"]), errors[0]["msg"]


@pytest.mark.parametrize(("options", "where", "message"), [
    ({"url": "ftp://example.test/"}, "url",
     "must be an http:// or https:// URL with a host name, got 'ftp://example.test/'"),
    ({"url": "example.test/path"}, "url", "must be an http:// or https:// URL"),
    ({"url": "http://"}, "url", "must be an http:// or https:// URL"),
    ({"url": "http://exa mple.test/"}, "url", "contains white space"),
    ({"url": "http://user:hunter22@exa mple.test/"}, "url", "'http://****@exa mple.test/'"),
    ({"url": URL, "body_regex": "(unclosed"}, "body_regex",
     "bad regular expression '(unclosed': missing ), unterminated subpattern at position 0"),
    ({"url": URL, "json": [{"path": "status", "equals": "ok"}]}, "json.0.path",
     "a JSON path starts with '$' (like $.status), got 'status'"),
    ({"url": URL, "json": [{"path": "$.items[0", "equals": 1}]}, "json.0.path",
     "expected ']' at position 9, found the end"),
    ({"url": URL, "json": [{"path": "$.a"}]}, "json.0",
     "say what to expect at the path: equals, not_equals, <, <=, >, >= or exists"),
    ({"url": URL, "json": [{"path": "$.a", "<": "ten"}]}, "json.0.<",
     "comparisons <, <=, >, >= take a number, got 'ten'"),
    ({"url": URL, "json": [{"path": "$.a", "exists": False, "equals": 1}]}, "json.0",
     "exists: false cannot be combined with comparisons"),
    ({"url": URL, "json": [{"path": "$.a", "like": 1}]}, "json.0.like", "Extra inputs"),
    ({"url": URL, "expect_status": "20x"}, "expect_status",
     "expected a status code like 200, 2xx or 200-299, got '20x'"),
    ({"url": URL, "expect_status": 700}, "expect_status",
     "status codes run from 100 to 599, got 700"),
    ({"url": URL, "method": "FETCH"}, "method", "Input should be"),
    ({"url": URL, "headers": {"Bad Name": "x"}}, "headers", "'Bad Name' is not a valid header"),
    ({"url": URL, "headers": {"X-A": "one\r\nX-B: two"}}, "headers", "must be one line"),
    ({"url": URL, "basic_auth": {"username": "u", "password": "p"}, "bearer_token": "t"}, "",
     "give basic_auth or bearer_token, not both"),
    ({"url": URL, "method": "HEAD", "body_contains": "x"}, "", "a HEAD response has no body"),
    ({"url": URL, "proxy": "socks5://127.0.0.1:1080"}, "proxy",
     "must be an http:// or https:// URL"),
    ({"url": URL, "ca_file": "/nonexistent/ca.pem"}, "ca_file",
     "CA file /nonexistent/ca.pem does not exist"),
    ({"url": URL, "ca_file": __file__}, "ca_file", "cannot be used"),  # not PEM
    ({"url": URL, "max_body": "lots"}, "max_body", "expected a size like 500MB"),
    ({"url": URL, "max_redirects": 500}, "max_redirects", "less than or equal to 50"),
    ({"url": URL, "ip_family": "ipv5"}, "ip_family", "Input should be"),
    ({"url": URL, "timeout_s": 3}, "timeout_s", "Extra inputs are not permitted"),
    # Once valid, then "check crashed: ExceptionGroup: unhandled errors in a TaskGroup".
    ({"url": "http://127.0.0.1:99999/"}, "url", "has port 99999; a port is from 1 to 65535"),
    ({"url": "http://127.0.0.1:0/"}, "url", "has port 0; a port is from 1 to 65535"),
])
def test_bad_options_are_rejected_with_a_clear_message(options: dict[str, Any], where: str,
        message: str) -> None:
    loc, msg = rejection(**options)
    assert loc == where
    assert message in msg


@pytest.mark.parametrize(("options", "message"), [
    ({"url": "http://ops:hunter22@bad host/"},
     "'http://****@bad host/' contains white space; encode it as %20"),
    ({"url": URL, "proxy": "ftp://ops:hunter22@proxy/"},
     "must be an http:// or https:// URL with a host name, got 'ftp://****@proxy/'"),
    # Without its scheme, a proxy's password was once shown as written.
    ({"url": URL, "proxy": "ops:hunter22@proxy.test:3128"},
     "must be an http:// or https:// URL with a host name, got '****@proxy.test:3128'"),
    ({"url": URL, "proxy": "http://ops:hun ter22@proxy.test:3128"},
     "'http://****@proxy.test:3128' contains white space; encode it as %20"),
    # A password with a '/' makes the parser take part of it for a port.
    ({"url": URL, "proxy": "http://ops:hunter22/x@proxy.test:3128"},
     "'http://****@proxy.test:3128' is not a valid URL"),
])
def test_secrets_never_appear_in_an_error_message(options: dict[str, Any], message: str
                                                  ) -> None:
    _, msg = rejection(**options)
    assert message in msg
    assert "hunter22" not in msg and "ter22" not in msg


def test_secret_fields_do_not_show_in_repr() -> None:
    opts = HttpOptions.model_validate({
        "url": URL, "basic_auth": {"username": "ops", "password": "hunter22"},
        "proxy": "http://u:proxypass@127.0.0.1:3128"})
    assert "hunter22" not in repr(opts) and "proxypass" not in repr(opts)
    assert "proxypass" not in repr(opts.client_settings())
    assert set(opts.secrets()) >= {"hunter22", "proxypass", "ops:hunter22",
                                   "b3BzOmh1bnRlcjIy", "dTpwcm94eXBhc3M="}


def test_credentials_in_the_url_are_moved_into_basic_auth() -> None:
    opts = HttpOptions(url="https://ops:p%40ss@shop.example/")
    assert opts.url == "https://shop.example/"
    assert opts.basic_auth is not None
    assert opts.basic_auth.username == "ops"
    assert opts.basic_auth.password.get_secret_value() == "p@ss"
    assert "p@ss" not in repr(opts) and "p%40ss" not in repr(opts)


def test_credentials_cannot_be_given_twice() -> None:
    loc, msg = rejection(url="https://ops:pw@shop.example/", bearer_token="tok")
    assert loc == "" and "give them once" in msg


def test_only_sensitive_headers_count_as_secrets() -> None:
    opts = HttpOptions(url=URL, headers={"X-Api-Key": "k-123", "Accept": "text/html",
                                         "Cookie": "sid=9", "X-Auth-Token": "t-9"})
    assert sorted(opts.secrets()) == ["k-123", "sid=9", "t-9"]


def test_defaults() -> None:
    opts = HttpOptions(url="https://shop.example/")
    assert opts.method is HttpMethod.GET
    assert opts.expect_status == ((200, 399),)
    assert opts.verify_tls and opts.follow_redirects and opts.max_redirects == 10
    assert opts.max_body == 1_000_000
    assert opts.client_settings() == ClientSettings()


@pytest.mark.parametrize(("given", "family"), [
    ("ipv4", IpFamily.IPV4), (4, IpFamily.IPV4), ("6", IpFamily.IPV6), ("v6", IpFamily.IPV6),
    ("ANY", IpFamily.ANY),
])
def test_ip_family_spellings(given: Any, family: IpFamily) -> None:
    assert HttpOptions(url=URL, ip_family=given).ip_family is family


def test_ca_file_becomes_part_of_the_client_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    assert HttpOptions(url=URL, ca_file=ca).client_settings().ca_file == str(ca)


@pytest.mark.parametrize(("spec", "ranges"), [
    (200, ((200, 200),)),
    ("2xx", ((200, 299),)),
    ("200-204", ((200, 204),)),
    ("301 - 308", ((301, 308),)),
    ([200, "3xx", "404"], ((200, 200), (300, 399), (404, 404))),
])
def test_status_specs(spec: Any, ranges: StatusRanges) -> None:
    assert parse_status_spec(spec) == ranges


@pytest.mark.parametrize("spec", [[], True, "2xx,3xx", "204-200", "6xx", "abc", 99])
def test_bad_status_specs(spec: Any) -> None:
    with pytest.raises(ValueError, match="status code"):
        parse_status_spec(spec)


@pytest.mark.parametrize(("ranges", "words"), [
    (((200, 200),), "200"),
    (((200, 399),), "2xx or 3xx"),
    (((200, 200), (204, 204)), "200 or 204"),
    (((200, 200), (204, 204), (301, 308)), "200, 204 or 301-308"),
])
def test_expected_status_in_words(ranges: StatusRanges, words: str | None) -> None:
    assert describe_status(ranges) == words
