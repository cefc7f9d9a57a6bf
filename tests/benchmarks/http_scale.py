"""Scale of the http check: 1,000 checks against local servers at a 10 s interval.

    .venv/bin/python tests/benchmarks/http_scale.py [--checks 1000] [--interval 10]
        [--seconds 150] [--ports 8] [--mode cli|inprocess] [--json report.json]

Starts the target (``tests/servers/http_server.py``: a raw asyncio responder on several
ports of 127.0.0.1, in its own process so its CPU is not counted) and then the agent:

- ``--mode cli`` (default): ``watchkeeper run -c <generated config>``, the real agent with
  store, thresholds and dispatcher;
- ``--mode inprocess``: only the scheduler, the http checks and the shared client pool (the
  scheduler's own numbers, without the rest of the agent).

Every check requests its own path (``/c/0042``), and the target logs each arrival, so runs
per cycle, skipped runs and schedule lag are measured from outside the agent: a check's lag
on a turn is how much later than its best turn it arrived (``arrival - k * interval``, minus
that check's minimum). When the agent logs a ``scheduler stats: {json}`` line on exit (as
the in-process mode does), its own counts are reported too.

Targets: no skipped runs, lag p99 < 500 ms, peak RSS < 120 MB. Exit status 1 on a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "tests" / "servers" / "http_server.py"
STATS_LINE = re.compile(r"scheduler stats: (\{.*\})")
RESULT_LINE = re.compile(r"check (\S+): (OK|WARNING|CRITICAL|UNKNOWN) - ")

TARGET_P99_MS = 500.0
TARGET_RSS_MB = 120.0
#: Excluded from CPU and lag figures: imports, first runs spread over up to 10 s, warm-up.
SETTLE_S = 15.0


def write_config(tmp: Path, ports: list[int], checks: int, interval: float,
                 concurrency: int) -> Path:
    lines = [
        "agent:",
        "  host: bench",
        f"  state_dir: {tmp / 'state'}",
        f"  interval: {interval:g}s",
        "  timeout: 5s",
        f"  max_concurrency: {concurrency}",
        "  log_level: info",
        "channels:",
        "  log:",
        "    - log://",
        "checks:",
    ]
    for i in range(checks):
        lines += [f"  - name: web-{i:04d}",
                  "    kind: http",
                  f"    url: http://127.0.0.1:{ports[i % len(ports)]}/c/{i:04d}"]
    path = tmp / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    (tmp / "checks.json").write_text(json.dumps({
        "interval": interval, "concurrency": concurrency,
        "urls": [f"http://127.0.0.1:{ports[i % len(ports)]}/c/{i:04d}" for i in range(checks)],
    }))
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def analyse_arrivals(path: Path, checks: int, interval: float, start: float,
                     end: float) -> dict[str, Any]:
    """Runs per cycle, skipped runs and lag, from the target's arrival log."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines():
        p, at = line.split()
        times[p].append(float(at))
    lags: list[float] = []
    skipped = 0
    for arrivals in times.values():
        arrivals.sort()
        # A gap of about two intervals is one skipped run; the index shift then shows as a
        # whole interval of "lag", so count it and start the baseline over.
        segment: list[float] = []
        prev = None
        for a in arrivals:
            if prev is not None and a - prev > 1.5 * interval:
                skipped += round((a - prev) / interval) - 1
                lags += _segment_lags(segment, interval, start)
                segment = []
            segment.append(a)
            prev = a
        lags += _segment_lags(segment, interval, start)
    measured = [a for ts in times.values() for a in ts if start <= a < end]
    cycles = Counter(int((a - start) // interval) for a in measured)
    full = [cycles[k] for k in range(int((end - start) // interval))]
    return {
        "checks_seen": len(times),
        "checks_never_run": checks - len(times),
        "runs_per_cycle": full,
        "skipped_runs": skipped,
        "lag_p50_ms": percentile(lags, 50) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
        "lag_max_ms": max(lags, default=float("nan")) * 1000,
    }


def _segment_lags(arrivals: list[float], interval: float, start: float) -> list[float]:
    if not arrivals:
        return []
    base = [a - k * interval for k, a in enumerate(arrivals)]
    best = min(base)
    return [b - best for b, a in zip(base, arrivals, strict=True) if a >= start]


def agent_command(mode: str, config: Path) -> list[str]:
    if mode == "inprocess":
        return [sys.executable, str(Path(__file__).resolve()), "--serve-agent",
                str(config.with_name("checks.json"))]
    exe = Path(sys.executable).with_name("watchkeeper")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "agent"]
    return [*cmd, "run", "-c", str(config)]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        arrivals = tmp / "arrivals.txt"
        server = subprocess.Popen(
            [sys.executable, str(SERVER), "--ports", str(args.ports), "--arrivals",
             str(arrivals)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            ports = json.loads(server.stdout.readline())["ports"]
            config = write_config(tmp, ports, args.checks, args.interval, args.concurrency)
            log_path = tmp / "agent.log"
            with log_path.open("w") as log:
                agent = subprocess.Popen(
                    agent_command(args.mode, config), stdout=log, stderr=subprocess.STDOUT,
                    env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=REPO)
                sample = _watch(agent, args.seconds)
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    agent.kill()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        log_text = log_path.read_text(errors="replace")
        report: dict[str, Any] = {"mode": args.mode, "checks": args.checks,
                                  "interval_s": args.interval, **sample}
        report.update(analyse_arrivals(arrivals, args.checks, args.interval,
                                       sample["window_start"], sample["window_end"]))
        found = STATS_LINE.findall(log_text)
        report["agent_stats"] = json.loads(found[-1]) if found else None
        report["agent_results"] = dict(Counter(m[1] for m in RESULT_LINE.findall(log_text)))
        report["agent_exit"] = agent.returncode
        report["agent_log_tail"] = log_text.splitlines()[-5:]
        return report


def _watch(agent: subprocess.Popen[bytes], seconds: float) -> dict[str, Any]:
    proc = psutil.Process(agent.pid)
    started = time.time()
    time.sleep(SETTLE_S)
    cpu0 = sum(proc.cpu_times()[:2])
    t0 = time.time()
    peak = 0
    while time.time() - started < seconds:
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited early with status {agent.returncode}")
        peak = max(peak, proc.memory_info().rss)
        time.sleep(1)
    cpu1 = sum(proc.cpu_times()[:2])
    t1 = time.time()
    return {"window_start": t0, "window_end": t1, "window_s": round(t1 - t0, 1),
            "cpu_percent_of_one_core": round((cpu1 - cpu0) / (t1 - t0) * 100, 2),
            "peak_rss_mb": round(peak / 2**20, 1)}


def verdict(report: dict[str, Any]) -> list[str]:
    misses = []
    if report["skipped_runs"] or report["checks_never_run"]:
        misses.append(f"skipped runs: {report['skipped_runs']}, checks never run: "
                      f"{report['checks_never_run']}")
    stats = report.get("agent_stats") or {}
    if stats.get("skipped"):
        misses.append(f"the scheduler skipped {stats['skipped']} runs")
    if not report["lag_p99_ms"] < TARGET_P99_MS:
        misses.append(f"lag p99 {report['lag_p99_ms']:.0f} ms >= {TARGET_P99_MS:.0f} ms")
    if not report["peak_rss_mb"] < TARGET_RSS_MB:
        misses.append(f"peak RSS {report['peak_rss_mb']} MB >= {TARGET_RSS_MB:.0f} MB")
    return misses


def print_report(report: dict[str, Any]) -> None:
    cycles = report["runs_per_cycle"]
    print(f"http scale ({report['mode']}): {report['checks']} checks every "
          f"{report['interval_s']:g} s, measured over {report['window_s']} s")
    print(f"  runs per full cycle   {cycles} (min {min(cycles, default=0)})")
    print(f"  skipped runs          {report['skipped_runs']} "
          f"(checks never run: {report['checks_never_run']})")
    print(f"  schedule lag          p50 {report['lag_p50_ms']:.1f} ms, "
          f"p99 {report['lag_p99_ms']:.1f} ms, max {report['lag_max_ms']:.1f} ms")
    print(f"  agent CPU             {report['cpu_percent_of_one_core']} % of one core")
    print(f"  agent peak RSS        {report['peak_rss_mb']} MB")
    print(f"  agent's own stats     {report['agent_stats']}")
    print(f"  results in agent log  {report['agent_results']}")


# --- the in-process agent: scheduler + http checks + client pool only ---------------------

async def _serve_agent(spec_path: str) -> None:
    from agent.check import CheckContext
    from agent.clock import SystemClock
    from agent.http_client import HttpClientPool
    from agent.scheduler import Job, Scheduler
    from checks.http.check import HttpCheck
    from checks.http.options import HttpOptions

    spec = json.loads(Path(spec_path).read_text())
    pool = HttpClientPool()
    statuses: Counter[str] = Counter()
    jobs = []
    for i, url in enumerate(spec["urls"]):
        check = HttpCheck(f"web-{i:04d}", HttpOptions(url=url))
        ctx = CheckContext(check.name, "bench", 5.0, http_client_factory=pool)
        jobs.append(Job(check.name, spec["interval"], 5.0,
                        lambda c=check, x=ctx: c.run(x)))  # type: ignore[misc]

    async def on_result(job: Job, result: Any, at: float) -> None:
        statuses[result.status.value] += 1

    scheduler = Scheduler(jobs, on_result, spec["concurrency"], SystemClock())
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, scheduler.stop)
    await scheduler.run()
    await pool.aclose()
    lags = [lag for s in scheduler.stats.values() for lag in s.lags]
    stats = {"runs": sum(s.runs for s in scheduler.stats.values()),
             "skipped": sum(s.skipped for s in scheduler.stats.values()),
             "timeouts": sum(s.timeouts for s in scheduler.stats.values()),
             "lag_p50_ms": round(percentile(lags, 50) * 1000, 1),
             "lag_p99_ms": round(percentile(lags, 99) * 1000, 1),
             "statuses": dict(statuses)}
    print("scheduler stats: " + json.dumps(stats), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checks", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=150.0,
                    help="total run time; the first 15 s are not measured")
    ap.add_argument("--ports", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=16,
                    help="the agent's max_concurrency (its default is 16)")
    ap.add_argument("--mode", choices=["cli", "inprocess"], default="cli")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--serve-agent", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_agent:
        sys.path.insert(0, str(REPO))
        asyncio.run(_serve_agent(args.serve_agent))
        return 0
    report = bench(args)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    misses = verdict(report)
    for m in misses:
        print(f"MISSED: {m}")
    if report["agent_exit"] not in (0, -signal.SIGTERM):
        print(f"agent exited with {report['agent_exit']}: {report['agent_log_tail']}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
