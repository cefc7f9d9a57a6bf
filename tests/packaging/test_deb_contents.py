"""What the built package holds: files and modes, control fields, maintainer scripts."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.packaging.throwaway_root import require


@dataclass(frozen=True)
class Entry:
    """One line of ``dpkg-deb -c``."""

    mode: str
    owner: str
    target: str | None


def _contents(deb: Path) -> dict[str, Entry]:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    entries: dict[str, Entry] = {}
    for line in listing.splitlines():
        mode, owner, _size, _day, _time, rest = line.split(None, 5)
        path, _, target = rest.partition(" -> ")
        entries[path.removeprefix(".").rstrip("/") or "/"] = Entry(mode, owner, target or None)
    return entries


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def _control_file(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-I", str(deb), name], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize(("path", "mode", "target"), [
    ("/opt/watchkeeper/bin/watchkeeper", "-rwxr-xr-x", None),
    ("/opt/watchkeeper/bin/python3", "lrwxrwxrwx", "python3.11"),
    ("/opt/watchkeeper/pyvenv.cfg", "-rw-r--r--", None),
    ("/usr/bin/watchkeeper", "lrwxrwxrwx", "/opt/watchkeeper/bin/watchkeeper"),
    ("/lib/systemd/system/watchkeeper.service", "-rw-r--r--", None),
    ("/etc/watchkeeper/config.yaml", "-rw-r-----", None),
    ("/usr/share/doc/watchkeeper/copyright", "-rw-r--r--", None),
    ("/usr/share/doc/watchkeeper/changelog.Debian.gz", "-rw-r--r--", None),
    ("/usr/share/man/man1/watchkeeper.1.gz", "-rw-r--r--", None),
    ("/usr/share/lintian/overrides/watchkeeper", "-rw-r--r--", None),
])
def test_the_package_ships_each_file_with_its_mode(deb: Path, path: str, mode: str,
                                                   target: str | None) -> None:
    entry = _contents(deb)[path]
    assert (entry.mode, entry.owner, entry.target) == (mode, "root/root", target)


def test_the_venv_holds_the_agent_and_its_pinned_dependencies(deb: Path) -> None:
    paths = set(_contents(deb))
    site = "/opt/watchkeeper/lib/python3.11/site-packages"
    pins = [line.split("==") for line in
            (Path(__file__).parents[2] / "packaging/requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins
    for name, version in pins:
        normal = name.replace("-", "_")
        assert any(p.lower() == f"{site}/{normal}-{version}.dist-info".lower() for p in paths), (
            f"{name}=={version} is not in the venv")
    assert f"{site}/agent/cli/main.py" in paths
    assert f"{site}/checks/process/check.py" in paths


def test_the_package_ships_no_byte_code_no_installer_and_no_build_path(deb: Path) -> None:
    paths = set(_contents(deb))
    assert not [p for p in paths if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in paths if "/site-packages/pip" in p or "/bin/pip" in p]
    assert {p for p in paths if p.startswith("/opt/watchkeeper/bin/")} == {
        "/opt/watchkeeper/bin/" + name for name in ("watchkeeper", "python", "python3",
                                                     "python3.11")}


def test_the_config_is_the_only_conffile(deb: Path) -> None:
    assert _control_file(deb, "conffiles").split() == ["/etc/watchkeeper/config.yaml"]


def test_the_package_depends_on_its_interpreter_and_adduser(deb: Path) -> None:
    depends = [d.strip().split()[0] for d in _field(deb, "Depends").split(",")]
    assert {"python3.11", "adduser", "libc6"} <= set(depends)
    assert _field(deb, "Package") == "watchkeeper"
    assert _field(deb, "Version").startswith("0.1.0-")


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm"])
def test_each_maintainer_script_is_valid_shell_and_starts_nothing_without_systemd(
        deb: Path, script: str) -> None:
    text = _control_file(deb, script)
    assert text.startswith("#!/bin/sh\nset -e\n")
    syntax = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True,
                            check=False)
    assert syntax.returncode == 0, syntax.stderr
    guards: list[str] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("if "):
            guards.append(line)
        elif line == "fi":
            guards.pop()
        elif "deb-systemd-invoke" in line or "systemctl" in line:
            assert any("/run/systemd/system" in g for g in guards), line

def test_the_postinst_makes_the_user_and_gives_the_config_its_group(deb: Path) -> None:
    text = _control_file(deb, "postinst")
    assert "adduser --system --group" in text
    assert "--home /var/lib/watchkeeper" in text
    assert "own root:watchkeeper 0640 /etc/watchkeeper/config.yaml" in text
    assert "deb-systemd-helper enable 'watchkeeper.service'" in text


def test_purge_removes_state_and_config(deb: Path) -> None:
    text = _control_file(deb, "postrm")
    purge = text[text.index('if [ "$1" = "purge" ]'):]
    assert "rm -rf /var/lib/watchkeeper /etc/watchkeeper" in purge


def test_the_packaged_config_names_the_state_directory_and_validates(
        deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    config = tmp_path / "etc/watchkeeper/config.yaml"
    assert yaml.safe_load(config.read_text())["agent"]["state_dir"] == "/var/lib/watchkeeper"
    done = subprocess.run([sys.executable, "-m", "agent.cli.main", "validate", "-c", str(config)],
                          capture_output=True, text=True, check=False,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stdout + done.stderr


def test_lintian_reports_nothing_but_the_explained_overrides(deb: Path) -> None:
    require("lintian")
    done = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb)],
                          capture_output=True, text=True, check=False, timeout=300)
    tags = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]
    assert tags == [], "\n".join(tags)
    assert done.returncode == 0, done.stdout + done.stderr
