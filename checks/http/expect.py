"""Judging an HTTP answer against the check's expectations (pure: no I/O).

Each function returns the failures in words a person can act on ("expected 200, got 503",
"body does not contain 'Welcome'", "$.queue is 150, expected < 100"); an empty list means
the expectation holds.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.textsafe import shortened
from agent.units import format_bytes, format_number
from checks.http.jsonpath import PathNotFoundError
from checks.http.options import (
    HttpOptions,
    JsonExpectation,
    StatusRanges,
    describe_status,
    status_matches,
)
from checks.shared.net import quoted

_SHOWN = 60

#: Takes secrets out of a text quoted from the server's answer.
Hide = Callable[[str], str]


def _shown_as_is(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Body:
    """The part of a response body that was read (at most ``cap`` bytes)."""

    data: bytes
    #: More was there than ``cap``; the rest was not read.
    truncated: bool
    #: The charset the Content-Type header declared, if any.
    charset: str | None
    cap: int

    def text(self) -> str:
        """The body as text: the declared charset, else UTF-8; bad bytes become U+FFFD."""
        encoding = "utf-8"
        if self.charset:
            # An unknown charset is the server's mistake; UTF-8 is the best guess then.
            with contextlib.suppress(LookupError):
                encoding = codecs.lookup(self.charset).name
        return self.data.decode(encoding, errors="replace")

    def where(self) -> str:
        """`` in its first 1 MB`` when truncated, else nothing (so a miss is not overstated)."""
        return f" in its first {format_bytes(self.cap)}" if self.truncated else ""




def status_failures(code: int, expected: StatusRanges) -> list[str]:
    if status_matches(code, expected):
        return []
    return [f"expected {describe_status(expected)}, got {code}"]


def body_failures(body: Body, options: HttpOptions, regex_matched: bool | None = None
                  ) -> list[str]:
    """``body_contains`` (every string must appear) and ``body_regex`` (must match).

    ``regex_matched``: whether ``body_regex`` matched ``body.text()``. The caller searches
    (checks.shared.patterns.search, in bounded time off the event loop); it is required
    when ``body_regex`` is set.
    """
    if not options.body_contains and options.body_regex is None:
        return []
    text = body.text()
    out = [f"body does not contain {quoted(s)}{body.where()}"
           for s in options.body_contains if s not in text]
    if options.body_regex is not None:
        if regex_matched is None:
            raise ValueError("body_regex set but not searched")
        if not regex_matched:
            out.append(f"body does not match /{options.body_regex.pattern}/{body.where()}")
    return out


def json_failures(body: Body, expectations: tuple[JsonExpectation, ...],
                  hide: Hide = _shown_as_is) -> list[str]:
    """Parse the body as JSON (RFC 8259: UTF-8) and check every expectation; ``hide``
    takes secrets out of each value quoted (before it is shortened)."""
    if not expectations:
        return []
    if body.truncated:
        return [f"body is larger than the {format_bytes(body.cap)} cap, so its JSON was not "
                "checked (raise max_body)"]
    if not body.data.strip():
        return ["body is empty, expected JSON"]
    try:
        doc = json.loads(body.data)
    except UnicodeDecodeError:
        return ["body is not valid JSON (not UTF-8 text)"]
    except json.JSONDecodeError as exc:
        return [f"body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
    out: list[str] = []
    for exp in expectations:
        out.extend(judge_json(doc, exp, hide))
    return out


def judge_json(doc: Any, exp: JsonExpectation, hide: Hide = _shown_as_is) -> list[str]:
    """The failures of one expectation against a parsed document."""
    path = exp.path.text
    try:
        value = exp.path.resolve(doc)
    except PathNotFoundError as exc:
        return [] if exp.exists is False else [str(exc)]
    given = exp.model_fields_set
    if exp.exists is False:
        return [f"{path} exists, expected it to be absent"]
    out: list[str] = []
    if "equals" in given and not json_equal(value, exp.equals):
        out.append(f"{path} is {show(value, hide)}, expected {show(exp.equals)}")
    if "not_equals" in given and json_equal(value, exp.not_equals):
        out.append(f"{path} is {show(value, hide)}, expected anything else")
    for op, bound in (("<", exp.lt), ("<=", exp.le), (">", exp.gt), (">=", exp.ge)):
        if bound is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{path} is {show(value, hide)}, expected a number {op} "
                       f"{format_number(bound)}")
        elif not _compare(float(value), op, bound):
            out.append(f"{path} is {show(value, hide)}, expected {op} {format_number(bound)}")
    return out


def _compare(value: float, op: str, bound: float) -> bool:
    if math.isnan(value):
        return False
    if op == "<":
        return value < bound
    if op == "<=":
        return value <= bound
    if op == ">":
        return value > bound
    return value >= bound


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def show(value: Any, hide: Hide = _shown_as_is) -> str:
    """A JSON value as the user would write it, shortened (after ``hide``: a secret cut
    in half would no longer be recognised)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = hide(text)
    return shortened(text, _SHOWN + 3)


def judge(code: int, body: Body, options: HttpOptions, hide: Hide = _shown_as_is, *,
          regex_matched: bool | None = None) -> list[str]:
    """Every failed expectation; a wrong status alone is reported (the body then is
    usually an error page, and its misses would only repeat the same news). ``hide``
    takes secrets out of what the server sent that a failure quotes; ``regex_matched`` is
    the outcome of ``body_regex`` (see ``body_failures``)."""
    failed = status_failures(code, options.expect_status)
    if failed:
        return failed
    return (body_failures(body, options, regex_matched)
            + json_failures(body, options.json_checks, hide))
