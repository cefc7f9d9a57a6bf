"""Nagios plugin output: the summary line, long text, perfdata and threshold ranges.

The format (Nagios plugin guidelines)::

    TEXT OUTPUT | PERFDATA
    LONG TEXT LINE 1
    LONG TEXT LINE 2 | PERFDATA LINE 2
    PERFDATA LINE 3

A perfdata item is ``'label'=value[UOM];[warn];[crit];[min];[max]``. Units are normalised
into the metric name: ``s``/``ms``/``us`` become ``<label>_seconds``, ``%`` becomes
``<label>_percent``, ``B``/``KB``/``MB``/``GB``/``TB`` become ``<label>_bytes`` (the
plugins' convention of powers of 1024), ``c`` (a counter) becomes ``<label>_total``.

Nothing here raises on bad input: malformed items are skipped and named in ``problems``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from dataclasses import dataclass

from agent.model import Status

__all__ = [
    "NagiosRange",
    "PerfDatum",
    "PluginOutput",
    "metric_name",
    "parse_perfdata",
    "parse_plugin_output",
    "parse_range",
    "snake_case",
]

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^({_NUMBER})([A-Za-z%µ]*)$")
_RANGE_NUMBER = re.compile(rf"^{_NUMBER}$")

#: UOM -> (factor to the base unit, metric-name suffix)
_UNITS: dict[str, tuple[float, str]] = {
    "s": (1.0, "seconds"),
    "ms": (1e-3, "seconds"),
    "us": (1e-6, "seconds"),
    "µs": (1e-6, "seconds"),
    "%": (1.0, "percent"),
    "B": (1.0, "bytes"),
    "KB": (1024.0, "bytes"),
    "kB": (1024.0, "bytes"),
    "MB": (1024.0**2, "bytes"),
    "GB": (1024.0**3, "bytes"),
    "TB": (1024.0**4, "bytes"),
    "KiB": (1024.0, "bytes"),
    "MiB": (1024.0**2, "bytes"),
    "GiB": (1024.0**3, "bytes"),
    "TiB": (1024.0**4, "bytes"),
    "c": (1.0, "total"),
}
#: Label endings that already say the unit, dropped before the normalised suffix is added
#: (``response_ms=12ms`` becomes ``response_seconds``, not ``response_ms_seconds``).
_REDUNDANT_ENDINGS: dict[str, tuple[str, ...]] = {
    "seconds": ("seconds", "second", "secs", "sec", "s", "ms", "us"),
    "percent": ("percent", "pct", "perc"),
    "bytes": ("bytes", "b", "kb", "mb", "gb", "tb"),
    "total": ("total",),
}


@dataclass(frozen=True, slots=True)
class NagiosRange:
    """A Nagios threshold range: alert when the value is outside ``start..end`` (inclusive).

    With ``inside`` (the ``@`` prefix) it alerts when the value is inside instead.
    ``text`` is the range as the plugin wrote it.
    """

    start: float
    end: float
    inside: bool
    text: str

    def alerts(self, value: float) -> bool:
        """Whether ``value`` triggers this range."""
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def scaled(self, factor: float) -> NagiosRange:
        """The same range in another unit (``factor`` times the bounds)."""
        if factor == 1.0:
            return self
        return NagiosRange(self.start * factor, self.end * factor, self.inside, self.text)

    def __str__(self) -> str:
        start = "~" if self.start == -math.inf else _fmt(self.start)
        end = "" if self.end == math.inf else _fmt(self.end)
        return ("@" if self.inside else "") + f"{start}:{end}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _number(text: str) -> float:
    if not _RANGE_NUMBER.match(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def parse_range(text: str) -> NagiosRange:
    """Parse ``10`` (0..10), ``10:`` (10..inf), ``~:10``, ``10:20`` or ``@10:20``.

    Raises ValueError on anything else.
    """
    raw = text.strip()
    body = raw[1:] if raw.startswith("@") else raw
    if not body:
        raise ValueError(f"empty range {text!r}")
    if ":" in body:
        start_text, _, end_text = body.partition(":")
        start = -math.inf if start_text == "~" else (_number(start_text) if start_text else 0.0)
        end = _number(end_text) if end_text else math.inf
    else:
        start, end = 0.0, _number(body)
    if start > end:
        raise ValueError(f"range {text!r} starts after it ends")
    return NagiosRange(start, end, raw.startswith("@"), raw)


def snake_case(label: str) -> str:
    """``Response Time`` -> ``response_time``; ``/var/log`` -> ``var_log``; ``/`` -> ``root``.

    Accents are dropped, camelCase is split, a leading digit gets an ``m_`` prefix so the
    name is a valid metric name everywhere. Returns ``""`` when nothing usable is left.
    """
    if label.strip() == "/":
        return "root"
    text = unicodedata.normalize("NFKD", label)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if text and text[0].isdigit():
        text = "m_" + text
    return text


def metric_name(label: str, uom: str) -> str:
    """The metric name for a perfdata label and its unit of measure (``""`` if unusable)."""
    base = snake_case(label)
    if not base:
        return ""
    if uom in _UNITS:
        suffix = _UNITS[uom][1]
        for ending in _REDUNDANT_ENDINGS[suffix]:
            if base.endswith("_" + ending):
                base = base[: -len(ending) - 1]
                break
        return f"{base}_{suffix}"
    unit = snake_case(uom)
    if not unit or base.endswith("_" + unit):
        return base
    return f"{base}_{unit}"


@dataclass(frozen=True, slots=True)
class PerfDatum:
    """One perfdata item, with ``value`` and the ranges converted to the metric's unit."""

    label: str
    metric: str
    value: float
    uom: str
    warn: NagiosRange | None = None
    crit: NagiosRange | None = None
    minimum: float | None = None
    maximum: float | None = None

    def status(self) -> Status:
        """What the plugin's own ranges say about the value."""
        if self.crit is not None and self.crit.alerts(self.value):
            return Status.CRITICAL
        if self.warn is not None and self.warn.alerts(self.value):
            return Status.WARNING
        return Status.OK

    def violation(self) -> str | None:
        """``load1 5.2 outside crit range 0:4`` when a range alerts, else None."""
        status = self.status()
        if status is Status.OK:
            return None
        rng = self.crit if status is Status.CRITICAL else self.warn
        assert rng is not None
        where = "inside" if rng.inside else "outside"
        level = "crit" if status is Status.CRITICAL else "warn"
        return f"{self.metric} {_fmt(self.value)} {where} {level} range {rng}"


@dataclass(frozen=True, slots=True)
class PluginOutput:
    """A plugin's output split into its parts; ``problems`` names what was skipped."""

    summary: str
    long_text: str
    perfdata: tuple[PerfDatum, ...]
    problems: tuple[str, ...]


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """Split perfdata into ``label=rest`` items; single-quoted labels may hold spaces."""
    items: list[str] = []
    problems: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "'":
            j = i + 1
            label_chars: list[str] = []
            while j < n:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":  # '' is a literal quote
                        label_chars.append("'")
                        j += 2
                        continue
                    break
                label_chars.append(text[j])
                j += 1
            if j >= n:
                problems.append(f"unterminated quote in perfdata {_clip(text[i:])}")
                break
            k = j + 1
            while k < n and not text[k].isspace():
                k += 1
            rest = text[j + 1 : k]
            items.append("".join(label_chars) + "\0" + rest)
            i = k
            continue
        k = i
        while k < n and not text[k].isspace():
            k += 1
        label, eq, rest = text[i:k].partition("=")
        items.append(label + "\0" + eq + rest)
        i = k
    return items, problems


def _clip(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _optional_range(text: str, factor: float) -> NagiosRange | None:
    return parse_range(text).scaled(factor) if text.strip() else None


def _optional_number(text: str, factor: float) -> float | None:
    return _number(text.strip()) * factor if text.strip() else None


def _datum(label: str, rest: str) -> PerfDatum | None:
    """One item; None for the value ``U`` (unknown); ValueError when malformed."""
    if not rest.startswith("="):
        raise ValueError("expected label=value")
    fields = rest[1:].split(";")
    value_text = fields[0].strip()
    if value_text == "U":
        return None
    m = _VALUE.match(value_text)
    if not m:
        raise ValueError("value is not a number")
    uom = m.group(2)
    factor = _UNITS[uom][0] if uom in _UNITS else 1.0
    value = _number(m.group(1)) * factor
    name = metric_name(label, uom)
    if not name:
        raise ValueError("label has no letters or digits")
    padded = [*fields[1:5], "", "", "", ""]
    return PerfDatum(
        label=label, metric=name, value=value, uom=uom,
        warn=_optional_range(padded[0], factor), crit=_optional_range(padded[1], factor),
        minimum=_optional_number(padded[2], factor), maximum=_optional_number(padded[3], factor),
    )


def parse_perfdata(text: str) -> tuple[list[PerfDatum], list[str]]:
    """Parse perfdata text into items; malformed ones are skipped and described."""
    items, problems = _tokens(text)
    out: list[PerfDatum] = []
    taken: set[str] = set()
    for item in items:
        label, _, rest = item.partition("\0")
        try:
            datum = _datum(label, rest)
        except ValueError as exc:
            problems.append(f"malformed perfdata {_clip(label + rest)}: {exc}")
            continue
        if datum is None:
            continue
        name, count = datum.metric, 1
        while name in taken:  # two labels that normalise to the same name stay apart
            count += 1
            name = f"{datum.metric}_{count}"
        if name != datum.metric:
            datum = dataclasses.replace(datum, metric=name)
        taken.add(name)
        out.append(datum)
    return out, problems


def parse_plugin_output(text: str) -> PluginOutput:
    """Split a plugin's output into summary, long text and perfdata (never raises)."""
    lines = text.splitlines()
    first = lines[0] if lines else ""
    summary, _, perf_first = first.partition("|")
    long_lines: list[str] = []
    perf_parts = [perf_first]
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
        elif "|" in line:
            text_part, _, perf = line.partition("|")
            long_lines.append(text_part)
            perf_parts.append(perf)
            in_perf = True
        else:
            long_lines.append(line)
    perfdata, problems = parse_perfdata(" ".join(perf_parts))
    return PluginOutput(summary.strip(), "\n".join(long_lines).strip(), tuple(perfdata),
                        tuple(problems))
