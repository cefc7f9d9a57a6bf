"""A check kind gets what its class declares (the HTTP pool, pings), never by its name.

The kinds here are a third-party plugin: a module and a dist-info with an entry point in
a temporary directory on sys.path, found the way any installed plugin is found.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.check import Capability
from agent.cli.main import main
from agent.clock import FakeClock
from agent.config import load_config
from agent.http_api import serve_agent
from agent.live_checks import checks_needing, needs
from agent.runtime import Agent
from agent.store import Store
from tests.ports import free_port

PLUGIN = '''
from typing import ClassVar

from agent.check import Capability, Check, CheckContext, CheckOptions
from agent.http_client import pool_from
from agent.model import CheckResult


class ProbeOptions(CheckOptions):
    pass


class Probe(Check[ProbeOptions]):
    Options: ClassVar[type[CheckOptions]] = ProbeOptions

    async def run(self, ctx: CheckContext) -> CheckResult:
        return CheckResult.ok(f"pool={pool_from(ctx) is not None} "
                              f"pings={ctx.heartbeats is not None}")


class Plain(Probe):
    kind = "fleet_plain"


class Pooled(Probe):
    kind = "fleet_pooled"
    needs = frozenset({Capability.HTTP_POOL})


class Pinged(Probe):
    kind = "fleet_pinged"
    needs = frozenset({Capability.PINGS})


class Both(Probe):
    kind = "fleet_both"
    needs = frozenset({Capability.HTTP_POOL, Capability.PINGS})
'''

ENTRY_POINTS = """[watchkeeper.checks]
fleet_plain = fleet_probe:Plain
fleet_pooled = fleet_probe:Pooled
fleet_pinged = fleet_probe:Pinged
fleet_both = fleet_probe:Both
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    dist = site / "fleet_probe-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "fleet_probe.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fleet-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("fleet_probe", None)


def _config(tmp_path: Path, checks: str, listen: str | None = None) -> Path:
    state = tmp_path / "state"
    Store.open(state).close()  # as after the agent's first run
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  host: h1\n  state_dir: {state}\n"
                    + (f"  listen: \"{listen}\"\n" if listen else "") + f"checks:\n{checks}")
    return path


KINDS = [
    ("fleet_plain", set(), "pool=False pings=False"),
    ("fleet_pooled", {Capability.HTTP_POOL}, "pool=True pings=False"),
    ("fleet_pinged", {Capability.PINGS}, "pool=False pings=True"),
    ("fleet_both", {Capability.HTTP_POOL, Capability.PINGS}, "pool=True pings=True"),
]


@pytest.mark.parametrize(("kind", "declared", "gets"), KINDS)
async def test_the_running_agent_gives_a_kind_what_its_class_declares(
        plugin: None, tmp_path: Path, kind: str, declared: set[Capability], gets: str) -> None:
    config = load_config(_config(tmp_path, f"  - {{name: probe, kind: {kind}}}\n"))
    assert needs(config) == declared
    agent = Agent(config, clock=FakeClock())
    try:
        live = agent.checks["probe"]
        assert (await live.check.run(live.ctx)).summary == gets
    finally:
        await agent.http.aclose()
        agent.close()


@pytest.mark.parametrize(("kind", "gets"), [(kind, gets) for kind, _, gets in KINDS])
def test_watchkeeper_check_gives_a_kind_what_its_class_declares(
        plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
        gets: str) -> None:
    path = _config(tmp_path, f"  - {{name: probe, kind: {kind}}}\n")
    assert main(["check", "-c", str(path), "--json"]) == 0
    assert [c["summary"] for c in json.loads(capsys.readouterr().out)["checks"]] == [gets]


async def test_the_listener_takes_pings_for_every_kind_that_declares_them(
        plugin: None, tmp_path: Path) -> None:
    port = free_port()
    config = load_config(_config(tmp_path, "\n".join([
        "  - {name: job-a, kind: fleet_pinged}",
        "  - {name: job-b, kind: fleet_both, enabled: false}",
        "  - {name: web, kind: fleet_pooled}",
        "  - {name: other, kind: fleet_plain}",
    ]) + "\n", listen=f"127.0.0.1:{port}"))
    assert checks_needing(config, Capability.PINGS) == ["job-a", "job-b"]
    assert needs(config) == {Capability.PINGS, Capability.HTTP_POOL}  # job-b is off
    store = Store.open(config.agent.state_dir)
    listener = await serve_agent(config, store, FakeClock())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answers = {name: (await client.post(f"/ping/{name}")).status_code
                       for name in ("job-a", "job-b", "web", "other")}
        assert answers == {"job-a": 200, "job-b": 200, "web": 404, "other": 404}
        assert [len(store.heartbeat_pings(n)) for n in ("job-a", "job-b")] == [1, 1]
    finally:
        await listener.close()
        store.close()
