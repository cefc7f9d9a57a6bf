"""The command line as a user meets it: exit codes and short messages, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import __version__
from tests.e2e.agent_process import REPO, cli

pytestmark = pytest.mark.slow

GOOD = """
agent:
  state_dir: {state}
channels:
  log: [log://]
checks:
  - name: mem
    kind: memory
    thresholds:
      used_percent: {warn: "> 101"}
  - name: root
    kind: disk
    path: /
"""


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(text.replace("{state}", str(tmp / "state")))
    return path


def test_validate_accepts_a_good_config(tmp_path: Path) -> None:
    out = cli("validate", "-c", str(_write(tmp_path, GOOD)))
    assert out.returncode == 0, out.stderr
    assert "OK (2 checks, 1 channel," in out.stdout


def test_the_example_config_is_valid() -> None:
    out = cli("validate", "-c", str(REPO / "config.example.yaml"))
    assert out.returncode == 0, out.stderr


BAD = [
    pytest.param("checks:\n  - name: a\n    kind: [cpu\n", ["invalid YAML", "line 3"],
                 id="malformed-yaml"),
    pytest.param("checks:\n  - kind: dsik\n", ["config.yaml:2", "checks[0].kind",
                                               "did you mean 'disk'"], id="unknown-kind"),
    pytest.param("agent:\n  interval: soon\n  max_concurrency: many\n",
                 ["config.yaml:2: agent.interval", "config.yaml:3: agent.max_concurrency"],
                 id="wrong-types"),
    pytest.param("channels:\n  ops: ['json://${NO_SUCH_VAR_FOR_TEST}@127.0.0.1/x']\n",
                 ["config.yaml:2", "NO_SUCH_VAR_FOR_TEST"], id="missing-env-var"),
    pytest.param("channels:\n  ops: ['nosuchservice://user:hunter2secret@127.0.0.1/']\n",
                 ["channels.ops", "config.yaml:2"], id="invalid-apprise-url"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_config_exits_2_naming_the_place(tmp_path: Path, text: str,
                                             expected: list[str]) -> None:
    out = cli("validate", "-c", str(_write(tmp_path, text)))
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    for piece in expected:
        assert piece in out.stderr, out.stderr
    assert "hunter2secret" not in out.stderr + out.stdout


def test_run_refuses_a_bad_config_the_same_way(tmp_path: Path) -> None:
    out = cli("run", "-c", str(_write(tmp_path, "checks:\n  - kind: dsik\n")))
    assert out.returncode == 2
    assert "did you mean 'disk'" in out.stderr and "Traceback" not in out.stderr


def test_an_unusable_state_directory_exits_2_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  state_dir: {blocker / 'state'}\nchecks:\n  - kind: memory\n")
    out = cli("run", "-c", str(config), timeout=30)
    assert out.returncode == 2, out.stderr
    assert str(blocker / "state") in out.stderr
    assert "Traceback" not in out.stderr


READING_COMMANDS = [["status"], ["baseline"], ["uptime"], ["incidents"], ["report"],
                    ["silence", "list"], ["status-page", "--out", "{tmp}/site"]]


@pytest.mark.parametrize("state", ["file", "below-a-file"])
@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_reading_commands_on_a_state_dir_that_is_a_file_exit_2_naming_it(
        tmp_path: Path, args: list[str], state: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    state_dir = blocker if state == "file" else blocker / "state"
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  state_dir: {state_dir}\n"
                      "checks:\n  - kind: memory\n    public: true\n")
    out = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args], "-c", str(config))
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "no state yet" not in out.stdout + out.stderr
    assert f"{blocker} is not a directory" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_reading_commands_before_the_first_run_exit_0(tmp_path: Path,
                                                      args: list[str]) -> None:
    """A state directory the agent has not created yet is no error: nothing to show."""
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  state_dir: {tmp_path / 'not-yet' / 'state'}\n"
                      "checks:\n  - kind: memory\n    public: true\n")
    out = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args], "-c", str(config))
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert not (tmp_path / "not-yet").exists()


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    out = cli("validate", "-c", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2
    assert "nope.yaml" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(("args", "code"), [
    (["frobnicate"], 2), (["validate", "--no-such-flag"], 2), ([], 2),
    (["check", "--no-such-flag"], 3),  # as Nagios plugins do: UNKNOWN, never CRITICAL
])
def test_bad_arguments_exit_with_one_short_line(args: list[str], code: int) -> None:
    out = cli(*args)
    assert out.returncode == code
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_version() -> None:
    out = cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"watchkeeper {__version__}"


def test_check_prints_a_table_and_exits_with_the_worst_status(tmp_path: Path) -> None:
    out = cli("check", "-c", str(_write(tmp_path, GOOD)))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "KIND", "STATUS", "SUMMARY"]
    assert any(line.startswith("mem ") and " OK " in line for line in lines)
    assert any("used_percent{mount=/} = " in line for line in lines)
    assert any("free_bytes{mount=/} = " in line and "iB" in line for line in lines)

    failing = GOOD.replace('"> 101"', '"> 0"')
    out = cli("check", "-c", str(_write(tmp_path, failing)), "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "warning"
    mem = next(c for c in report["checks"] if c["check"] == "mem")
    assert mem["status"] == "warning" and mem["problems"]


def test_check_on_the_example_config_runs_every_check() -> None:
    out = cli("check", "-c", str(REPO / "config.example.yaml"), "--json")
    assert out.returncode in (0, 1, 2), out.stderr
    report = json.loads(out.stdout)
    assert {c["check"] for c in report["checks"]} >= {"cpu", "memory", "load", "disks"}
    assert all(c["status"] != "unknown" for c in report["checks"]), report


def test_check_creates_and_changes_nothing_in_the_state_directory(tmp_path: Path) -> None:
    """Run as root before the service's first start, ``check`` must not leave a state the
    agent's user cannot write; after a run it reads the state without touching it."""
    config = _write(tmp_path, GOOD)
    assert cli("check", "-c", str(config)).returncode in (0, 1, 2)
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())
    from agent.store import Store

    Store.open(tmp_path / "state").close()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "state").iterdir()}
    assert cli("check", "-c", str(config)).returncode in (0, 1, 2)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "state").iterdir()}
    assert after == before


NOT_UTF8 = "\udcff"  # the byte 0xff as Python passes it on (surrogateescape)


@pytest.mark.parametrize("args", [
    pytest.param(["silence", "add", NOT_UTF8, "--for", "1h"], id="silence-match-not-utf8"),
    pytest.param(["silence", "add", "mem", "--for", "1h", "--reason", "x" + NOT_UTF8],
                 id="silence-reason-not-utf8"),
    pytest.param(["silence", "add", "mem", "--for", "1h", "--reason", "r" * 2001],
                 id="silence-reason-too-long"),
    pytest.param(["silence", "remove", "9" * 30], id="silence-id-past-int64"),
    pytest.param(["ack", "a" * 201], id="ack-id-too-long"),
    pytest.param(["ack", ""], id="ack-id-empty"),
    pytest.param(["ack", "x", "--comment", "c" * 2001], id="ack-comment-too-long"),
    pytest.param(["unack", "x", "--by", "b" * 201], id="unack-by-too-long"),
    pytest.param(["incidents", "--check", NOT_UTF8], id="incidents-check-not-utf8"),
    pytest.param(["incident", "show", NOT_UTF8], id="incident-id-not-utf8"),
    pytest.param(["status-page", "--out", "{tmp}/site", "--title", NOT_UTF8],
                 id="status-page-title-not-utf8"),
    pytest.param(["ping", NOT_UTF8, "--url", "http://127.0.0.1:9"], id="ping-name-not-utf8"),
    pytest.param(["ping", "job", "--url", "http://[::1"], id="ping-url-unclosed-ipv6"),
    pytest.param(["ping", "job", "--url", "http://127.0.0.1:9", "--timeout", "inf"],
                 id="ping-timeout-inf"),
])
def test_odd_arguments_are_one_short_usage_line(tmp_path: Path, args: list[str]) -> None:
    # A public check, and a store holding a silence (some of these fail only on a query).
    config = _write(tmp_path, GOOD.replace("path: /", "path: /\n    public: true"))
    assert cli("silence", "add", "mem", "--for", "1h", "-c", str(config)).returncode == 0
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = cli(*args, "-c", str(config), timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize(("args", "shown"), [
    pytest.param(["ack", "x", "--comment", "on it\x1b[2J"], "\\x1b", id="ack-comment-escape"),
    pytest.param(["ack", "x", "--by", "me\nPROBLEM: forged"], "\\n", id="ack-by-newline"),
    pytest.param(["unack", "x", "--by", "me\r"], "\\r", id="unack-by-carriage-return"),
])
def test_an_ack_text_with_control_characters_is_refused_naming_it(
        tmp_path: Path, args: list[str], shown: str) -> None:
    out = cli(*args, "-c", str(_write(tmp_path, GOOD)))
    assert out.returncode == 2, out.stderr
    assert f"holds the control character {shown};" in out.stderr
    assert "\x1b" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["maintenance", "--count", "0"], "--count: expected a number from 1 to 50, "
                 "got '0'", id="maintenance-count-0"),
    pytest.param(["maintenance", "--count", "51"], "expected a number from 1 to 50",
                 id="maintenance-count-51"),
    pytest.param(["incidents", "--check", "nosuch"], "no check is named 'nosuch'",
                 id="incidents-unknown-check"),
    pytest.param(["uptime", "--check", "nosuch"], "no check is named 'nosuch'",
                 id="uptime-unknown-check"),
    pytest.param(["silence", "add", "mem", "--for", "-1h"], "--for: -1h is negative",
                 id="silence-for-negative"),
    pytest.param(["silence", "add", "mem", "--for=-1h"], "--for: -1h is negative",
                 id="silence-for-negative-joined"),
])
def test_a_bad_value_is_one_line_saying_what_is_wrong(tmp_path: Path, args: list[str],
                                                      message: str) -> None:
    out = cli(*args, "-c", str(_write(tmp_path, GOOD)))
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and len(out.stderr) < 200, out.stderr
    assert not (tmp_path / "state").exists()


def test_incidents_of_a_check_removed_from_the_config_are_still_listed(
        tmp_path: Path) -> None:
    from agent.incidents.record import Incident
    from agent.model import Status
    from agent.store import Store, writes

    config = _write(tmp_path, GOOD)
    gone = Incident(id="inc-gone", host="h", check="gone", metric="status", key="h/gone/status",
                    opened_at=1e9, first_bad_at=1e9, severity=Status.CRITICAL,
                    worst=Status.CRITICAL, resolved_at=1e9 + 60)
    with Store.open(tmp_path / "state") as store:
        store.submit(writes.incident(gone))
    out = cli("incidents", "--check", "gone", "--since", "30d", "-c", str(config))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no incidents in the last 30d"


def test_a_token_file_a_header_cannot_hold_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("two\nlines\n")
    out = cli("ping", "job", "--url", "http://127.0.0.1:9", "--token-file", str(token))
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 1
    assert "two" not in out.stderr and "lines" not in out.stderr
