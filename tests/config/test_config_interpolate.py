"""``${VAR}``, ``${VAR:-default}``, ``${file:/path}`` and ``$${`` in config strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.interpolate import Substituted, interpolate, interpolate_tree

ENV = {"USER_NAME": "ada", "EMPTY": "", "PORT": "9110", "DIR": "secrets"}


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", Substituted("plain")),
    ("cost: $5", Substituted("cost: $5")),
    ("${USER_NAME}", Substituted("ada", ("${USER_NAME}",))),
    ("mailto://${USER_NAME}@host:${PORT}",
     Substituted("mailto://ada@host:9110", ("${USER_NAME}", "${PORT}"))),
    ("${EMPTY}", Substituted("", ("${EMPTY}",))),
    ("${MISSING:-fallback}", Substituted("fallback", ("${MISSING}",))),
    ("${EMPTY:-fallback}", Substituted("fallback", ("${EMPTY}",))),
    ("${USER_NAME:-fallback}", Substituted("ada", ("${USER_NAME}",))),
    ("${MISSING:-${USER_NAME}}", Substituted("ada", ("${MISSING}", "${USER_NAME}"))),
    ("${MISSING:-}", Substituted("", ("${MISSING}",))),
    ("$${USER_NAME}", Substituted("${USER_NAME}")),
    ("$$${USER_NAME}", Substituted("$${USER_NAME}")),
])
def test_references_are_substituted(text: str, expected: Substituted, tmp_path: Path) -> None:
    assert interpolate(text, ENV, tmp_path) == expected


@pytest.mark.parametrize(("text", "errors"), [
    ("${NOPE}", ("environment variable 'NOPE' is not set",)),
    ("${A}-${B}", ("environment variable 'A' is not set",
                   "environment variable 'B' is not set")),
    ("${USER_NAME", ("unclosed '${' (write '$${' for a literal '${')",)),
    ("${1X}", ("bad substitution '${1X}'; write ${VAR}, ${VAR:-default} or ${file:/path}",)),
    ("${file:}", ("'${file:}' needs a file path, like ${file:/run/secrets/token}",)),
])
def test_failed_references_leave_the_text_as_written(text: str, errors: tuple[str, ...],
                                                     tmp_path: Path) -> None:
    result = interpolate(text, ENV, tmp_path)
    assert (result.value, result.errors) == (text, errors)


@pytest.mark.parametrize(("content", "value"), [
    ("tok3n\n", "tok3n"),
    ("tok3n\r\n", "tok3n"),
    ("tok3n\n\n", "tok3n\n"),
    ("tok3n", "tok3n"),
])
def test_a_secret_file_loses_exactly_one_trailing_newline(tmp_path: Path, content: str,
                                                         value: str) -> None:
    (tmp_path / "token").write_text(content, encoding="utf-8", newline="")
    result = interpolate("${file:token}", ENV, tmp_path)
    assert result == Substituted(value, ("${file:token}",))


def test_a_secret_file_path_may_use_variables(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pd").write_text("k3y\n", encoding="utf-8")
    result = interpolate(f"pagerduty://${{file:{tmp_path}/${{DIR}}/pd}}", ENV, tmp_path)
    assert result.value == "pagerduty://k3y"
    assert result.errors == ()


def test_an_unreadable_secret_file_names_the_file(tmp_path: Path) -> None:
    result = interpolate("${file:absent}", ENV, tmp_path)
    assert result.errors == (
        f"cannot read secret file '{tmp_path / 'absent'}': No such file or directory",)


def test_the_tree_remembers_where_values_were_substituted(tmp_path: Path) -> None:
    tree = interpolate_tree(
        {"a": ["x", "${USER_NAME}"], "${USER_NAME}": {"b": "${NOPE}", "n": 5}},
        ENV, tmp_path)
    assert tree.data == {"a": ["x", "ada"], "${USER_NAME}": {"b": "${NOPE}", "n": 5}}
    assert tree.sources == {("a", 1): ("${USER_NAME}",), ("${USER_NAME}", "b"): ("${NOPE}",)}
    assert tree.problems == [(("${USER_NAME}", "b"), "environment variable 'NOPE' is not set")]
