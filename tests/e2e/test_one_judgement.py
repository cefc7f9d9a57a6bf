"""One value, one verdict, everywhere: the running agent, ``watchkeeper check`` and
``replay`` judge the same sequence of results to the same statuses (thresholds with a
recover level, so the verdict depends on the alert's state, not only on the value)."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.agent_process import AgentProcess, cli

#: warn > 75, crit > 90, a firing alert holds (at its severity) until < 70: 72 after 95
#: is still CRITICAL, 72.5 after 60 is OK.
VALUES = [50.0, 80.0, 95.0, 72.0, 60.0, 72.5, 85.0, 40.0]
EXPECTED = ["ok", "warning", "critical", "critical", "ok", "ok", "warning", "ok"]

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    value_file = tmp_path / "value"
    value_file.write_text("0\n")
    plugin = tmp_path / "plugin.sh"
    plugin.write_text(f'#!/bin/sh\nv=$(cat {value_file})\necho "level is $v | level=$v"\n')
    plugin.chmod(0o755)
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          host: judge-host
          state_dir: {tmp_path / "state"}
          log_level: debug
        checks:
          - name: level
            kind: command
            command: [{plugin}]
            interval: 1s
            thresholds:
              level: {{warn: "> 75", crit: "> 90", recover: "< 70"}}
        """))
    return config, value_file


def agent_statuses(agent: AgentProcess, config: Path, value_file: Path) -> tuple[
        list[str], list[str]]:
    """Feed each value to the running agent; after each, ask ``check`` too."""
    from_agent, from_check = [], []
    seen = 0
    for v in VALUES:
        value_file.write_text(f"{v}\n")
        status, seen = wait_for_run(agent, v, seen)
        from_agent.append(status)
        # The agent has judged and stored this value: ``check`` judges it with that state.
        out = cli("check", "-c", str(config), "--json", "level")
        from_check.append(json.loads(out.stdout)["checks"][0]["status"])
    return from_agent, from_check


def wait_for_run(agent: AgentProcess, value: float, after: int,
                 timeout: float = 30.0) -> tuple[str, int]:
    """The judged status the agent logged for its first run that saw ``value`` (looking
    past offset ``after`` of its log), and the offset after that line."""
    pattern = re.compile(rf"check level: (\w+) - level is {re.escape(str(value))} ")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = agent.log()
        m = pattern.search(log, after)
        if m:
            return m.group(1).lower(), m.end()
        assert agent.proc.poll() is None, f"agent exited:\n{log}"
        time.sleep(0.05)
    raise AssertionError(f"no run saw {value} within {timeout}s:\n{agent.log()}")


def replay_statuses(tmp_path: Path, config: Path) -> list[str]:
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp,value\n" + "".join(
        f"2024-01-01 00:00:{i:02d},{v}\n" for i, v in enumerate(VALUES)))
    out = cli("replay", str(trace), "-c", str(config), "--check", "level", "--every-sample")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return [r["status"] for r in rows if "status" in r]


def test_agent_check_and_replay_judge_a_sequence_alike(tmp_path: Path) -> None:
    config, value_file = write_config(tmp_path)
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        from_agent, from_check = agent_statuses(agent, config, value_file)
    finally:
        agent.stop()
    assert from_agent == EXPECTED
    assert from_check == EXPECTED
    assert replay_statuses(tmp_path, config) == EXPECTED
