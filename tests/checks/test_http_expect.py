"""Judging an answer against expectations, as tables (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.http.expect import Body, json_equal, judge, judge_json
from checks.http.options import HttpOptions, JsonExpectation
from checks.shared.net import quoted

DOC = {"status": "ok", "queue": 150, "ready": True, "ratio": 0.5, "tags": ["a", "b"],
       "nothing": None, "name": "x" * 100}


def body(data: bytes, truncated: bool = False, charset: str | None = "utf-8",
         cap: int = 1_000_000) -> Body:
    return Body(data, truncated, charset, cap)


def exp(**kw: Any) -> JsonExpectation:
    return JsonExpectation.model_validate(kw)


@pytest.mark.parametrize(("expectation", "failures"), [
    ({"path": "$.status", "equals": "ok"}, []),
    ({"path": "$.status", "==": "degraded"}, ['$.status is "ok", expected "degraded"']),
    ({"path": "$.status", "not_equals": "ok"}, ['$.status is "ok", expected anything else']),
    ({"path": "$.status", "!=": "down"}, []),
    ({"path": "$.queue", "<": 100}, ["$.queue is 150, expected < 100"]),
    ({"path": "$.queue", "<=": 150}, []),
    ({"path": "$.queue", ">": 150}, ["$.queue is 150, expected > 150"]),
    ({"path": "$.queue", "ge": 150, "lt": 151}, []),
    ({"path": "$.queue", "gt": 0, "lt": 100}, ["$.queue is 150, expected < 100"]),
    ({"path": "$.ratio", "<": 0.75}, []),
    ({"path": "$.ready", "equals": True}, []),
    ({"path": "$.ready", "equals": 1}, ["$.ready is true, expected 1"]),
    ({"path": "$.ready", ">": 0}, ["$.ready is true, expected a number > 0"]),
    ({"path": "$.status", "<": 5}, ['$.status is "ok", expected a number < 5']),
    ({"path": "$.queue", "equals": 150.0}, []),
    ({"path": "$.tags", "equals": ["a", "b"]}, []),
    ({"path": "$.tags", "equals": ["b", "a"]}, ['$.tags is ["a", "b"], expected ["b", "a"]']),
    ({"path": "$.nothing", "equals": None}, []),
    ({"path": "$.status", "equals": None}, ['$.status is "ok", expected null']),
    ({"path": "$.nothing", "exists": True}, []),
    ({"path": "$.missing", "exists": True}, ["$.missing not found"]),
    ({"path": "$.missing", "exists": False}, []),
    ({"path": "$.status", "exists": False}, ["$.status exists, expected it to be absent"]),
    ({"path": "$.missing", "equals": 1}, ["$.missing not found"]),
    ({"path": "$.name", "equals": "y"}, ['$.name is "' + "x" * 59 + '..., expected "y"']),
])
def test_json_expectations(expectation: dict[str, Any], failures: list[str]) -> None:
    assert judge_json(DOC, exp(**expectation)) == failures


@pytest.mark.parametrize(("a", "b", "equal"), [
    (1, 1.0, True), (True, 1, False), (False, 0, False), (None, None, True), ("1", 1, False),
    ([1, [True]], [1.0, [True]], True), ({"a": 1}, {"a": 1.0}, True), ({"a": 1}, {"b": 1}, False),
    ([1], [1, 2], False),
])
def test_json_equality_keeps_booleans_apart_from_numbers(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal


def options(**kw: Any) -> HttpOptions:
    return HttpOptions(url="http://127.0.0.1/", **kw)


@pytest.mark.parametrize(("code", "data", "opts", "failures"), [
    (200, b"Welcome home", {"body_contains": "Welcome"}, []),
    (200, b"Welcome home", {"body_contains": ["Welcome", "away"]},
     ["body does not contain 'away'"]),
    (200, b"Welcome", {"body_contains": "x", "body_regex": "^W"},
     ["body does not contain 'x'"]),
    (200, b"Welcome", {"body_contains": "x", "body_regex": "^X"},
     ["body does not contain 'x'", "body does not match /^X/"]),
    (503, b"Welcome", {"body_contains": "x"}, ["expected 2xx or 3xx, got 503"]),
    (200, b"", {"json": [{"path": "$.a", "exists": True}]}, ["body is empty, expected JSON"]),
    (200, b"[1, 2]", {"json": [{"path": "$[1]", "equals": 2}]}, []),
    (200, b"nope", {"json": [{"path": "$.a", "exists": True}]},
     ["body is not valid JSON (Expecting value at line 1 column 1)"]),
    (200, b'{"a": "\xff"}', {"json": [{"path": "$.a", "exists": True}]},
     ["body is not valid JSON (not UTF-8 text)"]),
])
def test_judging_a_whole_answer(code: int, data: Any, opts: dict[str, Any], failures: list[str]
        ) -> None:
    o = options(**opts)
    # The check searches body_regex itself (bounded, off the loop) and passes the outcome.
    matched = None if o.body_regex is None else bool(o.body_regex.search(data.decode()))
    assert judge(code, body(data), o, regex_matched=matched) == failures


def test_a_miss_in_a_truncated_body_says_only_part_was_searched() -> None:
    b = body(b"x" * 1000, truncated=True, cap=1000)
    assert judge(200, b, options(body_contains="y")) == [
        "body does not contain 'y' in its first 1000 B"]


@pytest.mark.parametrize(("data", "charset", "text"), [
    ("café".encode(), "utf-8", "café"),
    ("café".encode("latin-1"), "iso-8859-1", "café"),
    ("café".encode("latin-1"), None, "caf\ufffd"),
    ("café".encode(), "no-such-charset", "café"),
    (b"\xff\xfeA", "utf-8", "\ufffd\ufffdA"),
])
def test_body_text_decodes_as_declared_else_utf8_with_replacement(data: Any, charset: str | None,
        text: str) -> None:
    assert body(data, charset=charset).text() == text


def test_long_text_is_shortened_when_quoted() -> None:
    assert quoted("Welcome") == "'Welcome'"
    assert quoted("y" * 61) == "'" + "y" * 60 + "...'"
