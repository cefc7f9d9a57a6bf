"""YAML parsing that keeps the line of every key and list item."""

from __future__ import annotations

import datetime

import pytest

from agent.config.yaml_lines import YamlPath, YamlProblem, YamlSyntaxError, format_path, parse_yaml

DOC = """\
agent:
  host: web1
checks:
  - name: root
    thresholds:
      used_percent:
        warn: "> 80"
  -
    kind: cpu
"""


@pytest.mark.parametrize(("path", "line"), [
    ((), 1),
    (("agent",), 1),
    (("agent", "host"), 2),
    (("checks", 0), 4),
    (("checks", 0, "name"), 4),
    (("checks", 0, "thresholds", "used_percent", "warn"), 7),
    (("checks", 1), 9),
    (("checks", 1, "kind"), 9),
    # A path that is not in the file takes its nearest ancestor's line.
    (("checks", 0, "thresholds", "used_percent", "crit"), 6),
    (("nowhere", "deep"), 1),
])
def test_every_key_and_item_has_its_line(path: YamlPath, line: int) -> None:
    assert parse_yaml(DOC).lines.line_of(path) == line


def test_values_are_plain_python_and_keys_are_text() -> None:
    parsed = parse_yaml("a: [1, 2.5, true, null, x]\n1: one\nyes: no\nd: 2024-01-02\n")
    assert parsed.data == {"a": [1, 2.5, True, None, "x"], "1": "one", "yes": False,
                           "d": datetime.date(2024, 1, 2)}
    assert parsed.problems == []


def test_duplicate_keys_are_problems_at_the_second_key() -> None:
    parsed = parse_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n")
    assert parsed.data == {"a": {"b": 3, "c": 2}}
    assert parsed.problems == [YamlProblem(("a", "b"), 4, "duplicate key 'b' (first at line 2)")]


def test_merge_keys_are_not_duplicates_and_own_keys_win() -> None:
    parsed = parse_yaml("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain: *b\n")
    assert parsed.data == {"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3},
                           "again": {"x": 1, "y": 2}}
    assert parsed.problems == []


@pytest.mark.parametrize(("text", "problem"), [
    ("a: !!python/name:os.system x\n",
     YamlProblem(("a",), 1, "unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system'")),
    ("a: &r [1, *r]\n",
     YamlProblem(("a", 1), 1, "an alias refers to the collection that contains it")),
    ("a:\n  ? [1, 2]\n  : x\n",
     YamlProblem(("a",), 2, "a key must be plain text, not a list or mapping")),
])
def test_unsafe_or_odd_constructs_are_problems_not_crashes(text: str,
                                                          problem: YamlProblem) -> None:
    assert parse_yaml(text).problems == [problem]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: 1\nb: c: d\n", 2, "invalid YAML: mapping values are not allowed here at column 5"),
    ("a: 1\nb: \x01\n", 2, "invalid YAML: character #x0001: special characters are not "
                           "allowed"),
])
def test_malformed_text_raises_with_line(text: str, line: int, message: str) -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text)
    assert (caught.value.line, caught.value.message) == (line, message)


def test_an_empty_document_is_none() -> None:
    assert parse_yaml("# nothing\n").data is None


@pytest.mark.parametrize(("path", "text"), [
    ((), ""),
    (("checks", 3, "thresholds", "used_percent", "warn"), "checks[3].thresholds.used_percent.warn"),
    (("channels", "a.b"), 'channels."a.b"'),
    (("routes", 0, "channels", 1), "routes[0].channels[1]"),
])
def test_paths_are_dotted(path: YamlPath, text: str) -> None:
    assert format_path(path) == text
