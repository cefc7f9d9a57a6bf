"""PagerDuty and Opsgenie targets carry the alert's incident id: one incident per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.notify.incident_keys import keyed_url
from agent.notify.protocol import Mode, decode_request, encode_send


@pytest.mark.parametrize(("url", "expected"), [
    ("pagerduty://ikey@apikey", "pagerduty://ikey@apikey?dedup=abc-1&action=map"),
    ("pagerduty://ikey@apikey/?region=eu",
     "pagerduty://ikey@apikey/?region=eu&dedup=abc-1&action=map"),
    ("pagerduty://ikey@apikey?dedup=mine", "pagerduty://ikey@apikey?dedup=mine&action=map"),
    ("pagerduty://ikey@apikey?action=trigger",
     "pagerduty://ikey@apikey?action=trigger&dedup=abc-1"),
    ("opsgenie://apikey", "opsgenie://apikey?alias=abc-1&action=map"),
    ("OPSGENIE://apikey?alias=x", "opsgenie://apikey?alias=x&action=map"),
    ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/hook"),
    ("mailto://user:pw@example.com", "mailto://user:pw@example.com"),
])
def test_incident_systems_get_the_incident_key_and_others_are_untouched(url: str,
                                                                        expected: str) -> None:
    assert keyed_url(url, "abc-1") == expected


def test_apprise_reads_the_keys_as_meant() -> None:
    import apprise

    pd = apprise.Apprise.instantiate(keyed_url("pagerduty://ikey@apikey", "a1b2c3-170"))
    assert pd is not None
    assert (getattr(pd, "dedup", None), getattr(pd, "action", None)) == ("a1b2c3-170", "map")
    og = apprise.Apprise.instantiate(keyed_url("opsgenie://apikey", "a1b2c3-170"))
    assert og is not None
    assert (getattr(og, "alias", None), getattr(og, "action", None)) == ("a1b2c3-170", "map")


def test_the_send_request_carries_the_store_folder(tmp_path: Path) -> None:
    from agent.notify.apprise_child import install_capture, load
    from agent.notify.message import test_message

    req = decode_request(encode_send(["log://"], [test_message("h")], str(tmp_path)))
    assert (req.mode, req.storage) == (Mode.SEND, str(tmp_path))
    plugin, error = load("opsgenie://apikey", install_capture(), req.storage)
    assert error is None and plugin is not None
