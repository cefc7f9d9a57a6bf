"""Values in their units: read as the config speaks them, written as people read them.

The unit of a metric is the last word of its name (``unit_of``); ``parse_*`` read what a
user writes, ``format_*`` write a value the one way it is written everywhere.
"""

from __future__ import annotations

import enum
import functools
import math
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)(i?)([bB]?)\s*$")
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(value: str | int | float) -> float:
    """``30s``, ``5m``, ``4h``, ``1d``, ``1h30m``, ``250ms`` or a plain number of seconds.

    Raises ValueError with a message fit for a user.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 5m, 4h or 1d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return float(value)
    text = str(value).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos and text[pos:m.start()].strip():
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"expected a duration like 30s, 5m, 4h or 1d, got {value!r}")
    return total


def parse_size(value: str | int | float) -> float:
    """``500MB`` (10^6), ``2GiB`` (2^30), ``1.5G``, or a plain number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 500MB or 2GiB, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value}")
        return _finite_size(float(value), value)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size like 500MB or 2GiB, got {value!r}")
    number, prefix, binary, _ = m.groups()
    base = 1024 if binary else 1000
    return _finite_size(float(number) * float(base ** _SIZE_POWERS[prefix.lower()]), value)


#: The largest size taken (an exbibyte): beyond it a number is a typo, not a size.
MAX_SIZE = float(2 ** 60)


def _finite_size(size: float, given: object) -> float:
    if not math.isfinite(size) or size > MAX_SIZE:
        raise ValueError(f"size {str(given)[:40]!r} is out of range (at most 1 EiB)")
    return size


def parse_percent(value: str | int | float) -> float:
    """``85%``, ``85`` or ``85.5`` as a number of percent (0..100 is not enforced here)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage like 85%, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    text = text.removesuffix("%").strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a percentage like 85%, got {value!r}") from None



# -- writing ------------------------------------------------------------------------------
#
# How a value is written, everywhere (summaries, reasons, messages, tables, replay):
# - at most 3 significant digits, but a whole part is never rounded (``93.1``, ``1532``,
#   ``1533`` for 1532.7, ``0.00123``); plain notation, never an exponent, below 1e16; no
#   trailing zeros; anything closer to 0 than 1e-12 is float noise and reads ``0``;
# - from 1e16 up a float's whole part holds digits that are not the value's (1e23 would
#   read 99999999999999991611392) and plain notation runs to 309 digits: 3 significant
#   digits and a power of ten, ``1.23e20`` (a size ``8.67e289 EiB``, a span ``1.16e296d``);
# - sizes in binary units with a space, as IEC writes them: ``900 B``, ``5.37 GiB``;
# - percentages with the sign right after the number, as the config reads them: ``93.1%``;
#   below 0.01 % (and not 0) ``<0.01%``;
# - durations compact, as the config reads them: ``245ms``, ``1.53s``, ``45s``, ``2m 14s``,
#   ``12m``, ``3h 5m``, ``2d 4h``;
# - not a number, or infinite: ``nan``, ``inf``, ``-inf`` as Python writes them, no unit.
# Sizes, percentages and durations written this way read back with the parsers above
# (the ``<0.01%`` floor aside). Next to a limit, ``format_pair`` adds digits until value
# and limit differ, so a reason never reads ``90% > 90%``.


class Unit(enum.Enum):
    """The unit a metric's name announces (its last word: ``free_bytes``, ``response_ms``)."""

    BYTES = "bytes"
    PERCENT = "percent"
    MILLISECONDS = "ms"
    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    NONE = ""

    @property
    def seconds(self) -> float | None:
        """Seconds in one of this unit; None for a unit that is not a time."""
        return _UNIT_SECONDS.get(self)


_UNIT_SECONDS = {Unit.MILLISECONDS: 0.001, Unit.SECONDS: 1.0, Unit.MINUTES: 60.0,
                 Unit.HOURS: 3600.0, Unit.DAYS: 86400.0}
_UNIT_WORDS = {u.value: u for u in Unit if u is not Unit.NONE}
#: Words after the unit that leave it the unit (``cert_days_left``).
_AFTER_UNIT = ("left", "remaining")

_DIGITS = 3
#: From here up a number is written with a power of ten (see above).
_PLAIN_BELOW = 1e16
#: Closer to 0 than this is float noise (``0.1 + 0.2 - 0.3``): written ``0``.
_NOISE = 1e-12
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@functools.lru_cache(maxsize=1024)  # a few metric names, asked for on every result
def unit_of(metric: str) -> Unit:
    """The unit of ``metric`` from its name: ``used_percent`` -> PERCENT,
    ``cert_days_left`` -> DAYS, ``check_last_run_timestamp_seconds`` -> NONE (a point in
    time, not a span), ``restarts`` -> NONE."""
    words = metric.lower().split("_")
    if len(words) > 1 and words[-1] in _AFTER_UNIT:
        words.pop()
    if len(words) > 1 and words[-2] == "timestamp":
        return Unit.NONE
    return _UNIT_WORDS.get(words[-1], Unit.NONE) if len(words) > 1 else Unit.NONE


def format_number(value: float, digits: int = _DIGITS) -> str:
    """``93.1``, ``1533``, ``0.00123``, ``-2.5``, ``0``; ``nan``, ``inf`` as Python writes them."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size < _NOISE:
        return "0"
    if size >= _PLAIN_BELOW:
        mantissa, power = f"{value:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(power)}"
    decimals = max(0, digits - 1 - math.floor(math.log10(size)))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_bytes(value: float, digits: int = _DIGITS) -> str:
    """A size in binary units: ``900 B``, ``1.5 KiB``, ``5.37 GiB``, ``-512 MiB``."""
    if not math.isfinite(value):
        return str(value)
    size, unit = abs(value), 0
    # Compare the rounded text, so 1023.99 KiB is written 1 MiB, not 1024 KiB.
    while float(format_number(size, digits)) >= 1024 and unit < len(_BINARY_UNITS) - 1:
        size /= 1024
        unit += 1
    sign = "-" if value < 0 and size >= _NOISE else ""
    return f"{sign}{format_number(size, digits)} {_BINARY_UNITS[unit]}"


def format_percent(value: float, digits: int = _DIGITS) -> str:
    """``93.1%``, ``100%``, ``0.05%``; ``<0.01%`` for a tiny share (``>-0.01%`` below 0)."""
    if not math.isfinite(value):
        return str(value)
    floor = 10.0 ** (1 - digits)
    if _NOISE <= abs(value) < floor:
        return f"{'<' if value > 0 else '>-'}{format_number(floor, digits)}%"
    return f"{format_number(value, digits)}%"


def format_count(n: int, noun: str, plural: str = "") -> str:
    """``1 check``, ``2 checks``; ``plural`` where an added s is wrong (``processes``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def format_duration(seconds: float, digits: int = _DIGITS) -> str:
    """A span of time: ``245ms``, ``1.53s``, ``45s``, ``2m 14s``, ``12m``, ``3h 5m``,
    ``2d 4h``; a negative one with ``-`` in front.

    From a minute up the two largest parts are shown (seconds only under ten minutes);
    with more ``digits`` every part is (``1h 0m 1s``), to tell close spans apart.
    """
    if not math.isfinite(seconds):
        return str(seconds)
    sign, size = ("-" if seconds < 0 else ""), abs(seconds)
    if size < _NOISE:
        return "0s"
    rounded = float(format_number(size, digits))
    if rounded < 1:
        return f"{sign}{format_number(size * 1000, digits)}ms"
    if rounded < 60:
        return f"{sign}{format_number(size, digits)}s"
    if size / 86400 >= _PLAIN_BELOW:  # more days than a float counts one by one
        return f"{sign}{format_number(size / 86400, digits)}d"
    return sign + _compound(round(size), every_part=digits > _DIGITS)


def _compound(s: int, every_part: bool) -> str:
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
    while parts[0][0] == 0:
        parts.pop(0)
    if every_part:
        while parts[-1][0] == 0:
            parts.pop()
        return " ".join(f"{n}{u}" for n, u in parts)
    # Seconds matter for a few minutes, not for an hour: 2m 14s, 12m, 3h 5m, 2d 4h.
    shown = parts[:1] if parts[0][1] == "m" and parts[0][0] >= 10 else parts[:2]
    return " ".join(f"{n}{u}" for n, u in shown if n)


def format_value(metric: str, value: float, digits: int = _DIGITS) -> str:
    """``value`` of ``metric`` in the unit its name announces: ``free_bytes`` 5368709120
    -> ``5 GiB``, ``response_ms`` 245 -> ``245ms``, ``used_percent`` 3.2e-05 -> ``<0.01%``."""
    unit = unit_of(metric)
    if unit is Unit.BYTES:
        return format_bytes(value, digits)
    if unit is Unit.PERCENT:
        return format_percent(value, digits)
    per = unit.seconds
    if per is not None:
        return format_duration(value * per, digits)
    return format_number(value, digits)


def format_pair(metric: str, value: float, other: float) -> tuple[str, str]:
    """``value`` and ``other`` (a limit) written with the digits it takes to tell them
    apart, so a reason never reads ``90 > 90``: ``(90.04, 90)`` -> ``("90.04", "90")``."""
    texts = (format_value(metric, value), format_value(metric, other))
    digits = _DIGITS
    while texts[0] == texts[1] and value != other and digits < 9:
        digits += 1
        texts = (format_value(metric, value, digits), format_value(metric, other, digits))
    return texts


def format_range(metric: str, lo: float, hi: float) -> str:
    """``lo`` to ``hi`` of ``metric``: ``120-180``, or ``-36.4 to -22.3`` where a sign
    would make a dash read as a minus."""
    a, b = format_value(metric, lo), format_value(metric, hi)
    return f"{a} to {b}" if a.startswith("-") or b.startswith("-") else f"{a}-{b}"
