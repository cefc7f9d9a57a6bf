"""Suite-wide test setup: local database servers are required in CI, optional elsewhere;
the notification receiver every test that sends through Apprise posts to; an agent run in
process with a fake clock; bytecode kept for the processes the tests start."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers.receiver import Receiver

if TYPE_CHECKING:
    from agent.clock import FakeClock
    from agent.runtime import Agent

#: Where the processes the tests start (agents, their children, the CLI) keep the modules'
#: bytecode, even where the environment asks for none (PYTHONDONTWRITEBYTECODE): each of
#: the suite's hundreds of processes would otherwise compile every module again (a fifth
#: of a second or more each). Outside the source tree, so nothing is written beside it.
PYCACHE = Path(tempfile.gettempdir()) / f"watchkeeper-tests-pycache-{os.getuid()}"
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))

#: Test modules that talk to a local database server, and the port it listens on.
SERVICE_MODULES = {
    "test_database_postgres": ("PostgreSQL", 5432),
    "test_database_mysql": ("MariaDB/MySQL", 3306),
    "test_database_redis": ("Redis", 6379),
}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


#: Folders whose tests drive real processes and wait on them (most of the suite's time):
#: they run first, so that the workers of a parallel run, given whole files in order
#: (``--no-loadscope-reorder``), end together on the short ones. The first file of
#: ``packaging`` goes before them all: one worker builds the package while the others
#: run real agents, and the rest of ``packaging`` finds it built.
LONG_FIRST = ("e2e", "packaging")
BUILDS_FIRST = "packaging"


def _order(items: list[pytest.Item]) -> dict[Path, int]:
    """The rank of each test file: the first of ``BUILDS_FIRST``, then ``LONG_FIRST``'s
    folders, then the rest."""
    ranks: dict[Path, int] = {}
    first = next((i.path for i in items if i.path.parent.name == BUILDS_FIRST), None)
    for item in items:
        folder = item.path.parent.name
        if item.path == first:
            ranks[item.path] = 0
        elif folder in LONG_FIRST:
            ranks[item.path] = 1 + LONG_FIRST.index(folder)
        else:
            ranks[item.path] = len(LONG_FIRST) + 1
    return ranks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the long folders first; skip the tests of a database server that is not
    running, unless CI requires it."""
    ranks = _order(items)
    items.sort(key=lambda item: ranks[item.path])  # stable: in order within a rank
    if os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1":
        return
    down: dict[str, str] = {}
    for module, (name, port) in SERVICE_MODULES.items():
        if not _listening(port):
            down[module] = f"{name} is not listening on 127.0.0.1:{port}"
    for item in items:
        mod = getattr(item, "module", None)
        module = mod.__name__.rsplit(".", 1)[-1] if mod is not None else ""
        if module in down:
            item.add_marker(pytest.mark.skip(reason=down[module]))


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A running notification receiver on 127.0.0.1; ``receiver.url()`` is its json:// URL."""
    # Loopback must never go through a proxy from the environment (children inherit this).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with Receiver() as r:
        yield r


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock: time moves only when the test advances it."""
    from agent.clock import FakeClock

    return FakeClock()


@pytest.fixture
def agent(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Agent]:
    """An agent run in process on the test module's ``CONFIG`` (see
    ``tests/agent_in_process.py``), with the ``clock`` fixture; closed after the test."""
    from tests.agent_in_process import in_process_agent

    a = in_process_agent(request.module.CONFIG, tmp_path, clock)
    yield a
    a.close()
