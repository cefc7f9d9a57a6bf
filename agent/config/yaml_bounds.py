"""The limits a YAML document must keep before it is turned into data (``agent.config.limits``).

Three things make a small file expensive: nesting (PyYAML composes recursively, so 500
``[`` overflow Python's stack), many values (each costs PyYAML about a kilobyte), and
aliases, which are cheap to write and expand exponentially ("billion laughs": nine lines
that become 387 million values). The composer (``agent.config.yaml_compose``) counts depth
and values as it goes; ``check_expansion`` then measures what the aliases expand to, in
time linear in the document, before anything is expanded. Scalars are judged here too: an integer is
range-checked from its text before it is converted, and text must be text a path, a
header or a log line can hold (no NUL byte, no lone surrogate).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agent.config.limits import (
    ALIAS_ALLOWANCE,
    ALIAS_FACTOR,
    MAX_DEPTH,
    MAX_INTEGER,
    MAX_INTEGER_CHARS,
    MAX_TEXT_CHARS,
    MAX_VALUES,
)

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MAX_FLOAT = sys.float_info.max
_NOT_FINITE = frozenset({".inf", "-.inf", "+.inf", ".nan"})


class YamlLimitError(Exception):
    """The document passes one of the limits; ``line`` is 1-based, or None."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def too_deep() -> str:
    """The words for a document nested past ``MAX_DEPTH``."""
    return f"lists and mappings more than {MAX_DEPTH} deep"


def check_expansion(root: Node) -> None:
    """Raise YamlLimitError when expanding the aliases under ``root`` would make the
    document much larger than written, or nest it too deep."""
    written = _count_distinct(root)
    budget = min(MAX_VALUES, ALIAS_FACTOR * written + ALIAS_ALLOWANCE)
    _Expansion(budget).size(root, 1, root)


def _count_distinct(root: Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(_children(node))
    return len(seen)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        # A merge key's value counts as children too: flattening copies its pairs in.
        return [part for pair in node.value for part in pair]
    return []


class _Expansion:
    """Sizes and heights of nodes as expanded, each node measured once.

    The walk follows aliases, so its recursion is the expanded depth: it stops at the
    depth limit. A node reached again inside itself (an alias to its own collection) counts
    as one value; the builder reports it.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._sizes: dict[int, int] = {}
        self._heights: dict[int, int] = {}
        self._active: set[int] = set()

    def size(self, node: Node, depth: int, parent: Node) -> int:
        """The values ``node`` expands to, reached at ``depth`` from ``parent``."""
        key = id(node)
        if key in self._sizes:
            if depth + self._heights[key] - 1 > MAX_DEPTH:
                # Named where the alias is used: the anchored node itself was fine.
                raise YamlLimitError(parent.start_mark.line + 1, f"aliases nest {too_deep()}")
            return self._sizes[key]
        if key in self._active:
            return 1
        if depth > MAX_DEPTH:
            raise YamlLimitError(node.start_mark.line + 1, f"aliases nest {too_deep()}")
        self._active.add(key)
        total, height = 1, 0
        for child in _children(node):
            total += self.size(child, depth + 1, node)
            height = max(height, self._heights.get(id(child), 1))
            if total > self.budget:
                raise YamlLimitError(
                    node.start_mark.line + 1,
                    f"aliases expand the document to more than {self.budget:,} values "
                    f"(at most {ALIAS_FACTOR} times the values written)")
        self._active.discard(key)
        self._sizes[key] = total
        self._heights[key] = height + 1
        return total


def scalar_problem(node: ScalarNode) -> str | None:
    """What is wrong with a scalar as written, before it is converted; None if nothing."""
    text = node.value
    if len(text) > MAX_TEXT_CHARS:
        return f"the value {_too_long(text)}"
    if node.tag == _INT_TAG:
        digits = text.replace("_", "").lstrip("+-")
        if len(digits) > MAX_INTEGER_CHARS:
            return _out_of_range(text, f"±{MAX_INTEGER}")
    return None


def value_problem(node: ScalarNode, value: Any) -> str | None:
    """What is wrong with a scalar's converted value; None if nothing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _out_of_range(node.value, f"±{MAX_INTEGER}") if abs(value) > MAX_INTEGER \
            else None
    if isinstance(value, float):
        written = node.value.replace("_", "").lower()
        if not math.isfinite(value) and written not in _NOT_FINITE:
            return _out_of_range(node.value, f"±{_MAX_FLOAT:.3g}")
        return None
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else f"the value {problem}"
    return None


def key_problem(key: str) -> str | None:
    """What is wrong with a mapping key; None if nothing."""
    problem = _too_long(key) if len(key) > MAX_TEXT_CHARS else text_problem(key)
    return None if problem is None else f"a key {problem}"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a config value (a NUL byte, a lone surrogate), said to
    follow "the value"; None if it is fine.

    No file name, header, argument or log line can hold these, and each would fail far
    from the config (a NUL in ``state_dir`` once the agent runs).
    """
    if "\0" in text:
        return "holds a NUL byte (\\0), which no name, path or value may hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"holds the character \\u{ord(text[e.start]):04x}, which is not valid text"
    return None


def _too_long(text: str) -> str:
    return f"is longer than {MAX_TEXT_CHARS:,} characters ({len(text):,})"


def _out_of_range(written: str, bound: str) -> str:
    digits = written.replace("_", "").lstrip("+-")
    shown = written if len(written) <= 24 else f"{written[:12]}... ({len(digits):,} digits)"
    return f"the number {shown} is out of range (at most {bound})"
