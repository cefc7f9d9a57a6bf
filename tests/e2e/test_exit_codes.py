"""The exit codes README promises, through the real command line.

``check`` speaks Nagios: 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN, and 3 when it cannot
check at all (bad usage, bad config), so a monitoring system never reads a typo as
CRITICAL. Every other command: 0 done, 1 failed, 2 bad usage or config.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.agent_process import cli

pytestmark = pytest.mark.slow


def _config(tmp: Path, exit_code: int | None = None, text: str | None = None) -> Path:
    path = tmp / "config.yaml"
    path.write_text(text if text is not None else f"""
agent:
  state_dir: {tmp / 'state'}
checks:
  - name: plugin
    kind: command
    command: [sh, -c, "echo 'plugin says {exit_code}'; exit {exit_code}"]
""")
    return path


BAD_CONFIG = "checks:\n  - kind: dsik\n"


def _case(id: str, args: list[str], config: dict[str, object] | None, code: int,
          error: bool = True) -> object:
    return pytest.param(args, config, code, error, id=id)


@pytest.mark.parametrize(("args", "config", "code", "error"), [
    _case("check-ok", ["check"], {"exit_code": 0}, 0, error=False),
    _case("check-warning", ["check"], {"exit_code": 1}, 1, error=False),
    _case("check-critical", ["check"], {"exit_code": 2}, 2, error=False),
    _case("check-unknown", ["check"], {"exit_code": 3}, 3, error=False),
    _case("check-bad-flag", ["check", "--no-such-flag"], {"exit_code": 0}, 3),
    _case("check-unknown-name", ["check", "no-such-check"], {"exit_code": 0}, 3),
    _case("check-bad-config", ["check"], {"text": BAD_CONFIG}, 3),
    _case("check-missing-config", ["check", "-c", "/nonexistent/config.yaml"], None, 3),
    _case("validate-ok", ["validate"], {"exit_code": 0}, 0, error=False),
    _case("validate-bad-flag", ["validate", "--no-such-flag"], {"exit_code": 0}, 2),
    _case("validate-bad-config", ["validate"], {"text": BAD_CONFIG}, 2),
    _case("status-bad-config", ["status"], {"text": BAD_CONFIG}, 2),
    _case("baseline-bad-flag", ["baseline", "--no-such-flag"], {"exit_code": 0}, 2),
    _case("silence-bad-duration", ["silence", "add", "plugin", "--for", "30s"],
          {"exit_code": 0}, 2),
    _case("notify-unknown-channel", ["notify", "test", "--channel", "nope"],
          {"exit_code": 0}, 2),
    _case("unknown-command", ["frobnicate"], None, 2),
    _case("no-command", [], None, 2),
])
def test_exit_code(tmp_path: Path, args: list[str], config: dict[str, object] | None,
                   code: int, error: bool) -> None:
    if config is not None:
        args = [*args, "-c", str(_config(tmp_path, **config))]  # type: ignore[arg-type]
    out = cli(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    # An error is one short message on stderr; a verdict is the table on stdout.
    assert out.stderr.startswith("watchkeeper: ") is error, out.stderr
