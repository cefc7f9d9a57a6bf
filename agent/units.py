"""Parsing of the human units the config speaks: durations, sizes, percentages."""

from __future__ import annotations

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
        return float(value)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size like 500MB or 2GiB, got {value!r}")
    number, prefix, binary, _ = m.groups()
    base = 1024 if binary else 1000
    return float(number) * float(base ** _SIZE_POWERS[prefix.lower()])


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


def format_duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    s = round(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m" + (f" {s}s" if s and m < 10 else "")
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h" + (f" {m}m" if m else "")
    d, h = divmod(h, 24)
    return f"{d}d" + (f" {h}h" if h else "")
