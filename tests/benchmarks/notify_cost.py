"""What notifications cost: CPU of a burst of 16 and the time from a failed check to the
delivered message, with the real agent on loopback.

    .venv/bin/python tests/benchmarks/notify_cost.py [--checks 16] [--rounds 3]

Starts a target (16 paths that answer 200, or 500 while failing) and a receiver (Apprise's
``json://`` posts), both in this process on 127.0.0.1 and stamped with the monotonic
clock, then ``watchkeeper run`` with one http check per path (1 s interval) and one
channel to the receiver. Each phase flips every path at once (fail, recover, fail ...): 16
checks fail together, 16 FIRINGs (or RESOLVEDs) go out. The first phase meets a cold sender
child (it imports Apprise); the next ones find it warm.

- CPU per burst: the agent's and its children's CPU time (live children read directly,
  exited ones through the agent's ``children_*`` times) from the flip until the 16th
  message arrived and a second more, minus what the same time costs with no notification
  (measured before the first flip).
- check-to-delivery: per check, from the target answering its first 500 (or 200) of the
  phase to the receiver getting that check's message.

Targets: a burst of 16 at most 1 CPU-second (agent + children); check-to-delivery under
100 ms with a warm child. Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
TARGET_BURST_CPU_S = 1.0
TARGET_LATENCY_S = 0.100
CHECK_NAME = re.compile(r"\bc(\d+)\b")


class Target:
    """Answers ``/c/N`` with 200, or 500 while ``failing``; stamps each phase's first
    answer per path."""

    def __init__(self) -> None:
        self.failing = False
        self.lock = threading.Lock()
        self.first: dict[str, float] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with target.lock:
                    status = 500 if target.failing else 200
                    target.first.setdefault(self.path.rsplit("/", 1)[-1], time.monotonic())
                body = b"down\n" if status == 500 else b"ok\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def flip(self, failing: bool) -> None:
        with self.lock:
            self.failing = failing
            self.first = {}


class Inbox:
    """Records each posted message with its arrival time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[float, dict[str, Any]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.monotonic()
                with inbox.lock:
                    inbox.got.append((at, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.got)


def write_config(tmp: Path, target: int, inbox: int, checks: int) -> Path:
    lines = ["agent:", "  host: bench", f"  state_dir: {tmp / 'state'}", "  interval: 1s",
             "  timeout: 5s", "channels:", f"  hook: [\"json://127.0.0.1:{inbox}/in\"]",
             "checks:"]
    for i in range(checks):
        lines += [f"  - name: c{i:02d}", "    kind: http",
                  f"    url: http://127.0.0.1:{target}/c/{i:02d}"]
    path = tmp / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def tree_cpu(agent: psutil.Process) -> float:
    """CPU seconds of the agent, its live children and its reaped ones."""
    t = agent.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in agent.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += c.user + c.system
    return total


def check_of(message: dict[str, Any]) -> str | None:
    """The path number of the check a message is about (its title names the check)."""
    m = CHECK_NAME.search(str(message.get("title", "")))
    return m.group(1) if m else None


@dataclass
class Phase:
    """One burst: what went out, what it cost, how long each message took."""

    child: str
    failing: bool
    count: int
    cpu: float
    latencies: list[float]


def burst(agent: psutil.Process, target: Target, inbox: Inbox, *, checks: int,
          failing: bool, idle_rate: float, child: str) -> Phase:
    """Flip every path, wait for the checks' messages, and measure."""
    want = inbox.count() + checks
    c0, t0 = tree_cpu(agent), time.monotonic()
    start = inbox.count()
    target.flip(failing)
    deadline = t0 + 60
    while inbox.count() < want and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)
    c1, t1 = tree_cpu(agent), time.monotonic()
    with inbox.lock:
        got = inbox.got[start:]
    with target.lock:
        first = dict(target.first)
    latencies = [at - first[c] for at, m in got
                 if (c := check_of(m)) is not None and c in first]
    return Phase(child, failing, len(got), c1 - c0 - idle_rate * (t1 - t0), latencies)


def report(idle_rate: float, phases: list[Phase], checks: int) -> bool:
    """Print the table; whether the targets were met."""
    print(f"idle ({checks} http checks every 1 s, no notification): "
          f"{idle_rate * 100:.2f} % of one core")
    print("| burst | sender child | CPU (agent + children) | check-to-delivery p50 / max |")
    print("|---|---|---|---|")
    ok = True
    for i, p in enumerate(phases):
        what = "FIRING" if p.failing else "RESOLVED"
        p50 = statistics.median(p.latencies) * 1000 if p.latencies else float("nan")
        worst = max(p.latencies) * 1000 if p.latencies else float("nan")
        print(f"| {i + 1}: {p.count} x {what} | {p.child} | {p.cpu:.2f} s | "
              f"{p50:.0f} ms / {worst:.0f} ms |")
        ok = ok and p.count >= checks and p.cpu <= TARGET_BURST_CPU_S
        if p.child == "warm":
            ok = ok and bool(p.latencies) and max(p.latencies) < TARGET_LATENCY_S
    print(f"targets: burst <= {TARGET_BURST_CPU_S:g} CPU-s, warm check-to-delivery < "
          f"{TARGET_LATENCY_S * 1000:.0f} ms: {'met' if ok else 'MISSED'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checks", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="bursts after the first (warm)")
    args = ap.parse_args()
    target, inbox = Target(), Inbox()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), target.server.server_address[1],
                              inbox.server.server_address[1], args.checks)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHKEEPER_")}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config)],
                                cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        agent = psutil.Process(proc.pid)
        try:
            time.sleep(12)  # imports, first runs spread over up to 10 s
            c0 = tree_cpu(agent)
            time.sleep(5.0)
            idle_rate = (tree_cpu(agent) - c0) / 5.0
            phases = []
            for n in range(args.rounds + 1):
                phases.append(burst(agent, target, inbox, checks=args.checks,
                                    failing=n % 2 == 0, idle_rate=idle_rate,
                                    child="cold" if n == 0 else "warm"))
                time.sleep(2.0)  # every check ran once more in its new state
        finally:
            proc.terminate()
            proc.wait(30)
    return 0 if report(idle_rate, phases, args.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
