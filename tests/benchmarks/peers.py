"""Watchkeeper side by side with its peers, on the same work, in one run on this machine.

    sudo .venv/bin/python tests/benchmarks/peers.py [--rounds 3] [--seconds 60] [--quick]
        [--workloads host,http100,http1000] [--variant LABEL=DIR ...] [--json report.json]

Needs root (a network namespace) and Debian's packages::

    apt-get install nginx-light monit prometheus-blackbox-exporter prometheus-node-exporter

Everything runs inside a fresh network namespace with only loopback (the benchmark re-runs
itself under ``unshare -n``), so nothing leaves the machine. One nginx on 127.0.0.1:80
answers every path with a small 200 (no access log) and serves all the HTTP checks.

Each tool runs alone (only nginx and the scraping driver beside it) for a slot of
``--seconds`` after a settle time (15 s for Watchkeeper: imports, first runs spread over
the first interval; 5 s for the peers). Alone, because the CPU a process spends per check
depends on how busy the machine is: on this 2-core VM six agents started together each
used 40 % less CPU than one alone (fewer idle wake-ups per event). ``--together`` starts a
workload's tools at once instead. The workloads:

- ``host``: Watchkeeper with cpu, memory, load and disk checks every 10 s; Monit with
  ``check system`` and ``check filesystem /`` every 10 s; node_exporter (default
  collectors) scraped every 10 s.
- ``http100`` and ``http1000``: N distinct URLs (``/c/0042``) checked every 10 s by
  Watchkeeper (N ``http`` checks), by Monit (N ``check host ... if failed port 80 protocol
  http``) and by blackbox_exporter (``/probe?target=...`` for each URL every 10 s, spread
  over the interval as Prometheus spreads its targets).

blackbox_exporter and node_exporter do nothing until scraped, so a Python driver does the
scraping; its CPU is reported on its own and not counted for them. CPU is utime+stime (and
that of reaped children) over each process tree from ``/proc/PID/stat``, RSS the peak of the
tree's summed VmRSS during the slot. Rounds are interleaved (every workload and tool once per
round, in a rotating order); the table shows the medians and the ratios Watchkeeper/peer.
A clock tick is 10 ms, so over 60 s CPU figures step by 0.017 %.

``--variant LABEL=DIR`` (repeatable) adds another Watchkeeper to every workload, named
``watchkeeper+LABEL``, with DIR first on its PYTHONPATH: e.g. ``--variant sniffio=DIR``
after ``pip install --target DIR sniffio`` runs the same agent with sniffio importable, side
by side with the one without (a ``sitecustomize.py`` in DIR can try a change the same way).

Targets: at 100 and 1,000 HTTP checks at most 1.0 x blackbox_exporter's CPU, RSS at most
50 MB at 100 and 64 MB at 1,000; host checks at most node_exporter's CPU. Exit 1 on a miss.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IN_NETNS = "WATCHKEEPER_BENCH_NETNS"
INTERVAL = 10
PORT = 80
BLACKBOX = "127.0.0.1:9115"
NODE = "127.0.0.1:9100"
TICK = os.sysconf("SC_CLK_TCK")
#: Unmeasured start of a peer's slot (they start in well under a second).
PEER_SETTLE = 5.0
WORKLOADS = {"host": 0, "http100": 100, "http1000": 1000}
#: CPU ratio Watchkeeper/peer at most, and RSS in MB at most, per workload.
TARGETS: dict[str, tuple[str, float, float | None]] = {
    "host": ("node_exporter", 1.0, None),
    "http100": ("blackbox_exporter", 1.0, 50.0),
    "http1000": ("blackbox_exporter", 1.0, 64.0),
}
PEERS = {"host": ["monit", "node_exporter"], "http": ["monit", "blackbox_exporter"]}


# --- measuring process trees ---------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds of the process and its reaped children) from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return int(fields[1]), ticks / TICK


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its descendants (alive or reaped)."""
    return sum(st[1] for pid in _tree(root) if (st := _stat(pid)) is not None)


def tree_rss(root: int) -> int:
    """Summed VmRSS in bytes of ``root`` and its descendants."""
    total = 0
    for pid in _tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


# --- the tools ------------------------------------------------------------------------------

def urls(n: int) -> list[str]:
    return [f"http://127.0.0.1:{PORT}/c/{i:04d}" for i in range(n)]


def start_nginx(tmp: Path) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{PORT};
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)])


def watchkeeper_config(tmp: Path, n: int) -> Path:
    lines = ["agent:", "  host: bench", f"  state_dir: {tmp / 'state'}",
             f"  interval: {INTERVAL}s", "  timeout: 5s", "  log_level: info",
             "channels:", "  log:", "    - log://", "checks:"]
    if n == 0:
        lines += ["  - {name: cpu, kind: cpu}", "  - {name: memory, kind: memory}",
                  "  - {name: load, kind: load}", "  - {name: disks, kind: disk, all: true}"]
    for i, url in enumerate(urls(n)):
        lines += [f"  - name: web-{i:04d}", "    kind: http", f"    url: {url}"]
    path = tmp / "watchkeeper.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def monit_config(tmp: Path, n: int) -> Path:
    lines = [f"set daemon {INTERVAL}", f"set logfile {tmp}/monit.log",
             f"set pidfile {tmp}/monit.pid", f"set idfile {tmp}/monit.id",
             f"set statefile {tmp}/monit.state"]
    if n == 0:
        lines += ["check system bench",
                  "  if loadavg (5min) > 8 then alert",
                  "  if memory usage > 90% then alert",
                  "  if cpu usage > 95% for 5 cycles then alert",
                  "check filesystem rootfs with path /",
                  "  if space usage > 90% then alert"]
    for i in range(n):
        lines += [f"check host web-{i:04d} with address 127.0.0.1",
                  f'  if failed port {PORT} protocol http request "/c/{i:04d}" then alert']
    path = tmp / "monitrc"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def blackbox_config(tmp: Path) -> Path:
    path = tmp / "blackbox.yml"
    path.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                    "    http:\n      preferred_ip_protocol: ip4\n")
    return path


@dataclass
class Slot:
    """The processes of one workload's slot, by the name shown in the table."""

    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)


def tools_of(workload: str, variants: dict[str, Path]) -> list[str]:
    """The tools measured on ``workload``, Watchkeeper (and its variants) first."""
    exporter = "node_exporter" if WORKLOADS[workload] == 0 else "blackbox_exporter"
    return ["watchkeeper", *(f"watchkeeper+{label}" for label in variants), "monit", exporter]


def start_slot(tmp: Path, workload: str, tools: list[str], variants: dict[str, Path]) -> Slot:
    """Start ``tools`` on ``workload`` (and the driver, when an exporter is among them)."""
    n = WORKLOADS[workload]
    work = tmp / workload
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    slot = Slot()

    def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        log = work / f"{name}.log"
        slot.logs[name] = log
        with log.open("wb") as out:
            slot.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                                env=env, cwd=work)

    exe = Path(sys.executable).with_name("watchkeeper")
    agent = [str(exe)] if exe.exists() else [sys.executable, "-m", "agent"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    targets: list[str] = []
    for tool in tools:
        if tool.startswith("watchkeeper"):
            label = tool.partition("+")[2]
            where = work / (label or "plain")
            where.mkdir()
            spawn(tool, [*agent, "run", "-c", str(watchkeeper_config(where, n))],
                  dict(env, PYTHONPATH=str(variants[label])) if label else env)
        elif tool == "monit":
            spawn(tool, ["monit", "-I", "-c", str(monit_config(work, n))])
        elif tool == "blackbox_exporter":
            spawn(tool, ["prometheus-blackbox-exporter",
                         f"--config.file={blackbox_config(work)}",
                         f"--web.listen-address={BLACKBOX}"])
            targets = [f"http://{BLACKBOX}/probe?module=http_2xx&target={u}" for u in urls(n)]
        elif tool == "node_exporter":
            spawn(tool, ["prometheus-node-exporter", f"--web.listen-address={NODE}"])
            targets = [f"http://{NODE}/metrics"]
    if targets:
        (work / "targets.json").write_text(json.dumps(targets))
        time.sleep(0.5)  # the exporter listens before the first scrape
        spawn("driver", [sys.executable, str(Path(__file__).resolve()), "--drive",
                         str(work / "targets.json")])
    return slot


def stop_slot(slot: Slot) -> None:
    for proc in slot.procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in slot.procs.values():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(slot: Slot, settle: float, seconds: float) -> dict[str, tuple[float, float]]:
    """CPU in % of one core over the window and peak RSS in MB, per process of the slot."""
    time.sleep(settle)
    pids = {name: p.pid for name, p in slot.procs.items()}
    cpu0 = {name: tree_cpu(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    peak = dict.fromkeys(pids, 0)
    while time.monotonic() - t0 < seconds:
        for name, pid in pids.items():
            if slot.procs[name].poll() is not None:
                tail = slot.logs[name].read_text(errors="replace")[-2000:]
                raise SystemExit(f"{name} exited early ({slot.procs[name].returncode}): {tail}")
            peak[name] = max(peak[name], tree_rss(pid))
        time.sleep(min(2.0, max(0.0, seconds - (time.monotonic() - t0))))
    elapsed = time.monotonic() - t0
    return {name: (100 * (tree_cpu(pid) - cpu0[name]) / elapsed, peak[name] / 2**20)
            for name, pid in pids.items()}


def sanity(workload: str, slot: Slot) -> str:
    """What went wrong in the slot, as far as the logs tell (empty when all went fine)."""
    notes = []
    for name in slot.logs:
        if name.startswith("watchkeeper"):
            text = slot.logs[name].read_text(errors="replace")
            bad = len(re.findall(r": (?:CRITICAL|UNKNOWN) - ", text))
            if bad or "first check cycle complete" not in text:
                notes.append(f"{name}: {bad} failed results, cycle complete: "
                             f"{'first check cycle complete' in text}")
    if "monit" in slot.logs:
        monit = slot.logs["monit"].read_text(errors="replace")
        if (bad := monit.count("failed")):
            notes.append(f"monit: {bad} failures logged")
    if "driver" in slot.logs:
        drive = slot.logs["driver"].read_text(errors="replace")
        m = re.search(r"scrapes ok (\d+) failed (\d+)", drive)
        if m is None or int(m.group(2)) or not int(m.group(1)):
            notes.append(f"driver: {drive.strip()[-500:] or 'no summary'}")
    return f"{workload}: " + "; ".join(notes) if notes else ""


# --- the driver: scrapes blackbox_exporter and node_exporter -----------------------------

def drive(targets_file: Path) -> None:
    """Fetch every target once per interval, spread over it; count the failures."""
    targets = json.loads(targets_file.read_text())
    todo: queue.Queue[str] = queue.Queue()
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    stopping = threading.Event()

    def worker() -> None:
        conns: dict[str, http.client.HTTPConnection] = {}
        while True:
            url = todo.get()
            hostport, _, path = url.removeprefix("http://").partition("/")
            ok = False
            for _attempt in range(2):  # once more on a fresh connection after a close
                conn = conns.setdefault(hostport, http.client.HTTPConnection(hostport,
                                                                             timeout=10))
                try:
                    conn.request("GET", "/" + path)
                    body = conn.getresponse().read()
                    ok = b"probe_success 0" not in body
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conns.pop(hostport)
            with lock:
                counts["ok" if ok else "failed"] += 1

    for _ in range(8):
        threading.Thread(target=worker, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    start = time.monotonic()
    turn = 0
    while not stopping.is_set():
        for i, url in enumerate(targets):
            at = start + turn * INTERVAL + i * INTERVAL / len(targets)
            if stopping.wait(max(0.0, at - time.monotonic())):
                break
            todo.put(url)
        turn += 1
    print(f"scrapes ok {counts['ok']} failed {counts['failed']}", flush=True)


# --- the table ------------------------------------------------------------------------------

Samples = dict[str, dict[str, list[tuple[float, float]]]]


def _median(values: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))


def table(samples: Samples, rounds: int, seconds: float) -> tuple[list[str], list[str]]:
    """The markdown table of medians and ratios, and the targets missed."""
    agents = sorted({t for per in samples.values() for t in per if t.startswith("watchkeeper")},
                    key=lambda t: (t != "watchkeeper", t))
    tools = [*agents, "monit", "blackbox_exporter", "node_exporter", "driver"]
    shown = [t for t in tools if any(t in per for per in samples.values())]
    lines = [f"medians of {rounds} interleaved rounds of {seconds:g} s; CPU in % of one core,"
             " peak RSS of the process tree", "",
             "| workload | " + " | ".join(shown) + " | Watchkeeper/peer CPU |",
             "|---" * (len(shown) + 2) + "|"]
    misses = []
    tick = 100 / (TICK * seconds)
    for workload, per in samples.items():
        med = {t: _median(v) for t, v in per.items()}
        cells = [f"{med[t][0]:.2f} %, {med[t][1]:.1f} MB" if t in med else "" for t in shown]
        ratios = []
        for agent in agents:
            if agent not in med:
                continue
            for peer in PEERS["host" if workload == "host" else "http"]:
                if peer in med and med[peer][0] > 0:
                    ratios.append(f"{agent}/{peer} {med[agent][0] / med[peer][0]:.2f}x")
            peer, ratio_max, rss_max = TARGETS[workload]
            # One clock tick of slack: 0.05 % against 0.05 % is a tie, not a miss.
            if peer in med and med[agent][0] > ratio_max * med[peer][0] + tick:
                misses.append(f"{workload}: {agent} CPU {med[agent][0]:.2f} % > {ratio_max}"
                              f" x {peer}'s {med[peer][0]:.2f} %")
            if rss_max is not None and med[agent][1] > rss_max:
                misses.append(f"{workload}: {agent} RSS {med[agent][1]:.1f} MB > {rss_max} MB")
        lines.append(f"| {workload} | " + " | ".join(cells) + " | " + ", ".join(ratios) + " |")
    return lines, misses


def versions() -> str:
    """``nginx 1.22.1, Monit 5.33.0, ...``: what was measured."""
    out = []
    for label, cmd in (("nginx", ["nginx", "-v"]), ("Monit", ["monit", "-V"]),
                       ("blackbox_exporter", ["prometheus-blackbox-exporter", "--version"]),
                       ("node_exporter", ["prometheus-node-exporter", "--version"])):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        m = re.search(r"(\d+\.\d+(?:\.\d+)?)", done.stdout + done.stderr)
        out.append(f"{label} {m.group(1) if m else '?'}")
    return ", ".join(out)


def run(args: argparse.Namespace) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    workloads = args.workloads.split(",")
    samples: Samples = {w: {} for w in workloads}
    notes: list[str] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wk-peers-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        nginx = start_nginx(tmp)
        try:
            for r in range(args.rounds):
                for workload in workloads[r % len(workloads):] + workloads[:r % len(workloads)]:
                    tools = tools_of(workload, args.variant)
                    k = r % len(tools)
                    tools = tools[k:] + tools[:k]
                    groups = [tools] if args.together else [[t] for t in tools]
                    for group in groups:
                        print(f"round {r + 1}/{args.rounds}: {workload}: {', '.join(group)}",
                              file=sys.stderr, flush=True)
                        slot = start_slot(tmp, workload, group, args.variant)
                        settle = args.settle if any(t.startswith("watchkeeper")
                                                    for t in group) else PEER_SETTLE
                        try:
                            got = measure(slot, settle, args.seconds)
                        finally:
                            stop_slot(slot)
                        loads.append(os.getloadavg()[0])
                        if note := sanity(workload, slot):
                            notes.append(note)
                        for name, value in got.items():
                            samples[workload].setdefault(name, []).append(value)
                        print("  " + ", ".join(f"{n} {c:.2f} % {m:.1f} MB"
                                               for n, (c, m) in got.items()), file=sys.stderr)
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=30)
    lines, misses = table(samples, args.rounds, args.seconds)
    print("\n".join(lines))
    print(f"\n{versions()}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    # Anything else running on the machine shows here (this run alone stays well under 1).
    print(f"\nload average (1 min) at the end of the slots: {min(loads):.2f} to "
          f"{max(loads):.2f}, median {statistics.median(loads):.2f}")
    for note in notes:
        print(f"NOTE: {note}")
    for miss in misses:
        print(f"MISSED: {miss}")
    if args.json:
        args.json.write_text(json.dumps({"samples": samples, "misses": misses,
                                         "notes": notes}, indent=2))
    return 1 if misses else 0


def _variant(text: str) -> tuple[str, Path]:
    label, sep, where = text.partition("=")
    if not sep or not label or not Path(where).is_dir():
        raise argparse.ArgumentTypeError(f"expected LABEL=DIR with an existing DIR: {text!r}")
    return label, Path(where).resolve()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured time per slot")
    ap.add_argument("--settle", type=float, default=15.0,
                    help="unmeasured time at the start of each slot")
    ap.add_argument("--quick", action="store_true", help="1 round of 20 s")
    ap.add_argument("--together", action="store_true",
                    help="start a workload's tools at once in one slot, not each alone")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--variant", type=_variant, action="append", default=[],
                    metavar="LABEL=DIR", help="another Watchkeeper with DIR on PYTHONPATH")
    ap.add_argument("--json", type=Path, help="also write the samples here")
    ap.add_argument("--drive", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drive:
        drive(args.drive)
        return 0
    args.variant = dict(args.variant)
    if args.quick:
        args.rounds, args.seconds = 1, 20.0
    unknown = set(args.workloads.split(",")) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    missing = [t for t in ("nginx", "monit", "prometheus-blackbox-exporter",
                           "prometheus-node-exporter", "unshare", "ip") if not shutil.which(t)]
    if missing:
        ap.error(f"missing: {', '.join(missing)} (see the docstring for the packages)")
    if os.environ.get(IN_NETNS) != "1":
        if os.geteuid() != 0:
            ap.error("needs root, for a network namespace with only loopback")
        cmd = ["unshare", "--net", "--", sys.executable, str(Path(__file__).resolve()),
               *sys.argv[1:]]
        env: dict[str, str] = dict(os.environ, **{IN_NETNS: "1"})
        return subprocess.call(cmd, env=env)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
