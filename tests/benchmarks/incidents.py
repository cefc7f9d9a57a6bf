"""What incident management saves: notifications of one outage, of a flapping service, and
the time to the first message with grouping on and off, with the real agent on loopback.

    .venv/bin/python tests/benchmarks/incidents.py [--dependents 20]

1. Outage of a parent: a local "gateway" (a TCP port) and N http checks of local sites
   that depend on it. Everything goes down at once (the sites answer 503, the gateway's
   port closes), stays down 45 s, and comes back. Counted: notifications received, with
   ``depends_on`` (grouping off), without it and without grouping, and without it with
   the host's grouping (``agent.group_window``, 30 s by default).
2. Flapping: one http check of a local site that flips between 200 and 503 at each check
   for 60 checks, then stays up. Counted: notifications, with flapping detection (the
   defaults) and without (``flap_changes: 0``).
3. Time to the first message: one site goes down; from its first 503 to the receiver
   getting the message, with grouping off (``group_window: 0s``) and on (the default).

Everything runs on 127.0.0.1. Prints a table (and ``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.servers.receiver import Receiver  # noqa: E402


class Sites:
    """``/s/N`` answers 200, or 503 while ``down``; ``flip`` alternates per request."""

    def __init__(self) -> None:
        self.down = False
        self.flip = False
        self.first_down: float | None = None
        self._n = 0
        sites = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code = 200
                if sites.flip:
                    sites._n += 1
                    code = 503 if sites._n % 2 else 200
                elif sites.down:
                    code = 503
                    if sites.first_down is None:
                        sites.first_down = time.monotonic()
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Gateway:
    """A TCP port that accepts while up (``up`` False: it is closed)."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sock: socket.socket | None = None
        self.up()

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self._sock = s

    def down(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def run_agent(config: str, tmp: Path) -> subprocess.Popen[bytes]:
    path = tmp / "config.yaml"
    path.write_text(config)
    return subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(path)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def agent_head(tmp: Path, url: str, extra: str = "", group_window: str = "0s") -> str:
    return (f"agent:\n  host: bench\n  state_dir: {tmp / 'state'}\n  interval: 1s\n"
            f"  timeout: 2s\n  group_window: {group_window}\nchannels:\n  hook:\n"
            f"    urls: [\"{url}\"]\n{extra}checks:\n")


def outage(dependents: int, declared: bool, group_window: str = "0s") -> int:
    sites, gateway = Sites(), Gateway()
    with tempfile.TemporaryDirectory() as d, Receiver() as receiver:
        tmp = Path(d)
        config = agent_head(tmp, receiver.url(), group_window=group_window) + (
            f"  - {{name: gateway, kind: tcp, host: 127.0.0.1, port: {gateway.port}}}\n")
        for n in range(dependents):
            depends = ", depends_on: [gateway]" if declared else ""
            config += (f"  - {{name: site{n}, kind: http, "
                       f"url: \"http://127.0.0.1:{sites.port}/s/{n}\"{depends}}}\n")
        agent = run_agent(config, tmp)
        try:
            time.sleep(8)
            gateway.down()
            sites.down = True
            time.sleep(45)
            gateway.up()
            sites.down = False
            time.sleep(15)
            return len(receiver.messages())
        finally:
            agent.terminate()
            agent.wait(30)
            sites.server.shutdown()
            gateway.down()


def flapping(detect: bool) -> int:
    sites = Sites()
    with tempfile.TemporaryDirectory() as d, Receiver() as receiver:
        tmp = Path(d)
        extra = "" if detect else "defaults:\n  flap_changes: 0\n"
        config = agent_head(tmp, receiver.url(), extra) + (
            f"  - {{name: shaky, kind: http, url: \"http://127.0.0.1:{sites.port}/s/0\"}}\n")
        agent = run_agent(config, tmp)
        try:
            time.sleep(5)
            sites.flip = True
            time.sleep(60)
            sites.flip = False
            time.sleep(30)
            return len(receiver.messages())
        finally:
            agent.terminate()
            agent.wait(30)
            sites.server.shutdown()


def time_to_message(group_window: str) -> float:
    sites = Sites()
    with tempfile.TemporaryDirectory() as d, Receiver() as receiver:
        tmp = Path(d)
        config = agent_head(tmp, receiver.url(), group_window=group_window) + (
            f"  - {{name: shop, kind: http, url: \"http://127.0.0.1:{sites.port}/s/0\"}}\n")
        agent = run_agent(config, tmp)
        try:
            time.sleep(5)
            sites.down = True
            receiver.wait_for(1, timeout=120)
            arrived = time.monotonic()
            assert sites.first_down is not None
            return arrived - sites.first_down
        finally:
            agent.terminate()
            agent.wait(30)
            sites.server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dependents", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {
        "outage_with_dependencies": outage(args.dependents, True),
        "outage_grouped_by_host": outage(args.dependents, False, "30s"),
        "outage_neither": outage(args.dependents, False),
        "flapping_detected": flapping(True),
        "flapping_not_detected": flapping(False),
        "first_message_s_without_grouping": round(time_to_message("0s"), 3),
        "first_message_s_with_grouping_30s": round(time_to_message("30s"), 3),
    }
    print(f"| outage of a parent and {args.dependents} dependents (firing + resolved) | "
          f"{results['outage_with_dependencies']} with depends_on | "
          f"{results['outage_grouped_by_host']} grouped by host, no depends_on | "
          f"{results['outage_neither']} with neither |")
    print(f"| a site flipping at each check for 60 checks | "
          f"{results['flapping_detected']} notifications with flapping detection | "
          f"{results['flapping_not_detected']} without |")
    print(f"| outage to first message | "
          f"{results['first_message_s_without_grouping']} s without grouping | "
          f"{results['first_message_s_with_grouping_30s']} s with grouping (30 s) |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
