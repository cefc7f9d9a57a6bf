"""The end-to-end rig: a config written from a template, ``watchkeeper run`` started as a
real process next to the notification receiver, every process reaped at teardown and its
log shown when the test fails."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_process import Agents
from tests.servers.receiver import Receiver


@pytest.fixture
def agents(tmp_path: Path, receiver: Receiver) -> Iterator[Agents]:
    """``agents.start(CONFIG, limit="> 0")`` starts an agent; all are reaped afterwards."""
    rig = Agents(tmp_path, receiver)
    try:
        yield rig
    finally:
        rig.reap()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                        pytest.TestReport]:
    """A failed test's report carries the log of every agent it started."""
    report = yield
    rig = getattr(item, "funcargs", {}).get("agents")
    if report.failed and isinstance(rig, Agents):
        for agent in rig.started:
            report.sections.append((f"log of {agent!r}", agent.log()))
    return report
