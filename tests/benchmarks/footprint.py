"""Footprint of the agent on config.example.yaml: RSS, PSS and CPU percent of one core.

    .venv/bin/python tests/benchmarks/footprint.py [--seconds 60]

Starts ``watchkeeper run -c config.example.yaml`` (state in a temporary directory), lets it
settle for its first check cycle, then samples memory every second and CPU time over the
measured window. Targets: RSS <= 45 MB, CPU <= 0.1 % of one core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


def pss_bytes(pid: int) -> int:
    """Proportional set size from /proc/PID/smaps_rollup (0 where the kernel lacks it)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--config", type=Path, default=REPO / "config.example.yaml")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, WATCHKEEPER_STATE_DIR=state)
        exe = Path(sys.executable).with_name("watchkeeper")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "agent"]
        proc = subprocess.Popen([*cmd, "run", "-c", str(args.config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        p = psutil.Process(proc.pid)
        # Settle: the first cycle (first runs are spread over up to 10 s) and imports.
        time.sleep(12)
        cpu0 = p.cpu_times()
        t0 = time.monotonic()
        rss_peak = pss_peak = 0
        rss_samples = []
        while time.monotonic() - t0 < args.seconds:
            rss = p.memory_info().rss
            rss_samples.append(rss)
            rss_peak = max(rss_peak, rss)
            pss_peak = max(pss_peak, pss_bytes(proc.pid))
            time.sleep(1)
        cpu1 = p.cpu_times()
        elapsed = time.monotonic() - t0
        proc.terminate()
        proc.wait(20)
    busy = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    mb = 1024 * 1024
    print(f"window:      {elapsed:.0f} s on {args.config.name}")
    print(f"RSS:         {rss_samples[-1] / mb:.1f} MB (peak {rss_peak / mb:.1f} MB)")
    print(f"PSS:         peak {pss_peak / mb:.1f} MB")
    print(f"CPU:         {100 * busy / elapsed:.3f} % of one core ({busy:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
