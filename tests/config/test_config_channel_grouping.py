"""``group_wait`` on a channel: a duration, off by default, at most 10m."""

from __future__ import annotations

import pytest

from tests.config.config_support import LoadIssues, LoadText


@pytest.mark.parametrize(("text", "wait"), [
    ("channels:\n  sms: {urls: [log://], group_wait: 30s}\n", 30.0),
    ("channels:\n  sms: {urls: [log://], group_wait: 10m}\n", 600.0),
    ("channels:\n  sms: {urls: [log://], group_wait: 0}\n", 0.0),
    ("channels:\n  sms: {urls: [log://]}\n", 0.0),
    ("channels:\n  sms: [log://]\n", 0.0),
    ("channels:\n  sms: log://\n", 0.0),
])
def test_group_wait_is_a_duration_off_by_default(load: LoadText, text: str,
                                                 wait: float) -> None:
    channel = load(text).channels["sms"]
    assert (channel.urls, channel.group_wait) == (("log://",), wait)


@pytest.mark.parametrize(("text", "expected"), [
    ("channels:\n  sms: {urls: [log://], group_wait: soon}",
     (2, "channels.sms.group_wait", "expected a duration like 30s, 5m, 4h or 1d, got 'soon'")),
    ("channels:\n  sms: {urls: [log://], group_wait: -5}",
     (2, "channels.sms.group_wait", "a duration cannot be negative, got -5")),
    ("channels:\n  sms: {urls: [log://], group_wait: 11m}",
     (2, "channels.sms.group_wait",
      "must be at most 10m, got 11m (it holds back the first alert of a storm)")),
    ("channels:\n  sms: {urls: [log://], grup_wait: 30s}",
     (2, "channels.sms.grup_wait", "unknown key 'grup_wait'; did you mean 'group_wait'?")),
    ("channels:\n  sms: {group_wait: 30s}", (2, "channels.sms", "missing required key 'urls'")),
])
def test_a_bad_group_wait_is_reported_where_it_is(
        issues: LoadIssues, text: str, expected: tuple[int, str, str]) -> None:
    assert issues(text) == [expected]
