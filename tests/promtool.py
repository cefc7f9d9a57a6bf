"""``promtool check metrics`` (Prometheus's own linter) on a page of ours.

Outside CI a machine without promtool skips the tests that need it; in CI (``CI=true``,
or the services ``.ci/run`` requires) they fail, so the lint is never silently left out.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

INSTALL_HINT = "promtool is not installed (Debian: apt-get install prometheus)"


def required_here() -> bool:
    """Whether this run is CI, where every tool the tests use must be there."""
    return (os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
            or os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1")


def debian_tool(names: tuple[str, ...], hint: str) -> str:
    """The first of ``names`` on the PATH; skips the test without any (fails it in CI,
    saying ``hint``: which package brings it)."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    if required_here():
        pytest.fail(f"{hint}; CI needs it")
    pytest.skip(hint)


def promtool() -> str:
    """The promtool executable; skips the test without it (fails it in CI)."""
    return debian_tool(("promtool",), INSTALL_HINT)


def lint(page: str) -> str:
    """What ``promtool check metrics`` says about ``page``: "" when it has no complaint
    (a page it cannot parse, or a complaint with exit code 0, says so too)."""
    done = subprocess.run([promtool(), "check", "metrics"], input=page, capture_output=True,
                          text=True, timeout=60, check=False)
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0 and not said:
        said = f"promtool exited {done.returncode}"
    return said
