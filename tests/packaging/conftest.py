"""The Debian package, built once per test run by packaging/build-deb.sh.

The workers of a parallel run share the builds (a lock lets one build while the others
wait): each build takes most of a minute of both cores' time.
"""

from __future__ import annotations

import fcntl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.throwaway_root import require

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build-deb.sh"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class DebBuilder:
    """Builds the package; its wheels and venv are cached in this run's tmp dir only."""

    cache: Path
    base: Path

    def build(self, name: str) -> Path:
        """Build into the folder ``name`` once in this run; the path of the .deb."""
        out = self.base / name
        built = self.base / f"{name}.built"
        with _locked(self.base / "build.lock"):
            if built.exists():
                return Path(built.read_text())
            done = subprocess.run(["sh", str(BUILD), "--out", str(out), "--cache",
                                   str(self.cache)],
                                  capture_output=True, text=True, check=False, timeout=600)
            assert done.returncode == 0, f"build-deb.sh failed:\n{done.stdout}\n{done.stderr}"
            path = Path(done.stdout.strip().splitlines()[-1])
            built.write_text(str(path))
            return path


@pytest.fixture(scope="session")
def deb_builder(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DebBuilder:
    """A builder whose later builds reuse the first one's wheels and venv (offline),
    shared by the workers of this run (their tmp dirs have one parent per run)."""
    require("dpkg-deb")
    run = tmp_path_factory.getbasetemp()
    base = (run if worker_id == "master" else run.parent) / "deb"
    base.mkdir(exist_ok=True)
    return DebBuilder(base / "cache", base)


@pytest.fixture(scope="session")
def deb(deb_builder: DebBuilder) -> Path:
    """The package, built once for the session."""
    return deb_builder.build("first")
