"""The host's connectivity check: while it fails, the alerts of every check of a remote
target wait, and one page says the host cannot reach the network. In process, with a
fake clock, results fed as the scheduler feeds them (nothing is sent anywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.clock import FakeClock
from agent.config import load_config
from agent.errors import ConfigError
from agent.model import CheckResult, Status
from agent.runtime import Agent

CONFIG = """
agent:
  host: web1
  state_dir: {state}
  connectivity: gateway
  group_window: 0s  # each alert on its own: these tests count them
channels:
  ops: ["json://127.0.0.1:9/hook"]
checks:
  - name: gateway
    kind: command
    command: [/bin/true]
  - name: shop
    kind: http
    url: https://shop.example.com/
  - name: local
    kind: tcp
    host: 127.0.0.1
    port: 9
"""


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    a = Agent(load_config(path), clock=FakeClock())
    yield a
    a.close()


async def fail(agent: Agent, check: str) -> None:
    clock = agent.clock
    assert isinstance(clock, FakeClock)
    clock.advance(1)
    job = next(j for j in agent.scheduler.jobs if j.name == check)
    await agent.scheduler.on_result(job, CheckResult.failed(Status.CRITICAL, "unreachable"),
                                    clock.now())


async def test_while_the_network_is_down_only_the_host_pages(agent: Agent) -> None:
    await fail(agent, "gateway")
    await fail(agent, "shop")
    await fail(agent, "local")
    queued = [(r.event.key.check, r.event.why) for r in agent.outbox.rows()]
    assert queued[0] == ("gateway", "web1 cannot reach the network: unreachable")
    # The remote check waits; the local one does not depend on the network.
    assert [c for c, _ in queued] == ["gateway", "local"]
    assert "shop" in {s.event.key.check for s in agent.suppressed.values()}


def test_the_connectivity_check_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state").replace(
        "connectivity: gateway", "connectivity: router"))
    with pytest.raises(ConfigError, match="no check is named 'router'"):
        load_config(path)
