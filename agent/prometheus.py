"""The Prometheus text exposition format, version 0.0.4, written without the client library.

The format is a handful of rules, and the official client costs megabytes of RSS in an
agent that must stay small. What is kept here:

- metric names match ``[a-zA-Z_:][a-zA-Z0-9_:]*`` and label names ``[a-zA-Z_][a-zA-Z0-9_]*``
  (anything else becomes ``_``; a leading ``__`` is reserved for Prometheus itself);
- label values escape backslash, double quote and newline; HELP text backslash and newline;
  text is UTF-8, so a lone surrogate (an undecodable byte of a path) becomes U+FFFD;
- values are ``NaN``, ``+Inf``, ``-Inf`` or a number Go's ParseFloat reads;
- each family has one HELP and one TYPE line, and all its samples follow them together;
- a series (name and label set) appears once: the first value given is kept.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: The Content-Type of a response in this format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: What a label name that clashes with an earlier one of the same sample gets in front
#: (the prefix Prometheus itself gives a scraped label clashing with a target label).
CLASH_PREFIX = "exported_"

_NOT_IN_METRIC_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_NOT_IN_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
_LABEL_VALUE_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_HELP_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n"})
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Integral values up to this size are written without a fraction ("3", not "3.0").
_EXACT_INT = 2.0**53

#: A sample's labels, in the order they are written.
LabelPairs = tuple[tuple[str, str], ...]


class MetricType(enum.Enum):
    """The TYPE of a family."""

    COUNTER = "counter"
    GAUGE = "gauge"


def metric_name(text: str) -> str:
    """``text`` made a valid metric name: other characters become ``_``, a leading digit
    gets ``_`` in front."""
    name = _NOT_IN_METRIC_NAME.sub("_", text)
    return name if name and not name[0].isdigit() else "_" + name


def label_name(text: str) -> str:
    """``text`` made a valid label name (as ``metric_name``, without ``:``; a leading
    ``__``, reserved for Prometheus, is cut to one ``_``)."""
    name = _NOT_IN_LABEL_NAME.sub("_", text)
    if not name or name[0].isdigit():
        name = "_" + name
    while name.startswith("__"):
        name = name[1:]
    return name


def label_value(text: str) -> str:
    """``text`` escaped for the inside of a label value's double quotes."""
    return _SURROGATE.sub("\ufffd", text).translate(_LABEL_VALUE_ESCAPES)


def help_text(text: str) -> str:
    """``text`` escaped for a HELP line."""
    return _SURROGATE.sub("\ufffd", text).translate(_HELP_ESCAPES)


def sample_value(value: float) -> str:
    """A sample's value as the format writes it."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < _EXACT_INT:
        return str(int(value))
    return repr(value)


def label_pairs(labels: Iterable[tuple[str, str]]) -> LabelPairs:
    """Labels with valid names, in the order given; a name already taken by an earlier
    label gets ``exported_`` in front (as often as needed), so no value is lost."""
    out: list[tuple[str, str]] = []
    taken: set[str] = set()
    for raw_name, value in labels:
        name = label_name(raw_name)
        while name in taken:
            name = CLASH_PREFIX + name
        taken.add(name)
        out.append((name, str(value)))
    return tuple(out)


@dataclass
class Family:
    """One metric family: its name, HELP, TYPE and samples by label set."""

    name: str
    help: str
    type: MetricType
    #: By label set (so the order labels come in does not make a new series).
    samples: dict[frozenset[tuple[str, str]], tuple[LabelPairs, float]] = field(
        default_factory=dict)

    def add(self, value: float,
            labels: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        """Add a sample; a second sample of the same label set is dropped."""
        pairs = label_pairs(labels.items() if isinstance(labels, Mapping) else labels)
        self.samples.setdefault(frozenset(pairs), (pairs, float(value)))

    def lines(self) -> list[str]:
        out = [f"# HELP {self.name} {help_text(self.help)}",
               f"# TYPE {self.name} {self.type.value}"]
        for pairs, value in self.samples.values():
            inner = ",".join(f'{k}="{label_value(v)}"' for k, v in pairs)
            out.append(f"{self.name}{{{inner}}} {sample_value(value)}" if pairs
                       else f"{self.name} {sample_value(value)}")
        return out


class NameClashError(ValueError):
    """A family name is already taken by a family of another HELP or TYPE."""


class Exposition:
    """Families in the order they were first asked for; renders the whole page.

    A counter named ``x_total`` also claims ``x`` (parsers name its family ``x``), so a
    family ``x`` of any other kind cannot sit beside it.
    """

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._claimed: dict[str, Family] = {}

    def family(self, name: str, help: str, type: MetricType = MetricType.GAUGE) -> Family:
        """The family ``name`` (sanitised), created on first use.

        Raises NameClashError when the name is taken by a family of another HELP or TYPE.
        """
        name = metric_name(name)
        claims = [name]
        if type is MetricType.COUNTER and name.endswith("_total"):
            claims.append(name.removesuffix("_total"))
        for claim in claims:
            held = self._claimed.get(claim)
            if held is not None and (held.name, held.help, held.type) != (name, help, type):
                raise NameClashError(f"metric family {name} clashes with {held.name} "
                                     f"({held.type.value})")
        existing = self._families.get(name)
        if existing is not None:
            return existing
        fam = self._families[name] = Family(name, help, type)
        for claim in claims:
            self._claimed[claim] = fam
        return fam

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and metric_name(name) in self._families

    def render(self) -> str:
        """The page: every family (an empty one shows only its HELP and TYPE)."""
        lines = [line for fam in self._families.values() for line in fam.lines()]
        return "\n".join(lines) + "\n" if lines else ""
