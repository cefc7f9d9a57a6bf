"""The running agent stores what learned thresholds learned, and reads it back at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.config import load_config
from agent.model import AlertKey
from agent.runtime import Agent
from agent.store import Store

CONFIG = """
agent:
  host: h1
  state_dir: {state}
checks:
  - name: mem
    kind: memory
    interval: 0.05
    thresholds:
      used_percent:
        adaptive: {{warmup: 1d}}
        forecast: {{limit: 100}}
"""


async def _run_until(agent: Agent, runs: int) -> None:
    task = asyncio.create_task(agent.run())
    for _ in range(400):
        if agent.checks["mem"].runs >= runs:
            break
        await asyncio.sleep(0.01)
    agent.stop()
    await asyncio.wait_for(task, 10)


async def test_the_agent_saves_learned_state_at_shutdown_and_restores_it(
        tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    config = load_config(path)
    key = AlertKey("h1", "mem", "used_percent")

    first = Agent(config)
    await _run_until(first, runs=4)
    learned = first.judge.series[key].to_bytes()
    adaptive = first.judge.series[key].adaptive
    assert adaptive is not None
    with Store.open(config.agent.state_dir) as store:
        # The samples after the first hourly save are in it too: saved at shutdown.
        assert store.load_learned(key) == learned

    second = Agent(config)
    await _run_until(second, runs=1)
    restored = second.judge.series[key].adaptive
    assert restored is not None
    assert restored.first_t == adaptive.first_t  # the warm-up goes on, not afresh
    if restored.baseline.cur_hour == adaptive.baseline.cur_hour:  # no clock hour between
        assert restored.baseline.cur_n > adaptive.baseline.cur_n
