"""An agent run in the test's own process on a config text, with a fake clock.

Its checks are fed results the way the scheduler feeds them; the dispatcher is not
started, so what it would send is read from its queue. The ``agent`` and ``clock``
fixtures (``tests/conftest.py``) give one built from the test module's ``CONFIG``.
"""

from __future__ import annotations

from pathlib import Path

from agent.clock import FakeClock
from agent.config import load_config
from agent.runtime import Agent


def in_process_agent(config: str, tmp_path: Path, clock: FakeClock, **fill: str) -> Agent:
    """An agent on ``config`` with its ``{state}`` (and any other ``fill``) filled in:
    the state directory under ``tmp_path``. The caller closes it."""
    path = tmp_path / "config.yaml"
    path.write_text(config.format(state=tmp_path / "state", **fill))
    return Agent(load_config(path), clock=clock)
