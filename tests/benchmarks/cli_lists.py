"""Comma-separated lists on the benchmarks' command lines (``--steps 5,30,60``)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", int, float)


def positive_list(kind: Callable[[str], T]) -> Callable[[str], list[T]]:
    """An argparse ``type``: a comma-separated list of positive finite numbers of ``kind``;
    anything else is a usage error naming the text, not a traceback."""

    def parse(text: str) -> list[T]:
        try:
            values = [kind(part) for part in text.split(",")]
        except ValueError:
            values = []
        if not values or not all(v > 0 and math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(
                f"expected positive numbers separated by commas, got {text!r}")
        return values

    return parse
