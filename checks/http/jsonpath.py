"""A small JSON path: ``$`` then any number of ``.name``, ``["any name"]`` and ``[index]``.

Examples::

    $                       the whole document
    $.status                key "status" of the top-level object
    $.data.items[0].status  first element of data.items, then its "status"
    $.items[-1]             last element
    $["content-type"]       a key that is not a plain name (quotes: " or ')

A plain name is letters, digits, ``_`` and ``-``, not starting with a digit or ``-``. There
are no wildcards, filters or recursive descent: a path names exactly one value, so a check
can say precisely which part of the document is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"-?\d+")

Segment = str | int


class PathNotFoundError(LookupError):
    """The document has no value at the path; the message says where it stopped."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path. ``text`` is what the user wrote, ``segments`` the keys and indexes."""

    text: str
    segments: tuple[Segment, ...]

    def __str__(self) -> str:
        return self.text

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse ``text``; ValueError names the position of the first mistake."""
        text = text.strip()
        if not text.startswith("$"):
            raise ValueError(f"a JSON path starts with '$' (like $.status), got {text!r}")
        segments: list[Segment] = []
        pos = 1
        while pos < len(text):
            ch = text[pos]
            if ch == ".":
                m = _NAME.match(text, pos + 1)
                if not m:
                    raise _bad(text, pos + 1, "a name (letters, digits, _ or -)")
                segments.append(m.group())
                pos = m.end()
            elif ch == "[":
                seg, pos = _bracket(text, pos + 1)
                segments.append(seg)
            else:
                raise _bad(text, pos, "'.' or '['")
        return cls(text, tuple(segments))

    def resolve(self, doc: Any) -> Any:
        """The value at this path in ``doc`` (parsed JSON); PathNotFoundError if there is none."""
        value = doc
        where = "$"
        for seg in self.segments:
            here = _render(where, seg)
            if isinstance(seg, int):
                if not isinstance(value, list):
                    raise PathNotFoundError(f"{here} not found: {where} is {_kind(value)}, "
                                       "not an array")
                if not -len(value) <= seg < len(value):
                    raise PathNotFoundError(f"{here} not found: {where} has {len(value)} "
                                       f"element{'s' if len(value) != 1 else ''}")
                value = value[seg]
            else:
                if not isinstance(value, dict):
                    raise PathNotFoundError(f"{here} not found: {where} is {_kind(value)}, "
                                       "not an object")
                if seg not in value:
                    raise PathNotFoundError(f"{here} not found")
                value = value[seg]
            where = here
        return value


def _bracket(text: str, pos: int) -> tuple[Segment, int]:
    """Parse what follows a '[' at ``pos``: an index or a quoted key, then ']'."""
    if pos < len(text) and text[pos] in "\"'":
        quote = text[pos]
        end = text.find(quote, pos + 1)
        if end < 0:
            raise _bad(text, pos, f"a closing {quote}")
        key = text[pos + 1:end]
        pos = end + 1
        seg: Segment = key
    else:
        m = _INDEX.match(text, pos)
        if not m:
            raise _bad(text, pos, "an index like [0] or a quoted key like [\"name\"]")
        seg = int(m.group())
        pos = m.end()
    if pos >= len(text) or text[pos] != "]":
        raise _bad(text, pos, "']'")
    return seg, pos + 1


def _bad(text: str, pos: int, wanted: str) -> ValueError:
    got = repr(text[pos]) if pos < len(text) else "the end"
    return ValueError(f"bad JSON path {text!r}: expected {wanted} at position {pos}, "
                      f"found {got}")


def _render(prefix: str, seg: Segment) -> str:
    if isinstance(seg, int):
        return f"{prefix}[{seg}]"
    if _NAME.fullmatch(seg):
        return f"{prefix}.{seg}"
    return f'{prefix}["{seg}"]'


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
