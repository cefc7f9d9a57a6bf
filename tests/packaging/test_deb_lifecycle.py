"""Install, upgrade (the same version rebuilt), remove and purge the package in a
throw-away root made from this machine's own, as a sysadmin would, asserting what is left."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging.conftest import DebBuilder
from tests.packaging.throwaway_root import ThrowawayRoot, require, require_root

CHECKS = ("cpu", "memory", "load", "disks", "agent-port")
WATCHED = ("/opt/watchkeeper/bin/watchkeeper", "/usr/bin/watchkeeper",
           "/lib/systemd/system/watchkeeper.service", "/etc/watchkeeper",
           "/etc/watchkeeper/config.yaml", "/var/lib/watchkeeper",
           "/var/lib/watchkeeper/kept", "/etc/systemd/system/multi-user.target.wants/"
           "watchkeeper.service")


@dataclass(frozen=True)
class Snapshot:
    """What a sysadmin sees in the root after one step."""

    status: str
    present: frozenset[str]
    modes: dict[str, str]
    user: str
    config: str


@dataclass(frozen=True)
class Lifecycle:
    """The root after each step, and what ran inside it."""

    installed: Snapshot
    upgraded: Snapshot
    removed: Snapshot
    purged: Snapshot
    check_as_agent: tuple[int, str, str]
    check_as_root: tuple[int, str, str]
    verify: tuple[int, str]
    version_after_upgrade: str


def _snapshot(root: ThrowawayRoot) -> Snapshot:
    present = frozenset(p for p in WATCHED if root.exists(p))
    modes = {p: root.stat(p) for p in present if not p.endswith(".service")}
    status = root.sh("dpkg-query -W -f '${db:Status-Abbrev}' watchkeeper 2>/dev/null",
                     check=False).stdout.strip()
    user = root.sh("getent passwd watchkeeper", check=False).stdout.strip()
    config = root.sh("cat /etc/watchkeeper/config.yaml 2>/dev/null", check=False).stdout
    return Snapshot(status, present, modes, user, config)


@pytest.fixture(scope="module")
def lifecycle(deb: Path, deb_builder: DebBuilder,
              tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """Drive the whole life of the package once; the tests read what each step left."""
    require_root()
    root = ThrowawayRoot.make(tmp_path_factory.mktemp("root"))
    (root.packages / "first.deb").write_bytes(deb.read_bytes())
    root.sh("dpkg -i /run/packages/first.deb")
    installed = _snapshot(root)
    check = "cd / && {} /usr/bin/watchkeeper check -c /etc/watchkeeper/config.yaml"
    agent = root.sh(check.format("runuser -u watchkeeper --"), check=False)
    as_root = root.sh(check.format(""), check=False)
    verify = root.sh("systemd-analyze verify /lib/systemd/system/watchkeeper.service 2>&1",
                     check=False)

    # An edited config and some state, which the upgrade must both keep.
    root.sh("echo '# edited here' >> /etc/watchkeeper/config.yaml &&"
            " runuser -u watchkeeper -- touch /var/lib/watchkeeper/kept")
    rebuilt = deb_builder.build("rebuilt")
    (root.packages / "rebuilt.deb").write_bytes(rebuilt.read_bytes())
    root.sh("dpkg -i /run/packages/rebuilt.deb")
    upgraded = _snapshot(root)
    version = root.sh("watchkeeper --version", check=False)

    root.sh("dpkg -r watchkeeper")
    removed = _snapshot(root)
    root.sh("dpkg -P watchkeeper")
    purged = _snapshot(root)
    return Lifecycle(installed, upgraded, removed, purged,
                     (agent.returncode, agent.stdout, agent.stderr),
                     (as_root.returncode, as_root.stdout, as_root.stderr),
                     (verify.returncode, verify.stdout),
                     (version.stdout + version.stderr).strip())


def test_install_makes_the_system_user_with_its_home_in_the_state_directory(
        lifecycle: Lifecycle) -> None:
    name, _pw, _uid, _gid, _gecos, home, shell = lifecycle.installed.user.split(":")
    assert (name, home, shell) == ("watchkeeper", "/var/lib/watchkeeper", "/usr/sbin/nologin")


@pytest.mark.parametrize(("path", "mode"), [
    ("/etc/watchkeeper", "750 root:watchkeeper"),
    ("/etc/watchkeeper/config.yaml", "640 root:watchkeeper"),
    ("/var/lib/watchkeeper", "750 watchkeeper:watchkeeper"),
    ("/opt/watchkeeper/bin/watchkeeper", "755 root:root"),
])
def test_install_gives_each_path_its_owner_and_mode(lifecycle: Lifecycle, path: str,
                                                    mode: str) -> None:
    assert lifecycle.installed.status == "ii"
    assert lifecycle.installed.modes[path] == mode


def test_install_enables_the_unit_without_starting_anything_in_a_chroot(
        lifecycle: Lifecycle) -> None:
    assert {"/lib/systemd/system/watchkeeper.service", "/usr/bin/watchkeeper",
            "/etc/systemd/system/multi-user.target.wants/watchkeeper.service"
            } <= lifecycle.installed.present


@pytest.mark.parametrize("who", ["check_as_agent", "check_as_root"])
def test_the_installed_command_runs_every_packaged_check(lifecycle: Lifecycle,
                                                         who: str) -> None:
    code, out, err = getattr(lifecycle, who)
    assert code in (0, 1, 2), f"exit {code}\n{out}\n{err}"  # 3 would be a check that broke
    assert "Traceback" not in err
    rows = {line.split()[0] for line in out.splitlines()[1:] if line and not line[0].isspace()}
    assert rows == set(CHECKS), out


def test_the_installed_unit_passes_systemd_analyze_verify(lifecycle: Lifecycle) -> None:
    require("systemd-analyze")
    code, out = lifecycle.verify
    assert (code, out.strip()) == (0, ""), out


def test_an_upgrade_keeps_the_edited_config_the_state_and_the_modes(
        lifecycle: Lifecycle) -> None:
    after = lifecycle.upgraded
    assert after.status == "ii"
    assert "# edited here" in after.config
    assert "/var/lib/watchkeeper/kept" in after.present
    assert after.modes["/etc/watchkeeper/config.yaml"] == "640 root:watchkeeper"
    assert lifecycle.version_after_upgrade.endswith("0.1.0")


def test_remove_takes_the_program_and_unit_and_keeps_config_and_state(
        lifecycle: Lifecycle) -> None:
    after = lifecycle.removed
    assert after.status == "rc"
    for gone in ("/opt/watchkeeper/bin/watchkeeper", "/usr/bin/watchkeeper",
                 "/lib/systemd/system/watchkeeper.service"):
        assert gone not in after.present
    assert {"/etc/watchkeeper/config.yaml", "/var/lib/watchkeeper/kept"} <= after.present
    assert "# edited here" in after.config


def test_purge_takes_config_state_and_enablement_and_keeps_the_user(
        lifecycle: Lifecycle) -> None:
    after = lifecycle.purged
    assert after.status == ""
    assert after.present == frozenset()
    # Debian practice: a system user stays, so that its id is never given to another.
    assert after.user.startswith("watchkeeper:")
