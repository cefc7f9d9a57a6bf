"""The packaging files agree with each other and with the command line."""

from __future__ import annotations

import configparser
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from agent.cli.main import build_parser

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((PACKAGING / "watchkeeper.service").read_text())
    return unit


@pytest.mark.parametrize("script", ["install.sh", "build-deb.sh", "packaged-config.sh"])
def test_each_packaging_script_is_valid_shell(script: str) -> None:
    out = subprocess.run(["sh", "-n", str(PACKAGING / script)], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_the_unit_runs_what_the_install_script_installs() -> None:
    service = _unit()["Service"]
    script = (PACKAGING / "install.sh").read_text()
    argv = service["ExecStart"].split()
    assert argv[0] == "/opt/watchkeeper/bin/watchkeeper"
    assert '-m venv "$venv"' in script and "venv=/opt/watchkeeper" in script
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"
    assert str(args.config) == "/etc/watchkeeper/config.yaml"
    assert service["RestartPreventExitStatus"] == "2"  # a broken config is not retried
    assert service["StateDirectory"] == "watchkeeper"
    assert "/etc/watchkeeper/config.yaml" in script


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (PACKAGING / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_runtime_dependency_is_pinned_at_a_version_it_accepts() -> None:
    # The Debian package's venv installs requirements.txt exactly: a dependency missing
    # there is missing on every packaged host (the agent then fails on first use).
    project = tomllib.loads((PACKAGING.parent / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for line in project["dependencies"] + project["optional-dependencies"]["databases"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in packaging/requirements.txt"
        assert requirement.specifier.contains(pins[name]), (
            f"{requirement.name}=={pins[name]} does not satisfy {requirement.specifier}")
