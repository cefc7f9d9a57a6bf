"""packaging/install.sh, for distributions without the Debian package: installs, changes
nothing when run again, refuses an interpreter the agent's user cannot run, uninstalls."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.conftest import DebBuilder
from tests.packaging.throwaway_root import ThrowawayRoot, require_root

INSTALL = "sh /run/source/packaging/install.sh"


@dataclass(frozen=True)
class Runs:
    """Output and exit code of each run of the script, in order, and what it left."""

    first: tuple[int, str]
    second: tuple[int, str]
    private_python: tuple[int, str]
    modes: str
    validate: int
    uninstall: tuple[int, str]
    left_after_uninstall: str
    purge: tuple[int, str]
    left_after_purge: str
    left_in_checkout: str


def _run(root: ThrowawayRoot, script: str, env: dict[str, str]) -> tuple[int, str]:
    out = root.sh(script, check=False, env=env)
    return out.returncode, out.stdout + out.stderr


@pytest.fixture(scope="module")
def runs(deb: Path, deb_builder: DebBuilder,
         tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Run the script through its life once in a throw-away root, offline."""
    require_root()
    root = ThrowawayRoot.make(tmp_path_factory.mktemp("install-root"))
    # The wheels the package build downloaded: the root has no network.
    shutil.copytree(deb_builder.cache / "wheels", root.packages / "wheels")
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/run/packages/wheels"}
    started = time.time()
    first = _run(root, INSTALL, env)
    second = _run(root, INSTALL, env)
    modes = root.sh("stat -c '%n %a %U:%G' /etc/watchkeeper /etc/watchkeeper/config.yaml"
                    " /var/lib/watchkeeper", check=False).stdout
    validate = root.sh("/usr/local/bin/watchkeeper validate -c /etc/watchkeeper/config.yaml",
                       check=False).returncode
    private = _run(root, "mkdir -m 0700 /root/private && cp /usr/bin/python3.11 /root/private/"
                   f" && PYTHON=/root/private/python3.11 {INSTALL}", env)
    listing = "ls -d /opt/watchkeeper /usr/local/bin/watchkeeper /etc/watchkeeper" \
              " /etc/systemd/system/watchkeeper.service /var/lib/watchkeeper 2>/dev/null; true"
    uninstall = _run(root, f"{INSTALL} --uninstall", env)
    left = root.sh(listing).stdout
    purge = _run(root, f"{INSTALL} --uninstall --purge", env)
    left_purge = root.sh(listing).stdout
    checkout = Path(__file__).resolve().parents[2]
    built = sorted(str(p.relative_to(checkout)) for pattern in ("build/**/*", "*.egg-info/*")
                   for p in checkout.glob(pattern) if p.stat().st_mtime >= started)
    return Runs(first, second, private, modes, validate, uninstall, left, purge, left_purge,
                "\n".join(built))


def test_the_first_run_installs_everything(runs: Runs) -> None:
    code, out = runs.first
    assert code == 0, out
    for step in ("installed the agent in /opt/watchkeeper", "wrote /etc/watchkeeper/config.yaml",
                 "installed /etc/systemd/system/watchkeeper.service"):
        assert step in out
    assert runs.validate == 0
    assert runs.modes.split("\n")[:3] == ["/etc/watchkeeper 750 root:watchkeeper",
                                          "/etc/watchkeeper/config.yaml 640 root:watchkeeper",
                                          "/var/lib/watchkeeper 750 watchkeeper:watchkeeper"]


def test_the_install_builds_from_a_copy_and_leaves_nothing_in_the_checkout(
        runs: Runs) -> None:
    # pip builds a local directory in place: build/ and an egg-info left in the checkout
    # are a second "watchkeeper" for Python to find beside the installed one.
    assert runs.first[0] == 0, runs.first[1]
    assert runs.left_in_checkout == ""


def test_a_second_run_changes_nothing_and_says_so(runs: Runs) -> None:
    code, out = runs.second
    assert code == 0, out
    assert "nothing changed" in out
    for change in ("installed the agent", "installed /", "created", "wrote", "linked", " set "):
        assert change not in out


def test_an_interpreter_the_agents_user_cannot_run_is_refused_by_name(runs: Runs) -> None:
    code, out = runs.private_python
    assert code == 1
    assert "the user watchkeeper cannot run /root/private/python3.11" in out
    assert "PYTHON=" in out


def test_uninstall_keeps_config_and_state_and_purge_removes_them(runs: Runs) -> None:
    assert runs.uninstall[0] == 0, runs.uninstall[1]
    assert runs.left_after_uninstall.split() == ["/etc/watchkeeper", "/var/lib/watchkeeper"]
    assert runs.purge[0] == 0, runs.purge[1]
    assert runs.left_after_purge == ""
