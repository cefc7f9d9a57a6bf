"""Typed text shown later: control characters refused when typed, written out when shown."""

from __future__ import annotations

import pytest

from agent.textsafe import control_problem, visible


@pytest.mark.parametrize(("text", "shown"), [
    ("reboot for kernel 6.1", "reboot for kernel 6.1"),
    ("naïve café ☕ — ok", "naïve café ☕ — ok"),
    ("back\\slash", "back\\slash"),
    ("two\nlines", "two\\nlines"),
    ("cr\r\ttab", "cr\\r\\ttab"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("nul\x00del\x7fc1\x9b", "nul\\x00del\\x7fc1\\x9b"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("abc\u202edcba", "abc\\u202edcba"),
])
def test_visible_writes_out_control_characters_only(text: str, shown: str) -> None:
    assert visible(text) == shown
    assert (control_problem(text) is None) == (text == shown)


def test_control_problem_names_the_character() -> None:
    assert control_problem("a\x1bb") == ("holds the control character \\x1b; write it on "
                                        "one line, without tabs or escape sequences")
