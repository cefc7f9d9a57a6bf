"""A real agent with a check that flips at every run: a few flips are announced, then one
FLAPPING message; once it settles, one STABLE message; the incident log counts the spell.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.agent_process import AGENT, Agents, cli, wait_until
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

CONFIG = AGENT + """\
defaults:
  flap_window: 8   # stable after 8 quiet checks (21 by default), to keep the test short
channels:
  hook: ["{url}"]
checks:
  - name: shaky
    kind: command
    command:
      - /bin/sh
      - -c
      - "test -f {calm} && exit 0; n=$(cat {flips}); echo $((1-n)) > {flips}; exit $((2*n))"
"""


def titles(receiver: Receiver) -> list[str]:
    return [m["title"] for m in receiver.messages()]


def test_a_flapping_check_is_announced_once_and_once_more_when_it_settles(
        agents: Agents, receiver: Receiver, tmp_path: Path) -> None:
    flips = tmp_path / "flips"
    flips.write_text("1")
    calm = tmp_path / "calm"
    agent = agents.start(CONFIG, flips=flips, calm=calm)
    wait_until(lambda: any(t.startswith("FLAPPING") for t in titles(receiver)), timeout=60,
               what="the FLAPPING message")
    bad_runs = agent.log().count("check shaky: CRITICAL")
    wait_until(lambda: agent.log().count("check shaky: CRITICAL") >= bad_runs + 4,
               timeout=60, what="eight more flips")
    flapping_at = titles(receiver).index(next(t for t in titles(receiver)
                                              if t.startswith("FLAPPING")))
    assert flapping_at <= 5  # the flips before it: at most the five that made it
    assert len(titles(receiver)) == flapping_at + 1  # nothing since

    calm.write_text("")
    stable = wait_until(lambda: [t for t in titles(receiver) if t.startswith("STABLE")],
                        timeout=90, what="the STABLE message")
    assert "OK for the last 8 checks" in stable[0]
    assert len(titles(receiver)) == flapping_at + 2

    def closed() -> list[dict[str, object]]:
        out = json.loads(cli("incidents", "--json", "-c", str(agents.config)).stdout)
        return [i for i in out["incidents"] if i["flapped"] and i["resolved_at"]]

    assert wait_until(closed, what="the spell in the incident log")[0]["flapped"] == 1
    assert agent.stop() == 0


def test_replay_shows_flapping_and_its_settling(tmp_path: Path) -> None:
    trace = tmp_path / "flap.csv"
    rows = ["timestamp,value"] + [f"{1_700_000_000 + 60 * i},{95 if i % 2 and i < 30 else 10}"
                                  for i in range(60)]
    trace.write_text("\n".join(rows) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"agent:\n  host: r\n  state_dir: {tmp_path / 'state'}\nchecks:\n"
                      "  - name: x\n    kind: cpu\n    thresholds:\n"
                      '      usage_percent: {crit: "> 90"}\n')
    out = cli("replay", str(trace), "-c", str(config), "--check", "x")
    assert out.returncode == 0, out.stderr
    kinds = [json.loads(line)["event"] for line in out.stdout.splitlines()]
    assert kinds == ["firing", "resolved", "firing", "resolved", "firing", "flapping",
                     "stable"]
