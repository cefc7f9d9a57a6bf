""""Did you mean" suggestions."""

from __future__ import annotations

import pytest

from agent.config.suggest import suggest, unknown_key

KEYS = ["interval", "timeout", "thresholds", "repeat_interval", "send_resolved", "tags"]


@pytest.mark.parametrize(("word", "expected"), [
    ("treshold", "thresholds"),
    ("intervall", "interval"),
    ("Timeout", "timeout"),
    ("repeat", "repeat_interval"),
    ("tag", "tags"),
    ("zebra", None),
    ("", None),
])
def test_the_closest_candidate_is_suggested(word: str, expected: str | None) -> None:
    assert suggest(word, KEYS) == expected


def test_nothing_is_suggested_from_nothing() -> None:
    assert suggest("disk", []) is None


@pytest.mark.parametrize(("key", "allowed", "message"), [
    ("treshold", KEYS, "unknown key 'treshold'; did you mean 'thresholds'?"),
    ("zebra", ["b", "a"], "unknown key 'zebra' (allowed: a, b)"),
    ("zebra", [], "unknown key 'zebra'"),
])
def test_unknown_key_messages(key: str, allowed: list[str], message: str) -> None:
    assert unknown_key(key, allowed) == message
