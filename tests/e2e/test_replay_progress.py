"""`watchkeeper replay` of a long trace: a progress line on a terminal, none in a pipe."""

from __future__ import annotations

import json
import math
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.agent_process import REPO, cli

pytestmark = pytest.mark.slow

#: The progress line: rows read, rate, time taken.
PROGRESS = re.compile(r"[\d,]+ rows \([\d,]+/s, \d+s\)")
#: Long enough to take well over the redraw interval (0.25 s) however fast replay gets.
ROWS = 600_000


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A long trace of minute samples (a daily cycle) that ends in a spike."""
    path = tmp_path_factory.mktemp("trace") / "long.csv"
    start = 1_700_000_000 - 1_700_000_000 % 86400
    with path.open("w") as fh:
        fh.write("timestamp,value\n")
        for i in range(ROWS):
            value = 40 + 20 * math.sin(i / 1440 * 2 * math.pi) + (i * 7919 % 13) / 13
            if i >= ROWS - 30:
                value = 500.0
            fh.write(f"{start + 60 * i},{value:.3f}\n")
    return path


def on_terminal(*args: str, stdout_too: bool) -> tuple[int, str, str]:
    """Run ``watchkeeper ARGS`` with standard error (and standard output, if
    ``stdout_too``) on a pseudo-terminal; its exit code, what the terminal got, stdout."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
    proc = subprocess.Popen([sys.executable, "-m", "agent", *args], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stderr=slave,
                            stdout=slave if stdout_too else subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout is not None else ""
    code = proc.wait(60)
    return code, b"".join(chunks).decode(), out


def test_on_a_terminal_replay_shows_progress_and_wipes_it_before_the_summary(
        trace: Path) -> None:
    code, terminal, out = on_terminal("replay", str(trace), stdout_too=False)
    assert code == 0, terminal
    assert PROGRESS.search(terminal), terminal
    *drawn, summary = terminal.removesuffix("\r\n").split("\r")
    assert summary.startswith(f"{ROWS} samples"), terminal
    assert drawn[-1].strip() == "", "the progress line is wiped before the summary"
    kinds = [json.loads(line)["event"] for line in out.splitlines()]
    assert kinds[:1] == ["firing"]


def test_events_on_the_same_terminal_are_lines_of_their_own(trace: Path) -> None:
    code, terminal, _ = on_terminal("replay", str(trace), stdout_too=True)
    assert code == 0, terminal
    # The terminal turns each newline into \r\n; what follows the last \r of a line is
    # what the line shows.
    shown = [line.rsplit("\r", 1)[-1] for line in terminal.split("\r\n")]
    events = [json.loads(line) for line in shown if line.startswith("{")]
    assert events and events[0]["event"] == "firing"
    assert not [line for line in shown if PROGRESS.search(line) and "{" in line]
    assert PROGRESS.search(terminal)


@pytest.mark.parametrize(("bad_row", "error"), [
    ("yesterday,1", "cannot read 'yesterday' as a time"),
    ("2030-01-01 00:00:00,lots", "value 'lots' is not a number"),
])
def test_an_error_late_in_a_long_trace_starts_on_a_clean_line(
        trace: Path, tmp_path: Path, bad_row: str, error: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(trace.read_text() + bad_row + "\n")
    code, terminal, _ = on_terminal("replay", str(bad), stdout_too=False)
    assert code == 2, terminal
    assert PROGRESS.search(terminal), terminal
    *drawn, message = terminal.removesuffix("\r\n").split("\r")
    assert drawn[-1].strip() == ""
    assert message.startswith(f"watchkeeper: {bad}:{ROWS + 2}: {error}")


def test_piped_replay_prints_no_progress(trace: Path) -> None:
    done = cli("replay", str(trace))
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and not PROGRESS.search(done.stderr)
    assert done.stderr.startswith(f"{ROWS} samples")
