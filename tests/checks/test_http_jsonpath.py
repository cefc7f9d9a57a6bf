"""The small JSON path syntax: parsing, its errors, and resolving values."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.http.jsonpath import JsonPath, PathNotFoundError

DOC = {"status": "ok", "data": {"items": [{"status": "up"}, {"status": "down"}]},
       "content-type": "json", "a.b": 1, "n": None, "list": [[1, 2], [3]]}


@pytest.mark.parametrize(("text", "segments"), [
    ("$", ()),
    ("$.status", ("status",)),
    ("$.data.items[0].status", ("data", "items", 0, "status")),
    ("$.items[-1]", ("items", -1)),
    ('$["content-type"]', ("content-type",)),
    ("$['a.b']", ("a.b",)),
    ("$.content-type", ("content-type",)),
    ("$.list[0][1]", ("list", 0, 1)),
    ("  $.x  ", ("x",)),
])
def test_paths_parse_into_keys_and_indexes(text: str, segments: Any) -> None:
    assert JsonPath.parse(text).segments == segments


@pytest.mark.parametrize(("text", "message"), [
    ("status", "starts with '$'"),
    ("", "starts with '$'"),
    ("$.", "expected a name (letters, digits, _ or -) at position 2, found the end"),
    ("$.1abc", "expected a name"),
    ("$status", "expected '.' or '[' at position 1, found 's'"),
    ("$[", "expected an index like [0]"),
    ("$[x]", "expected an index like [0]"),
    ("$[0", "expected ']' at position 3"),
    ('$["open', 'expected a closing "'),
    ("$.a[*]", "expected an index"),
    ("$..a", "expected a name"),
])
def test_bad_paths_name_the_position(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        JsonPath.parse(text)


@pytest.mark.parametrize(("text", "value"), [
    ("$", DOC),
    ("$.status", "ok"),
    ("$.data.items[1].status", "down"),
    ("$.data.items[-2].status", "up"),
    ('$["a.b"]', 1),
    ("$.n", None),
    ("$.list[0][1]", 2),
])
def test_resolving_finds_the_value(text: str, value: Any) -> None:
    assert JsonPath.parse(text).resolve(DOC) == value


@pytest.mark.parametrize(("text", "message"), [
    ("$.missing", "$.missing not found"),
    ("$.data.items[2]", "$.data.items[2] not found: $.data.items has 2 elements"),
    ("$.list[1][1]", "$.list[1][1] not found: $.list[1] has 1 element"),
    ("$.status.x", "$.status.x not found: $.status is a string, not an object"),
    ("$.data[0]", "$.data[0] not found: $.data is an object, not an array"),
    ("$.n.x", "$.n.x not found: $.n is null, not an object"),
    ('$.data["no such"]', '$.data["no such"] not found'),
])
def test_a_missing_value_says_where_the_path_stopped(text: str, message: str) -> None:
    with pytest.raises(PathNotFoundError) as info:
        JsonPath.parse(text).resolve(DOC)
    assert str(info.value) == message


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
_segments = st.lists(st.one_of(_names, st.integers(-5, 5),
                               st.text(alphabet="ab .-:", min_size=1, max_size=5)), max_size=6)


@given(_segments)
def test_any_rendered_path_parses_back(segments: Any) -> None:
    text = "$" + "".join(f"[{s}]" if isinstance(s, int) else f'["{s}"]' for s in segments)
    assert JsonPath.parse(text).segments == tuple(segments)


@given(st.text(max_size=20))
def test_parsing_anything_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        JsonPath.parse(text)
