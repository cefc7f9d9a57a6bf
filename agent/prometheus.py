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

And what ``promtool check metrics`` asks beyond validity: label names in snake_case and
clear of ``le``/``quantile`` (histograms' and summaries', never written here); check
metrics renamed to base units (``exposed_metric``).
"""

from __future__ import annotations

import enum
import functools
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
#: A lower-case letter followed by a capital: where camelCase is split for the lint.
_CAMEL = re.compile(r"([a-z])([A-Z])")
#: Label names that belong to histograms (``le``) and summaries (``quantile``).
_RESERVED_LABELS = frozenset({"le", "quantile"})
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


@functools.lru_cache(maxsize=1024)
def label_name(text: str) -> str:
    """``text`` made a valid label name (as ``metric_name``, without ``:``; a leading
    ``__``, reserved for Prometheus, is cut to one ``_``; camelCase split as
    ``camel_Case``)."""
    name = _CAMEL.sub(r"\1_\2", _NOT_IN_LABEL_NAME.sub("_", text))
    if not name or name[0].isdigit():
        name = "_" + name
    while name.startswith("__"):
        name = name[1:]
    return name


def label_value(text: str) -> str:
    """``text`` escaped for the inside of a label value's double quotes."""
    if text.isascii() and "\\" not in text and '"' not in text and "\n" not in text:
        return text  # the common case, and a page holds thousands of label values
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
    label (or reserved for histograms and summaries) gets ``exported_`` in front (as often
    as needed), so no value is lost."""
    raw = tuple(labels)
    names = _label_names(tuple(name for name, _ in raw))
    return tuple((name, str(value)) for name, (_, value) in zip(names, raw, strict=True))


@functools.lru_cache(maxsize=1024)
def _label_names(raw_names: tuple[str, ...]) -> tuple[str, ...]:
    """``label_pairs``'s names for these raw names (the same few sets on every page)."""
    out: list[str] = []
    taken: set[str] = set(_RESERVED_LABELS)
    for raw_name in raw_names:
        name = label_name(raw_name)
        while name in taken:
            name = CLASH_PREFIX + name
        taken.add(name)
        out.append(name)
    return tuple(out)


class BaseUnit(enum.Enum):
    """The units Prometheus names metrics in (its naming guide's base units)."""

    SECONDS = "seconds"
    BYTES = "bytes"
    #: A fraction, 1 being the whole: what a percentage is exposed as.
    RATIO = "ratio"


@dataclass(frozen=True, slots=True)
class _Unit:
    name: str
    base: BaseUnit
    #: A value times ``multiply`` divided by ``divide`` is in the base unit.
    multiply: int = 1
    divide: int = 1


def _units(names: str, unit: _Unit) -> dict[str, _Unit]:
    return dict.fromkeys(names.split(), unit)


_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_KIB = 1024  # as perfdata (and the plugins) count KB, MB, ...
#: The unit words a metric name may hold, lower case; the single letters as the config's
#: durations read them (``m`` is minutes), and only as the name's last word (perfdata's
#: ``m_1min`` for a label ``1min`` is no number of minutes).
_UNIT_WORDS: dict[str, _Unit] = {
    **_units("s sec secs second seconds", _Unit("seconds", BaseUnit.SECONDS)),
    **_units("ms msec msecs millis millisecond milliseconds",
             _Unit("milliseconds", BaseUnit.SECONDS, divide=1000)),
    **_units("us usec usecs microsecond microseconds",
             _Unit("microseconds", BaseUnit.SECONDS, divide=10**6)),
    **_units("ns nanosecond nanoseconds", _Unit("nanoseconds", BaseUnit.SECONDS, divide=10**9)),
    **_units("m min mins minute minutes", _Unit("minutes", BaseUnit.SECONDS, _MINUTE)),
    **_units("h hr hrs hour hours", _Unit("hours", BaseUnit.SECONDS, _HOUR)),
    **_units("d day days", _Unit("days", BaseUnit.SECONDS, _DAY)),
    **_units("w week weeks", _Unit("weeks", BaseUnit.SECONDS, 7 * _DAY)),
    **_units("b byte bytes", _Unit("bytes", BaseUnit.BYTES)),
    **_units("bit bits", _Unit("bits", BaseUnit.BYTES, divide=8)),
    **_units("kb kib kilobytes kibibytes", _Unit("KiB", BaseUnit.BYTES, _KIB)),
    **_units("mb mib megabytes mebibytes", _Unit("MiB", BaseUnit.BYTES, _KIB**2)),
    **_units("gb gib gigabytes gibibytes", _Unit("GiB", BaseUnit.BYTES, _KIB**3)),
    **_units("tb tib terabytes tebibytes", _Unit("TiB", BaseUnit.BYTES, _KIB**4)),
    **_units("pb pib petabytes pebibytes", _Unit("PiB", BaseUnit.BYTES, _KIB**5)),
    **_units("percent percentage pct perc", _Unit("percent", BaseUnit.RATIO, divide=100)),
    **_units("ratio", _Unit("ratio", BaseUnit.RATIO)),
}
#: Abbreviated units the lint refuses anywhere in a name (promlint's list).
_ABBREVIATIONS = frozenset({"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb",
                            "m", "h", "d"})
#: Words that, beside the unit, would read as one more (non-base) unit to the lint.
_GLUED = _ABBREVIATIONS | {w for w, u in _UNIT_WORDS.items() if w != u.base.value}
#: Words the lint refuses in the name of a family of another type.
_TYPE_WORDS = frozenset({"counter", "gauge", "histogram", "summary"})
#: Endings the lint keeps for histograms and summaries.
_RESERVED_ENDINGS = frozenset({"bucket", "count", "sum"})


@dataclass(frozen=True, slots=True)
class ExposedMetric:
    """A check metric as Prometheus is shown it: named in base units, converted to them."""

    #: The name the check reports (and the config's thresholds use).
    metric: str
    #: The name on /metrics (without the agent's prefix).
    name: str
    type: MetricType
    #: The unit the check's name says (``milliseconds``, ``percent``), or "".
    unit: str = ""
    base: BaseUnit | None = None
    multiply: int = 1
    divide: int = 1

    def value(self, value: float) -> float:
        """``value``, in the check metric's unit, in the exposed one."""
        if self.multiply == self.divide == 1:
            return value
        # 15 significant digits, the most a double always keeps: 33.3 % is 0.333 rather
        # than 0.33299999999999996 (33.3 is not exact in binary; the quotient shows it).
        return float(f"{value * self.multiply / self.divide:.15g}")

    @property
    def converted(self) -> bool:
        """Whether the exposed value differs from the check's (a unit conversion)."""
        return (self.multiply, self.divide) != (1, 1)


def exposed_metric(metric: str) -> ExposedMetric:
    """How the check metric ``metric`` is exposed, so that ``promtool check metrics`` has
    nothing to say about it.

    The unit word (the last one the name holds) is taken out and its base unit put at the
    end: ``response_ms`` is ``response_seconds`` (÷1000), ``age_hours`` is
    ``age_seconds``, ``cert_days_left`` is ``cert_left_seconds``, ``used_percent`` is
    ``used_ratio`` (÷100). A name ending in ``_total`` is a counter (with the unit before
    ``_total``); words the lint keeps for other types (``gauge``, a last ``count``, ...)
    are dropped, other unit words joined to the next (``m_1min`` is ``m1min``). The name
    is made lower-case snake_case without ``:``. Only what /metrics shows is renamed: the
    config, thresholds, ``check`` and replay keep the check's own names.
    """
    words = [w for w in metric_name(_CAMEL.sub(r"\1_\2", metric)).replace(":", "_")
             .lower().split("_") if w and w not in _TYPE_WORDS]
    total = bool(words) and words[-1] == "total"
    if total:
        words.pop()
    found = next((i for i in reversed(range(len(words)))
                  if words[i] in _UNIT_WORDS and (len(words[i]) > 1 or i == len(words) - 1)),
                 None)
    unit = _UNIT_WORDS[words.pop(found)] if found is not None else None
    words = _glue_other_units(words)
    # The endings the lint keeps for histograms and summaries go; a "total" they hid
    # makes a counter after all (x_total_count is x_total).
    while unit is None and not total and words and words[-1] in _RESERVED_ENDINGS:
        words.pop()
        if words and words[-1] == "total":
            words.pop()
            total = True
    if unit is not None:
        words.append(unit.base.value)
    if total:
        words.append("total")
    name = metric_name("_".join(words) or "value")
    kind = MetricType.COUNTER if total else MetricType.GAUGE
    if unit is None:
        return ExposedMetric(metric, name, kind)
    return ExposedMetric(metric, name, kind, unit.name, unit.base, unit.multiply, unit.divide)


def _glue_other_units(words: list[str]) -> list[str]:
    """Words (besides the unit) that would read as an abbreviated or another unit, joined
    to the next (or last) word: ``m_1min`` is ``m1min``, ``days_queue`` ``daysqueue``.
    A word a joining makes must not read as one either (``k_b`` is no ``kb``: the name
    exposed is exposed as itself); with no other word to join they are dropped."""
    out: list[str] = []
    glue = ""
    for word in words:
        joined = glue + word
        if _reads_as_other(joined, glued=bool(glue)):
            glue = joined
        else:
            out.append(joined)
            glue = ""
    while glue and out:
        glue = out.pop() + glue
        if not _reads_as_other(glue, glued=True):
            out.append(glue)
            glue = ""
    return out


def _reads_as_other(word: str, glued: bool) -> bool:
    """Whether ``word`` would read as another unit to the lint (or, made by joining, as a
    type word, which the name's own words are cleared of before)."""
    return word in _GLUED or (glued and word in _TYPE_WORDS)


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
