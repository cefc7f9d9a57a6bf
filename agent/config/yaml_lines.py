"""YAML parsing that remembers where every key and list item came from.

The document is composed into PyYAML's node tree (SafeLoader rules only) and turned into
plain dicts, lists and scalars here, so that each dotted path such as
``checks[3].thresholds.used_percent.warn`` can be mapped back to a line of the file.
Mapping keys are always text (the key as written), and a key given twice in one mapping
is reported rather than silently overwritten. The document must keep the limits of
``agent.config.yaml_bounds`` (depth, values, alias expansion, scalar sizes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agent.config.suggest import quoted
from agent.config.yaml_bounds import (
    YamlLimitError,
    check_expansion,
    key_problem,
    scalar_problem,
    value_problem,
)
from agent.config.yaml_compose import compose

#: A position in the document: mapping keys and sequence indexes, from the top.
YamlPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: A key longer than this is cut in a dotted path (the line of the file shows it whole).
_SHOWN_KEY = 60


def format_path(path: YamlPath) -> str:
    """``checks[3].thresholds.used_percent.warn``; odd keys are quoted (``channels."a.b"``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if len(part) <= _SHOWN_KEY else f"{part[:_SHOWN_KEY - 20]}..."
            text = key if _PLAIN_KEY.match(key) else _quote(key)
            out += f".{text}" if out else text
    return out


def _quote(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class LineMap:
    """Line numbers (1-based) of mapping keys and sequence items, by path."""

    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: YamlPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """Something wrong in an otherwise readable document (a duplicate key, say)."""

    path: YamlPath
    line: int | None
    message: str


@dataclass
class ParsedYaml:
    """The plain data of a document, where each part of it came from, and its problems."""

    data: Any
    lines: LineMap
    problems: list[YamlProblem]
    #: Where a value could not be read and stands as None (its problem says why).
    dropped: list[YamlPath] = field(default_factory=list)


class YamlSyntaxError(Exception):
    """The text is not YAML, or is YAML past the limits. ``line`` is 1-based; the
    message names the column where it can."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document with SafeLoader rules, keeping line numbers.

    Raises YamlSyntaxError for text that is not a single well-formed YAML document, or
    one that passes a limit (too deep, too many values, aliases expanding too far).
    """
    try:
        root = compose(text)
        if root is not None:
            check_expansion(root)
    except YamlLimitError as e:
        raise YamlSyntaxError(e.line, e.message) from None
    except yaml.MarkedYAMLError as e:
        raise _syntax_error(e) from None
    except yaml.YAMLError as e:  # the reader refuses control characters
        raise _reader_error(e, text) from None
    loader = yaml.SafeLoader("")  # SafeLoader's constructors, for the scalars
    try:
        builder = _Builder(loader)
        data = None if root is None else builder.build(root, ())
        if root is not None:
            builder.lines.lines[()] = root.start_mark.line + 1
        return ParsedYaml(data, builder.lines, builder.problems, builder.dropped)
    finally:
        loader.dispose()


def _syntax_error(e: yaml.MarkedYAMLError) -> YamlSyntaxError:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or "not valid YAML"
    where = f" at column {mark.column + 1}" if mark is not None else ""
    context = e.context or ""
    if context.startswith("while"):
        since = f" from line {e.context_mark.line + 1}" if e.context_mark is not None else ""
        detail = f"{problem}{where} ({context}{since})" if since else f"{problem}{where}"
    elif context:
        detail = f"{context}, {problem}{where}"
    else:
        detail = f"{problem}{where}"
    return YamlSyntaxError(mark.line + 1 if mark is not None else None, f"invalid YAML: {detail}")


def _reader_error(e: yaml.YAMLError, text: str) -> YamlSyntaxError:
    # Only the reader raises unmarked errors (control characters in the text).
    position = getattr(e, "position", None)
    line = text[:position].count("\n") + 1 if isinstance(position, int) else None
    character = getattr(e, "character", None)
    reason = getattr(e, "reason", None) or "unreadable text"
    if isinstance(character, int):
        reason = f"character #x{character:04x}: {reason}"
    return YamlSyntaxError(line, f"invalid YAML: {reason}")


class _Builder:
    """Turns composed nodes into plain data, recording lines and problems on the way."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines = LineMap()
        self.problems: list[YamlProblem] = []
        self.dropped: list[YamlPath] = []
        # A node reached twice (through an alias) has already had its merge keys
        # flattened; remember which keys were its own so duplicates are judged once.
        self._own_keys: dict[int, frozenset[int]] = {}
        self._reported: set[int] = set()
        self._active: set[int] = set()

    def build(self, node: Node, path: YamlPath) -> Any:
        if id(node) in self._active:
            self._drop(path, node, "an alias refers to the collection that contains it")
            return None
        if isinstance(node, MappingNode):
            self._active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self._active.discard(id(node))
        if isinstance(node, SequenceNode):
            self._active.add(id(node))
            try:
                return self._sequence(node, path)
            finally:
                self._active.discard(id(node))
        return self._scalar(node, path)

    def _scalar(self, node: Node, path: YamlPath) -> Any:
        assert isinstance(node, ScalarNode)  # the composer makes no other kind
        problem = scalar_problem(node)
        if problem is None:
            try:
                value = self.loader.construct_object(node, deep=True)
            except yaml.MarkedYAMLError as e:
                problem = e.problem or "cannot read this value"
                if problem.startswith("could not determine a constructor"):
                    problem = f"unsupported YAML tag {node.tag!r}"
            except Exception:
                # A constructor given what its tag cannot hold (!!bool x, a year 0, an
                # empty !!int) raises whatever its code meets: each is this value's issue.
                problem = f"cannot read {_short(node)} as {_tag_name(node.tag)}"
            else:
                problem = value_problem(node, value)
                if problem is None:
                    return value
        self._drop(path, node, problem)
        return None

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        own = self._own_keys.setdefault(id(node), frozenset(id(k) for k, _ in node.value))
        try:
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as e:
            self._problem(path, node, e.problem or "bad merge key")
        result: dict[str, Any] = {}
        first_own_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._problem(path, key_node, "a key must be plain text, not a list or mapping")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            problem = key_problem(key)
            if problem is not None:
                self.problems.append(YamlProblem(path, line, problem))
                continue
            if id(key_node) in own:
                if key in first_own_line:
                    if id(key_node) not in self._reported:
                        self._reported.add(id(key_node))
                        self.problems.append(YamlProblem(
                            (*path, key), line,
                            f"duplicate key {quoted(key)} (first at line {first_own_line[key]})"))
                else:
                    first_own_line[key] = line
            self.lines.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _sequence(self, node: SequenceNode, path: YamlPath) -> list[Any]:
        items: list[Any] = []
        for index, item in enumerate(node.value):
            self.lines.lines[(*path, index)] = item.start_mark.line + 1
            items.append(self.build(item, (*path, index)))
        return items

    def _problem(self, path: YamlPath, node: Node, message: str) -> None:
        self.problems.append(YamlProblem(path, node.start_mark.line + 1, message))

    def _drop(self, path: YamlPath, node: Node, message: str) -> None:
        """Report a value that cannot be read; it stands as None from here on."""
        self._problem(path, node, message)
        self.dropped.append(path)


def _short(node: Node) -> str:
    text = str(node.value)
    return repr(text if len(text) <= 40 else f"{text[:40]}...")


def _tag_name(tag: str) -> str:
    return tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else repr(tag)
