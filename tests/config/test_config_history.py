"""``agent.history`` and a check's ``slo``: what they take, and the words when wrong."""

from __future__ import annotations

import pytest

from tests.config.config_support import LoadIssues, LoadText


def test_history_is_on_by_default_with_two_days_raw_and_400_days_kept(load: LoadText) -> None:
    history = load("checks: [{kind: fakedisk}]").agent.history
    assert history.enabled
    assert (history.raw, history.five_minutes, history.keep) == (
        48 * 3600.0, 8 * 86400.0, 400 * 86400.0)


def test_history_takes_durations_and_can_be_turned_off(load: LoadText) -> None:
    history = load("agent:\n  history: {raw: 1d, five_minutes: 14d, keep: 90d}\n"
                   ).agent.history
    assert (history.raw, history.five_minutes, history.keep) == (
        86400.0, 14 * 86400.0, 90 * 86400.0)
    assert not load("agent:\n  history: {enabled: false}\n").agent.history.enabled


def test_a_check_takes_an_slo_in_percent(load: LoadText) -> None:
    config = load("checks:\n  - {kind: fakedisk, slo: 99.9}\n  - {kind: fakedisk, name: b}\n")
    assert [c.slo for c in config.checks] == [99.9, None]


#: (YAML, line, dotted path, message)
WRONG = [
    ("agent:\n  history: {raw: 5m}\n", 2, "agent.history.raw",
     "must be at least 10m, got 5m"),
    ("agent:\n  history:\n    raw: 10d\n", 2, "agent.history",
     "raw (10d) is longer than five_minutes (8d): the rollups must outlast the samples "
     "they sum up"),
    ("agent:\n  history:\n    keep: 2d\n", 2, "agent.history",
     "five_minutes (8d) is longer than keep (2d)"),
    ("agent:\n  history:\n    kept: 2d\n", 3, "agent.history.kept",
     "unknown key 'kept'; did you mean 'keep'?"),
    ("agent:\n  history: {keep: forever}\n", 2, "agent.history.keep",
     "expected a duration like 30s, 5m, 4h or 1d, got 'forever'"),
    ("checks:\n  - kind: fakedisk\n    slo: 100\n", 3, "checks[0].slo",
     "must be less than 100.0, got 100"),
    ("checks:\n  - kind: fakedisk\n    slo: high\n", 3, "checks[0].slo",
     "expected a number, got 'high'"),
]


@pytest.mark.parametrize(("text", "line", "path", "message"), WRONG,
                         ids=[f"{w[2]}-{n}" for n, w in enumerate(WRONG)])
def test_wrong_history_and_slo_settings_are_named_with_their_line(
        issues: LoadIssues, text: str, line: int, path: str, message: str) -> None:
    assert issues(text) == [(line, path, message)]
