"""The packaging files agree with each other and with the command line."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

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
