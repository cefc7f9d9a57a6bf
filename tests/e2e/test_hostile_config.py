"""Hostile config files through the real command line: exit 2 and a message, nothing else.

``watchkeeper validate`` and ``watchkeeper run`` (which must refuse to start) run as real
processes on each file of ``tests/config/hostile_cases.py``. Each exits 2 with the
one-line summary and the issue at ``file:line``, never a traceback. The subprocess
timeout only guards against a hang (the FIFO, /dev/zero, an alias bomb); it is no
measure of speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.hostile_cases import Hostile, params, write_case
from tests.e2e.agent_process import cli

pytestmark = pytest.mark.slow

#: A hang guard, far above what any of these takes.
HANG_GUARD = 120.0


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", params())
def test_a_hostile_file_exits_2_with_its_issue(tmp_path: Path, case: Hostile,
                                               command: str) -> None:
    path = write_case(tmp_path, case)
    out = cli(command, "-c", str(path), timeout=HANG_GUARD)
    assert out.returncode == 2, (out.stdout, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("watchkeeper: invalid configuration (1 problem):"), out.stderr
    where = f"{path}:{case.line}: " if case.line is not None else f"{path}: "
    assert where in out.stderr, out.stderr
    assert case.words in out.stderr, out.stderr


SECRET = "hunter22secret"

LEAKS = [
    pytest.param(f"    proxy: user:{SECRET}@proxy.example:3128\n", id="proxy-without-scheme"),
    pytest.param(f"    proxy: socks5://user:{SECRET}@proxy.example:1080\n",
                 id="proxy-other-scheme"),
    pytest.param(f"    proxy: 'http://user:{SECRET}@proxy example:3128'\n", id="proxy-with-space"),
    pytest.param(f"    bearer_token: [{SECRET}]\n", id="bearer-token-not-text"),
    pytest.param(f"    basic_auth: {{username: u, password: [{SECRET}]}}\n",
                 id="basic-password-not-text"),
    pytest.param(f"    basic_auth: {{username: u, password: {SECRET}, extra: 1}}\n",
                 id="basic-auth-unknown-key"),
    pytest.param(f"    url: htp://user:{SECRET}@127.0.0.1/\n", id="credentials-in-a-bad-url"),
]


@pytest.mark.parametrize("option", LEAKS)
def test_validate_never_prints_a_password_it_refuses(tmp_path: Path, option: str) -> None:
    text = (f"agent:\n  state_dir: {tmp_path / 'state'}\nchannels:\n  log: [log://]\n"
            "checks:\n  - name: web\n    kind: http\n")
    line = 8
    if "url:" not in option:
        text += "    url: http://127.0.0.1:9/\n"
        line = 9
    path = tmp_path / "config.yaml"
    path.write_text(text + option)
    out = cli("validate", "-c", str(path), timeout=HANG_GUARD)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert f"{path}:{line}: checks[0]" in out.stderr, out.stderr
    assert SECRET not in out.stderr + out.stdout
