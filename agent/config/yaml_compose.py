"""YAML text -> PyYAML's node tree, within the depth and value limits, without recursion.

The events come from libyaml when PyYAML has it (about 20 times faster than PyYAML's own
parser, which matters at the value limit), else from PyYAML's parser; both are loops, not
recursion. The nodes are composed here by a loop too, with SafeLoader's tag resolution,
so nesting costs no stack and a document deeper than ``MAX_DEPTH`` or with more than
``MAX_VALUES`` values is refused at the line where it passes the limit.

Errors read as PyYAML writes them whichever parser ran: when libyaml refuses the text,
PyYAML's parser is asked for its (more precise) words about the same text.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agent.config.limits import MAX_DEPTH, MAX_VALUES
from agent.config.yaml_bounds import YamlLimitError, too_deep

_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def compose(text: str) -> Node | None:
    """The node tree of the single YAML document in ``text`` (None when it has none).

    Raises YamlLimitError past a limit, yaml.MarkedYAMLError for text that is not YAML,
    and yaml.YAMLError (a reader error) for characters YAML does not allow.
    """
    yaml.reader.Reader(text)  # refuses control characters, naming their position
    if _FAST_LOADER is None:
        return _compose(yaml.SafeLoader(text))
    try:
        return _compose(_FAST_LOADER(text))
    except yaml.MarkedYAMLError as fast:
        if isinstance(fast, ComposerError):
            raise  # ours: already in PyYAML's words
        if _too_deep_for_libyaml(fast):
            # libyaml's scanner runs ahead of the events and refuses flow nesting past
            # its own bound before the composer sees MAX_DEPTH: the same limit, in our
            # words. PyYAML's parser is not asked: on such text it takes time
            # superlinear in the depth (minutes for a few hundred KB of "[").
            mark = fast.problem_mark or fast.context_mark
            raise YamlLimitError(mark.line + 1 if mark is not None else None,
                                 too_deep()) from None
        _parse_slowly(text)
        raise


def _too_deep_for_libyaml(error: yaml.MarkedYAMLError) -> bool:
    """Whether libyaml refused the text for nesting past its own depth bound."""
    return "maximum nesting depth" in (error.problem or "")


def _parse_slowly(text: str) -> None:
    """Raise PyYAML's own error for text libyaml refused (if PyYAML refuses it too)."""
    parser: Any = yaml.SafeLoader(text)
    try:
        while parser.check_event():
            parser.get_event()
    finally:
        parser.dispose()


class _Open:
    """A collection being composed: its node, and the key waiting for a value."""

    __slots__ = ("key", "node")

    def __init__(self, node: SequenceNode | MappingNode) -> None:
        self.node = node
        self.key: Node | None = None

    def add(self, child: Node) -> None:
        if isinstance(self.node, SequenceNode):
            self.node.value.append(child)
        elif self.key is None:
            self.key = child
        else:
            self.node.value.append((self.key, child))
            self.key = None


def _compose(parser: Any) -> Node | None:
    try:
        _expect(parser, StreamStartEvent)
        if parser.check_event(StreamEndEvent):
            return None
        document = _expect(parser, DocumentStartEvent)
        root = _document(parser)
        _expect(parser, DocumentEndEvent)
        if not parser.check_event(StreamEndEvent):
            raise ComposerError("expected a single document in the stream",
                                document.start_mark, "but found another document",
                                parser.peek_event().start_mark)
        return root
    finally:
        parser.dispose()


def _expect(parser: Any, kind: type[Event]) -> Any:
    event = parser.get_event()
    if not isinstance(event, kind):  # the parsers never do this; guard for the types
        raise ComposerError(None, None, f"unexpected {type(event).__name__}", event.start_mark)
    return event


def _document(parser: Any) -> Node:
    anchors: dict[str, Node] = {}
    stack: list[_Open] = []
    values = 0
    root: Node | None = None
    while root is None:
        event = parser.get_event()
        node: Node | None
        if isinstance(event, AliasEvent):
            node = anchors.get(event.anchor or "")
            if node is None:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                    _start(event))
        elif isinstance(event, ScalarEvent | CollectionStartEvent):
            values += 1
            if values > MAX_VALUES:
                raise YamlLimitError(_start(event).line + 1,
                                     f"the document holds more than {MAX_VALUES:,} values "
                                     "(lists, mappings and scalars)")
            node = _node(parser, event)
            if event.anchor is not None:
                if event.anchor in anchors:
                    raise ComposerError(f"found duplicate anchor {event.anchor!r}; first "
                                        "occurrence", anchors[event.anchor].start_mark,
                                        "second occurrence", _start(event))
                anchors[event.anchor] = node
            if isinstance(node, SequenceNode | MappingNode):
                if len(stack) >= MAX_DEPTH:
                    raise YamlLimitError(_start(event).line + 1, too_deep())
                stack.append(_Open(node))
                continue
        else:  # the end of a sequence or mapping
            node = stack.pop().node
            node.end_mark = _end(event)
        if stack:
            stack[-1].add(node)
        else:
            root = node
    return root


def _node(parser: Any, event: Any) -> Node:
    tag = event.tag
    if isinstance(event, ScalarEvent):
        if tag is None or tag == "!":
            tag = parser.resolve(ScalarNode, event.value, event.implicit)
        return ScalarNode(tag, event.value, _start(event), _end(event), style=event.style)
    kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
    if tag is None or tag == "!":
        tag = parser.resolve(kind, None, event.implicit)
    assert isinstance(event, SequenceStartEvent | MappingStartEvent)
    return kind(tag, [], _start(event), None, flow_style=event.flow_style)


def _start(event: Any) -> Any:
    """Where an event starts (libyaml's marks are a type of their own, alike in use)."""
    return event.start_mark


def _end(event: Any) -> Any:
    return event.end_mark
