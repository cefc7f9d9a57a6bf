"""`watchkeeper replay` as a user runs it on a CSV of their own history."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.agent_process import cli

pytestmark = pytest.mark.slow

START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def _trace(path: Path, days: int = 10, spike_at: int | None = None) -> Path:
    """5-minute samples of a daily cycle (busy by day), with an optional spike row."""
    lines = ["timestamp,value"]
    for i in range(days * 288):
        t = START + timedelta(minutes=5 * i)
        hour = t.hour + t.minute / 60
        value = 40 + 20 * math.sin((hour - 6) / 24 * 2 * math.pi) + (i * 7919 % 13) / 13
        if spike_at is not None and spike_at <= i < spike_at + 6:
            value = 250.0
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_prints_events_as_json_lines_and_a_summary(tmp_path: Path) -> None:
    spike = 8 * 288 + 14 * 12  # day 9, 14:00
    out = cli("replay", str(_trace(tmp_path / "t.csv", spike_at=spike)))
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    firing = [e for e in events if e["event"] == "firing"]
    assert [e["at"] for e in firing] == ["2024-03-12 14:00:00"]
    assert firing[0]["severity"] == "warning"
    assert "far above normal for Tue 14:00" in firing[0]["why"]
    assert set(events[0]) >= {"at", "event", "severity", "why"}
    assert "2880 samples" in out.stderr and "1 alert" in out.stderr


def test_replay_with_the_users_own_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("""
checks:
  - name: api
    kind: memory
    thresholds:
      used_percent: {crit: "> 200", for: 2}
""")
    trace = _trace(tmp_path / "t.csv", days=2, spike_at=100)
    out = cli("replay", str(trace), "-c", str(config), "--check", "api")
    assert out.returncode == 0, out.stderr
    kinds = [json.loads(line)["event"] for line in out.stdout.splitlines()]
    assert kinds == ["firing", "resolved"]
    first = json.loads(out.stdout.splitlines()[0])
    assert first["severity"] == "critical" and first["at"] == "2024-03-04 08:25:00"


@pytest.mark.parametrize(("content", "args", "message"), [
    ("timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n", [], "t.csv:3"),
    ("when,what\n", [], "expected the header timestamp,value"),
    ("timestamp,value\n", ["--check", "x"], "--check needs --config"),
])
def test_replay_bad_input_exits_2_naming_the_place(tmp_path: Path, content: str,
                                                    args: list[str], message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    out = cli("replay", str(path), *args)
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(("content", "message"), [
    (b"timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,\xff2\n",
     "t.csv:3: not UTF-8 text"),
    (b"timestamp,value\n" + b"".join(b"%d,1\n" % (1700000000 + 60 * i) for i in range(5000))
     + b"1800000000,\xe2\x82\n", "t.csv:5002: not UTF-8 text"),  # past the first read
    (b"timestamp,value\n2024-01-01 00:00:00," + b"9" * 200_000 + b"\n",
     "t.csv:2: field larger than field limit"),
    (b"timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,\"2\x00\"\n",
     "t.csv:3:"),
], ids=["bad-byte-on-line-3", "bad-byte-far-in", "long-field-on-line-2", "nul-on-line-3"])
def test_replay_names_the_line_of_a_bad_byte_or_field(tmp_path: Path, content: bytes,
                                                      message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    out = cli("replay", str(path))
    assert out.returncode == 2, out
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr


def _strict(line: str) -> Any:
    """JSON as RFC 8259 has it: no NaN, Infinity or -Infinity."""
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def test_values_that_are_not_numbers_are_null_in_valid_json(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    rows = ["nan", "1", "inf", "1", "-inf", "1"]
    trace.write_text("timestamp,value\n" + "".join(
        f"{1700000000 + 60 * i},{v}\n" for i, v in enumerate(rows)))
    config = tmp_path / "config.yaml"
    config.write_text("checks:\n  - name: c\n    kind: load\n    thresholds:\n"
                      "      load1: {warn: '> 3'}\n")
    for extra in ([], ["-c", str(config), "--check", "c"]):
        out = cli("replay", str(trace), "--every-sample", *extra)
        assert out.returncode == 0, out.stderr
        lines = [_strict(line) for line in out.stdout.splitlines()]
        values = [line["value"] for line in lines if "status" in line]
        assert values == [None, 1.0, None, 1.0, None, 1.0]
