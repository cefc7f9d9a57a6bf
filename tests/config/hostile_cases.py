"""Hostile config files: each must be refused with one clear issue at its line.

Shared by the loader's table test (tests/config/test_config_hostile.py) and the black-box
test that runs ``watchkeeper validate`` and ``run`` on each (tests/e2e/test_hostile_config.py).
Every file is written by ``write_case`` into a directory of its own; ``{dir}`` in a text
stands for that directory, which also holds a FIFO (``fifo``) and the files below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.config.limits import MAX_DEPTH

DIGITS_310 = "9" * 310


@dataclass(frozen=True, slots=True)
class Hostile:
    """A file (``text``), the line its issue names (None: the whole file) and words the
    issue must hold."""

    text: str
    line: int | None
    words: str


def _agent(extra: str = "") -> str:
    return f"agent:\n  state_dir: {{dir}}/state\n{extra}channels:\n  log: [log://]\n"


def _check(extra: str, kind: str = "cpu") -> str:
    return _agent() + f"checks:\n  - name: c\n    kind: {kind}\n{extra}"


def _laughs(levels: int = 9) -> str:
    """The "billion laughs": nine aliases of nine, 9**9 values from 430 bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, levels):
        refs = ", ".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    return "\n".join(lines) + "\n"


def _merge_laughs(levels: int = 9) -> str:
    """The same with merge keys, which PyYAML flattens by copying every pair."""
    keys = ", ".join(f"k{i}: {i}" for i in range(9))
    lines = [f"m0: &m0 {{{keys}}}"]
    for n in range(1, levels):
        refs = ", ".join([f"*m{n - 1}"] * 9)
        lines.append(f"m{n}: &m{n} {{<<: [{refs}]}}")
    return "\n".join(lines) + "\n"


_THRESHOLD = "    thresholds:\n      usage_percent:\n"

#: id -> the hostile file. The words are the part of the message a user needs.
CASES: dict[str, Hostile] = {
    "nested-lists-492": Hostile(
        "agent:\n  host: " + "[" * 492 + "]" * 492 + "\n", 2,
        f"lists and mappings more than {MAX_DEPTH} deep"),
    "nested-mappings-492": Hostile(
        "agent:\n  host: " + "{a: " * 492 + "1" + "}" * 492 + "\n", 2,
        f"lists and mappings more than {MAX_DEPTH} deep"),
    "nested-block-lists": Hostile(
        "agent:\n  host:\n" + "".join("  " * (i + 2) + "-\n" for i in range(100)), 65,
        "more than 64 deep"),
    "aliases-nest-too-deep": Hostile(
        "a: &a " + "[" * 40 + "]" * 40 + "\nb: &b " + "[" * 30 + "*a" + "]" * 30 + "\n",
        2, "aliases nest lists and mappings more than 64 deep"),
    "alias-bomb": Hostile(_laughs(), 4, "aliases expand the document"),
    "merge-key-bomb": Hostile(_merge_laughs(), 3, "aliases expand the document"),
    "too-many-values": Hostile(
        "agent:\n  host: [" + "1," * 100_001 + "]\n", 2, "more than 100,000 values"),
    "duration-310-digits": Hostile(_agent(f"  interval: {DIGITS_310}\n"), 3, "out of range"),
    "duration-310-digits-with-unit": Hostile(
        _agent(f"  interval: {DIGITS_310}s\n"), 3, "out of range (at most 3650d)"),
    "duration-infinite": Hostile(_agent("  shutdown_drain: .inf\n"), 3, "out of range"),
    "duration-past-ten-years": Hostile(_agent("  timeout: 3651d\n"), 3,
                                       "out of range (at most 3650d)"),
    "timeout-310-digits": Hostile(_check(f"    timeout: {DIGITS_310}\n"), 8, "out of range"),
    "for-310-digits": Hostile(
        _check(_THRESHOLD + f"        warn: 90\n        for: {DIGITS_310}m\n"), 11,
        "out of range"),
    "for-count-5000-digits": Hostile(
        _check(_THRESHOLD + "        warn: 90\n        for: " + "9" * 5000 + "\n"), 11,
        "out of range"),
    "for-count-as-text": Hostile(
        _check(_THRESHOLD + "        warn: 90\n        for: " + "9" * 5000 + " samples\n"), 11,
        "out of range"),
    "repeat-interval-310-digits": Hostile(
        _agent() + f"defaults:\n  repeat_interval: {DIGITS_310}h\n", 6, "out of range"),
    "threshold-310-digits": Hostile(
        _check(_THRESHOLD + f"        warn: {DIGITS_310}\n"), 10, "out of range"),
    "threshold-310-digits-as-text": Hostile(
        _check(_THRESHOLD + f'        warn: "> {DIGITS_310}"\n'), 10, "out of range"),
    "threshold-float-overflow": Hostile(
        _check(_THRESHOLD + "        warn: 1.0e+999\n"), 10, "out of range"),
    "threshold-infinite": Hostile(_check(_THRESHOLD + "        warn: .inf\n"), 10,
                                  "out of range"),
    "host-4301-digits": Hostile(_agent("  host: " + "9" * 4301 + "\n"), 3, "out of range"),
    "host-too-long": Hostile(_agent("  host: " + "h" * 300 + "\n"), 3,
                             "at most 255 characters"),
    "text-too-long": Hostile(_agent("  host: " + "h" * 70_000 + "\n"), 3,
                             "longer than 65,536 characters"),
    "size-310-digits": Hostile(
        _check(f"    url: http://127.0.0.1:9/\n    max_body: {DIGITS_310}MB\n", "http"), 9,
        "out of range"),
    "secret-file-dev-zero": Hostile(_agent("  token: ${file:/dev/zero}\n"), 3,
                                    "not a regular file (a character device)"),
    "secret-file-fifo": Hostile(_agent("  token: ${file:{dir}/fifo}\n"), 3,
                                "not a regular file (a FIFO)"),
    "secret-file-too-large": Hostile(_agent("  token: ${file:{dir}/large}\n"), 3,
                                     "larger than 64 KiB"),
    "secret-file-directory": Hostile(_agent("  token: ${file:{dir}}\n"), 3, "Is a directory"),
    "secret-file-with-nul": Hostile(_agent("  token: ${file:{dir}/nul}\n"), 3, "NUL byte"),
    "secret-files-add-too-much": Hostile(
        _agent("  host: '" + "${file:{dir}/sixty}" * 20 + "'\n"), 3,
        "substitutions add more than 1,048,576 characters"),
    "references-nest-too-deep": Hostile(
        _agent("  host: " + "${A:-" * 1000 + "x" + "}" * 1000 + "\n"), 3,
        "references nested more than 16 deep"),
    "state-dir-nul": Hostile('agent:\n  state_dir: "{dir}/st\\0ate"\n', 2, "NUL byte"),
    "state-dir-too-long": Hostile("agent:\n  state_dir: /tmp/" + "a/" * 2100 + "\n", 2,
                                  "longer than 4095 bytes"),
    "state-dir-name-too-long": Hostile("agent:\n  state_dir: /tmp/" + "a" * 300 + "\n", 2,
                                       "longer than 255 bytes"),
    "lone-surrogate": Hostile(_agent('  host: "a\\ud800b"\n'), 3, "invalid"),
    "key-with-nul": Hostile('"ag\\0ent": {}\n', 1, "a key holds a NUL byte"),
    "year-zero": Hostile(_agent("  host: 0000-01-01\n"), 3, "cannot read '0000-01-01'"),
    "bool-tag-on-text": Hostile(_agent("  host: !!bool maybe\n"), 3, "cannot read 'maybe'"),
    "config-too-large": Hostile("# " + "x" * (1 << 20) + "\n", None,
                                "cannot read the config file: larger than 1 MiB"),
}


def write_case(directory: Path, case: Hostile) -> Path:
    """Write ``case`` and what it names (a FIFO, large and odd files) into ``directory``."""
    fifo = directory / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    (directory / "large").write_bytes(b"x" * (64 * 1024 + 1))
    (directory / "sixty").write_bytes(b"x" * 60_000)
    (directory / "nul").write_bytes(b"a\0b")
    path = directory / "config.yaml"
    path.write_text(case.text.replace("{dir}", str(directory)), encoding="utf-8")
    return path


def params() -> list[object]:
    """The cases as pytest parameters, named by their ids."""
    return [pytest.param(case, id=name) for name, case in CASES.items()]
