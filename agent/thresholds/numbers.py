"""Numbers as people read them in a notification: ``93.1``, ``1532``, ``512MiB``."""

from __future__ import annotations

import math

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_number(value: float) -> str:
    """A short, exact-enough rendering: whole numbers bare, a few decimals otherwise.

    ``93.14159`` -> ``93.14``, ``1234.56`` -> ``1234.6``, ``0.001234`` -> ``0.00123``,
    ``90.0`` -> ``90``. Never seventeen digits, never exponent notation for everyday sizes.
    """
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    size = abs(value)
    if size >= 100:
        text = f"{value:.1f}"
    elif size >= 1:
        text = f"{value:.2f}"
    else:
        return f"{value:.3g}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_bytes(value: float) -> str:
    """A byte count in binary units: ``512MiB``, ``1.5GiB``, ``900B``."""
    if not math.isfinite(value):
        return str(value)
    size = float(value)
    unit = 0
    while abs(size) >= 1024 and unit < len(_BINARY_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{format_number(round(size, 1))}{_BINARY_UNITS[unit]}"


def format_value(metric: str, value: float) -> str:
    """``value`` in the unit the metric's name announces (sizes for ``*_bytes``)."""
    if metric.endswith("_bytes"):
        return format_bytes(value)
    return format_number(value)
