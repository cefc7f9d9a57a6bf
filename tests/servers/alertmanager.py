"""A real Prometheus Alertmanager on 127.0.0.1 (Debian's package prometheus-alertmanager),
alone or as a cluster of members that gossip with each other, with a receiver that sends
nowhere. Outside CI a machine without it skips the tests that need it; in CI they fail
(``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.ports import free_port
from tests.promtool import debian_tool

BINARIES = ("/usr/bin/prometheus-alertmanager", "alertmanager")
INSTALL_HINT = ("Alertmanager is not installed (Debian: apt-get install "
                "prometheus-alertmanager)")

CONFIG = """route:
  receiver: "null"
  group_wait: 1h
receivers:
  - name: "null"
"""


def binary() -> str:
    """The Alertmanager executable; skips the test without it (fails it in CI)."""
    return debian_tool(BINARIES, INSTALL_HINT)


class Alertmanager:
    """One Alertmanager process; ``peers`` are the cluster addresses of other members."""

    def __init__(self, tmp: Path, name: str = "am", peers: tuple[str, ...] = (),
                 cluster: bool = False) -> None:
        self.dir = tmp / name
        self.dir.mkdir()
        (self.dir / "am.yml").write_text(CONFIG)
        self.port = free_port()
        self.cluster_port = free_port() if cluster else None
        cluster_args = [f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
                        f"--cluster.advertise-address=127.0.0.1:{self.cluster_port}",
                        "--cluster.gossip-interval=50ms", "--cluster.pushpull-interval=1s",
                        *(f"--cluster.peer={p}" for p in peers)] if cluster \
            else ["--cluster.listen-address="]
        self.log_path = self.dir / "am.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [binary(), f"--config.file={self.dir / 'am.yml'}",
             f"--storage.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", *cluster_args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()

    @property
    def peer_address(self) -> str:
        """This member's cluster address, for another member's ``--cluster.peer``."""
        assert self.cluster_port is not None
        return f"127.0.0.1:{self.cluster_port}"

    def url(self, scheme: str = "alertmanager", query: str = "") -> str:
        """This Alertmanager as a channel URL."""
        return f"{scheme}://127.0.0.1:{self.port}" + (f"?{query}" if query else "")

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"Alertmanager exited: {self.log_path.read_text()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"Alertmanager not ready: {self.log_path.read_text()}")

    def get(self, path: str) -> Any:
        """``GET /api/v2/<path>`` as JSON."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/{path}",
                                    timeout=10) as r:
            return json.loads(r.read())

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds open now (resolved ones are not listed)."""
        found: list[dict[str, Any]] = self.get("alerts")
        return found

    def wait_for(self, predicate: Any, timeout: float = 20.0,
                 what: str = "alerts") -> list[dict[str, Any]]:
        """Wait until ``predicate(alerts)`` holds; return the alerts."""
        deadline = time.monotonic() + timeout
        alerts = self.alerts()
        while not predicate(alerts):
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {what} within {timeout}s, got {alerts!r}")
            time.sleep(0.1)
            alerts = self.alerts()
        return alerts

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def running(tmp: Path) -> Iterator[Alertmanager]:
    """One Alertmanager, not clustered."""
    am = Alertmanager(tmp)
    try:
        yield am
    finally:
        am.stop()


@contextlib.contextmanager
def cluster(tmp: Path) -> Iterator[tuple[Alertmanager, Alertmanager]]:
    """Two members that know each other."""
    first = Alertmanager(tmp, "am1", cluster=True)
    try:
        second = Alertmanager(tmp, "am2", peers=(first.peer_address,), cluster=True)
        try:
            _wait_clustered(first, 2)
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def _wait_clustered(am: Alertmanager, members: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        peers = am.get("status").get("cluster", {}).get("peers") or []
        if len(peers) >= members:
            return
        time.sleep(0.1)
    raise AssertionError(f"the cluster did not form: {am.get('status')}")
