"""A heartbeat's stored pings are read at start: later, its check reads them from memory,
never waiting on the database inside the event loop."""

from __future__ import annotations

from pathlib import Path

from agent.clock import FakeClock
from agent.config import load_config
from agent.heartbeats import Ping, PingKind
from agent.runtime import Agent
from agent.store import Store


def test_stored_pings_are_in_memory_from_the_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as store:
        store.record_ping("nightly", Ping(PingKind.SUCCESS, 1_700_000_000.0, 0))
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {state}\nchecks:\n"
                    "  - {name: nightly, kind: heartbeat, period: 1d}\n")
    agent = Agent(load_config(path), clock=FakeClock())
    try:
        assert agent.store is not None
        agent.store.close()  # any read of the database from now on would fail
        assert [p.at for p in agent.pings.heartbeat_pings("nightly")] == [1_700_000_000.0]
    finally:
        agent.close()
