"""The Debian package, built once per test session by packaging/build-deb.sh."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.throwaway_root import require

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build-deb.sh"


@dataclass(frozen=True)
class DebBuilder:
    """Builds the package; its wheels and venv are cached in this session's tmp dir only."""

    cache: Path
    base: Path

    def build(self, name: str) -> Path:
        """Build into a new folder ``name``; the path of the .deb."""
        out = self.base / name
        done = subprocess.run(["sh", str(BUILD), "--out", str(out), "--cache", str(self.cache)],
                              capture_output=True, text=True, check=False, timeout=600)
        assert done.returncode == 0, f"build-deb.sh failed:\n{done.stdout}\n{done.stderr}"
        return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def deb_builder(tmp_path_factory: pytest.TempPathFactory) -> DebBuilder:
    """A builder whose later builds reuse the first one's wheels and venv (offline)."""
    require("dpkg-deb")
    base = tmp_path_factory.mktemp("deb")
    return DebBuilder(base / "cache", base)


@pytest.fixture(scope="session")
def deb(deb_builder: DebBuilder) -> Path:
    """The package, built once for the session."""
    return deb_builder.build("first")
