"""Webhook and Alertmanager channel URLs: judged by the agent itself at their own line
(Apprise is never asked about them), their secrets masked and known to the scrubber."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.full import secret_parts
from agent.notify.masking import MASK
from agent.notify.native_urls import (
    AlertmanagerTarget,
    NativeKind,
    WebhookTarget,
    native_form,
    native_kind,
    parse_target,
)
from tests.config.config_support import LoadIssues, LoadText

SECRET = "Sh4redS3cretValue"


@pytest.mark.parametrize(("url", "target"), [
    ("webhook+https://hooks.example.com/in", WebhookTarget("https://hooks.example.com/in")),
    ("webhook+http://127.0.0.1:8080/in?secret=abc&team=ops",
     WebhookTarget("http://127.0.0.1:8080/in?team=ops", "abc")),
    ("WEBHOOK+HTTPS://hooks.example.com:8443/a/b?x=1",
     WebhookTarget("https://hooks.example.com:8443/a/b?x=1")),
    ("alertmanager://am.example.com", AlertmanagerTarget("http://am.example.com:9093")),
    ("alertmanager://10.0.0.5:9094/", AlertmanagerTarget("http://10.0.0.5:9094")),
    ("alertmanagers://am.example.com/prefix/am/",
     AlertmanagerTarget("https://am.example.com:9093/prefix/am")),
    ("alertmanager://bob:pa%40ss@am.example.com:80?resend=30s",
     AlertmanagerTarget("http://am.example.com:80", ("bob", "pa@ss"), 30.0)),
    ("alertmanager://[::1]:9093", AlertmanagerTarget("http://[::1]:9093")),
])
def test_native_urls_name_their_target(url: str, target: object) -> None:
    assert parse_target(url) == target
    assert native_kind(url) in (NativeKind.WEBHOOK, NativeKind.ALERTMANAGER)


def test_the_alerts_endpoint_and_how_long_an_open_alert_lasts() -> None:
    target = parse_target("alertmanager://am:9093/am?resend=2m")
    assert isinstance(target, AlertmanagerTarget)
    assert target.alerts_url == "http://am:9093/am/api/v2/alerts"
    assert target.ends_after == 480.0


@pytest.mark.parametrize("url", ["json://hooks.example.com", "mailto://a@b.c", "log://"])
def test_apprise_urls_are_not_native(url: str) -> None:
    assert native_kind(url) is None


@pytest.mark.parametrize(("url", "why"), [
    ("webhook+https:///nohost", "the URL names no host"),
    ("webhook+https://h.example.com/x?secret=", "secret is empty"),
    ("webhook+https://h.example.com/x?secret=a&secret=b", "secret is given more than once"),
    ("webhook+https://h.example.com/x#frag", "must not have a #fragment"),
    ("alertmanager://am:99999", "cannot read the URL"),
    ("alertmanager://am?resend=0s", "resend must be between 1s and 10m"),
    ("alertmanager://am?resend=1h", "resend must be between 1s and 10m"),
    ("alertmanager://am?resend=soon", "resend: expected a duration"),
    ("alertmanager://am?receiver=x", "unknown option 'receiver'"),
])
def test_a_bad_native_url_says_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("?", r"\?")):
        parse_target(url)


def test_only_the_secret_and_the_password_are_masked() -> None:
    form = native_form(f"webhook+https://hooks.example.com/in/ops?secret={SECRET}&team=ops")
    assert form.shown == f"webhook+https://hooks.example.com/in/ops?secret={MASK}&team=ops"
    assert SECRET in form.secrets
    form = native_form("alertmanager://bob:Pa55w0rdXY@am.example.com:9093/am")
    assert form.shown == f"alertmanager://bob:{MASK}@am.example.com:9093/am"


def test_native_urls_load_without_apprise(load: LoadText, tmp_path: Path) -> None:
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text(SECRET + "\n")
    config = load(f"""
        channels:
          hook: "webhook+https://hooks.example.com/in?secret=${{file:{secret_file}}}"
          am: [alertmanager://am1:9093, alertmanager://am2:9093]
        """)
    assert config.channels["am"].urls == ("alertmanager://am1:9093", "alertmanager://am2:9093")
    (hook,) = config.channels["hook"].urls
    assert config.url_forms[hook].shown == f"webhook+https://hooks.example.com/in?secret={MASK}"
    assert SECRET in secret_parts(config)


def test_a_bad_native_url_is_reported_at_its_line_masked(issues: LoadIssues) -> None:
    found = issues(f"""
        channels:
          hook:
            - log://
            - "webhook+https://hooks.example.com/in?secret={SECRET}#x"
          am: alertmanager://am?resend=1d
        """)
    assert found == [
        (4, "channels.hook[1]", f"cannot use webhook+https://hooks.example.com/in?secret="
                                f"{MASK}: the URL must not have a #fragment"),
        (5, "channels.am", "cannot use alertmanager://am?resend=1d: resend must be between "
                           "1s and 10m (Alertmanager resolves an alert not posted again "
                           "within its resolve_timeout), got 1d"),
    ]
