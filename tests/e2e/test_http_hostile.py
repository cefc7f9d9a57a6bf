"""Hostile HTTP targets against a real agent process: compression bombs do not grow its
memory past a bound, and a server that echoes the check's credentials never gets them into
the log, a notification, ``watchkeeper status`` or the state file."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from tests.checks.http_bombs import Bomb, BombServer, MiB, gzip_layers, zeros_compressed
from tests.e2e.agent_process import AGENT, AgentProcess, Agents, cli
from tests.servers.http_server import Reply, Request
from tests.servers.receiver import Receiver

pytestmark = pytest.mark.slow

#: What the agent may hold at its peak while three bombs are read at once: its own
#: footprint (some 40-50 MB) plus three 1 MB bodies with room to spare. Before bodies were
#: counted decoded, one 1 GiB bomb took it to 175 MB and three to 312 MB.
PEAK_RSS_MB = 100

BOMBS = AGENT + """checks:
  - {name: bomb-1, kind: http, url: "{bombs}/gzip", body_contains: never}
  - {name: bomb-2, kind: http, url: "{bombs}/gzip-chunked"}
  - {name: bomb-3, kind: http, url: "{bombs}/nested", json: [{path: $.a, equals: 1}]}
"""


def _peak_rss_mb(agent: AgentProcess) -> float:
    """The agent's high-water mark of resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{agent.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def test_gzip_bombs_do_not_grow_the_agent_past_a_bound(agents: Agents) -> None:
    bomb = zeros_compressed(1024 * MiB)  # 1 GiB of zeros in about 1 MB
    routes = {"/gzip": Bomb(bomb), "/gzip-chunked": Bomb(bomb, chunked=True),
              "/nested": Bomb(gzip_layers(bomb, 1), "gzip, gzip", chunked=True)}
    with BombServer(routes) as bombs:
        agent = agents.start(BOMBS, bombs=bombs.url("").rstrip("/"))
        agent.wait_for_first_cycle()
        time.sleep(3)  # several more turns of each, three at once
        peak = _peak_rss_mb(agent)
        print(f"agent peak RSS with three 1 GiB bombs: {peak:.1f} MiB")
        status = cli("status", "-c", str(agents.config))
        assert agent.stop() == 0
    assert peak < PEAK_RSS_MB, f"peak RSS {peak:.0f} MiB"
    assert "body does not contain 'never' in its first 977 KiB" in status.stdout, status.stdout
    assert "body is larger than the 977 KiB cap" in status.stdout, status.stdout


# --- credentials echoed back ---------------------------------------------------------------

USER, PASSWORD = "deploy", "Ech0ed-Secret-42"
PROXY_PASSWORD = "Pr0xy-Secret-77"

ECHOED = AGENT + """channels:
  hook: ["{url}"]
checks:
  - name: api
    kind: http
    url: "{echo}/echo"
    basic_auth: {username: {user}, password: "{password}"}
    json:
      - {path: $.authorization, equals: "Bearer expected"}
      - {path: $.decoded, equals: "someone:else"}
  - name: via-proxy
    kind: http
    url: "http://127.0.0.1:9/"
    proxy: "{proxy}"
    json:
      - {path: $.proxy-authorization, equals: "none"}
"""


def _echo(request: Request) -> Reply:
    """The credentials of the request back as JSON, raw and decoded."""
    doc = {}
    for header, key in (("authorization", "authorization"),
                        ("proxy-authorization", "proxy-authorization")):
        doc[key] = request.headers.get(header, "")
    token = (doc["authorization"] or doc["proxy-authorization"]).partition(" ")[2]
    doc["decoded"] = base64.b64decode(token).decode() if token else ""
    return Reply(200, json.dumps(doc).encode(), content_type="application/json")


def _forms(user: str, password: str) -> list[str]:
    pair = f"{user}:{password}"
    b64 = base64.b64encode(pair.encode()).decode()
    return [password, pair, b64, b64.rstrip("=")]


def test_echoed_credentials_appear_nowhere(agents: Agents, receiver: Receiver) -> None:
    with Receiver(default=_echo) as echo:
        proxy = echo.url("", auth=f"bob:{PROXY_PASSWORD}@", scheme="http")
        agent = agents.start(ECHOED, echo=echo.url("", scheme="http"), user=USER,
                             password=PASSWORD, proxy=proxy)
        receiver.wait_for(2)
        agent.wait_for_first_cycle()
        time.sleep(2)
        status = cli("status", "-c", str(agents.config))
        assert any(r.headers.get("proxy-authorization") for r in echo.requests())
        assert agent.stop() == 0
    sent = "\n".join(f"{m['title']}\n{m['message']}" for m in receiver.messages())
    stored = (agents.state / "state.db").read_bytes()
    wal = agents.state / "state.db-wal"
    stored += wal.read_bytes() if wal.exists() else b""
    places = {"log": agent.log(), "notifications": sent,
              "status": status.stdout + status.stderr}
    assert "$.authorization is \"Basic ****\"" in sent, sent
    assert "$.decoded is \"****\"" in sent, sent
    for form in _forms(USER, PASSWORD) + _forms("bob", PROXY_PASSWORD):
        for where, text in places.items():
            assert form not in text, f"{form!r} in the {where}"
        assert form.encode() not in stored, f"{form!r} in state.db"
    assert "api" in status.stdout, status.stdout
