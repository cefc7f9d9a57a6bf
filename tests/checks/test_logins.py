"""The logins check on auth logs the tests write (rotation, truncation and restarts
included), on journal output, and the OpenSSH line rules it counts by."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.model import CheckResult, Status
from agent.programs import Output
from checks.logins.authlog import (
    AttemptCounter,
    SshEvent,
    SshEventKind,
    parse_message,
    parse_syslog_line,
)
from checks.logins.check import LoginsCheck, LoginsOptions, Source, permission_fix
from checks.logins.journaltail import JournalPosition, journal_argv, parse_entries
from checks.logins.logtail import LogPosition, read_new

ATTACKER = "203.0.113.9"
OTHER = "198.51.100.2"
HOME = "192.0.2.10"


def ctx(memory: dict[str, Any]) -> CheckContext:
    return CheckContext(check_name="logins", host="testhost", timeout=5.0, memory=memory)


def line(msg: str, pid: int = 4242, prog: str = "sshd") -> str:
    return f"Jan  5 10:22:33 web1 {prog}[{pid}]: {msg}\n"


def failed(src: str = ATTACKER, user: str = "root", pid: int = 4242) -> str:
    return line(f"Failed password for {user} from {src} port 51234 ssh2", pid)


def accepted(src: str, user: str = "alice", pid: int = 5000) -> str:
    return line(f"Accepted publickey for {user} from {src} port 40022 ssh2: "
                "ED25519 SHA256:Zm9vYmFy", pid)


def noise(n: int = 1) -> str:
    return "".join(line(f"Received disconnect from {OTHER} port 1: 11: Bye [preauth]", 9)
                   for _ in range(n))


class AuthLog:
    """An auth log the test writes to, and a logins check reading it with one memory."""

    def __init__(self, folder: Path, **options: Any) -> None:
        self.path = folder / "auth.log"
        self.path.write_text(noise(3))
        self.memory: dict[str, Any] = {}
        self.options = {"source": "file", "path": str(self.path), **options}
        self.check = self.new_check()

    def new_check(self) -> LoginsCheck:
        return LoginsCheck("logins", LoginsOptions.model_validate(self.options))

    def write(self, *lines: str) -> None:
        with self.path.open("a") as fh:
            fh.write("".join(lines))

    async def run(self) -> CheckResult:
        return await self.check.run(ctx(self.memory))

    async def start(self) -> CheckResult:
        first = await self.run()
        assert first.summary.startswith("first run: started at the end of")
        return first


@pytest.fixture
def log(tmp_path: Path) -> AuthLog:
    return AuthLog(tmp_path)


def test_kind_is_registered_as_entry_point() -> None:
    assert load_kind("logins") is LoginsCheck


# --- OpenSSH lines -----------------------------------------------------------------------

E = SshEventKind


@pytest.mark.parametrize(("message", "expected"), [
    ("Failed password for root from 203.0.113.9 port 51234 ssh2",
     (E.FAILED, "root", "203.0.113.9", "password")),
    ("Failed password for invalid user admin from 203.0.113.9 port 51234 ssh2",
     (E.FAILED, "admin", "203.0.113.9", "password")),
    ("Failed publickey for bob from 2001:db8::7 port 22 ssh2: RSA SHA256:abc",
     (E.FAILED, "bob", "2001:db8::7", "publickey")),
    ("Failed keyboard-interactive/pam for invalid user x from ::ffff:203.0.113.9 port 2 ssh2",
     (E.FAILED, "x", "203.0.113.9", "keyboard-interactive/pam")),
    ("Failed none for invalid user oracle from 203.0.113.9 port 3 ssh2",
     (E.FAILED, "oracle", "203.0.113.9", "none")),
    ("Invalid user admin from 203.0.113.9 port 51234", (E.INVALID_USER, "admin", ATTACKER, "")),
    ("Invalid user admin from 203.0.113.9", (E.INVALID_USER, "admin", ATTACKER, "")),
    ("Invalid user  from 203.0.113.9 port 4", (E.INVALID_USER, "", ATTACKER, "")),
    ("User root from 203.0.113.9 not allowed because not listed in AllowUsers",
     (E.INVALID_USER, "root", ATTACKER, "")),
    ("Connection closed by authenticating user root 203.0.113.9 port 5 [preauth]",
     (E.GAVE_UP, "root", ATTACKER, "")),
    ("Disconnected from invalid user test 203.0.113.9 port 6 [preauth]",
     (E.GAVE_UP, "test", ATTACKER, "")),
    ("Accepted publickey for alice from 192.0.2.10 port 40022 ssh2: ED25519 SHA256:Zm9v",
     (E.ACCEPTED, "alice", HOME, "publickey")),
    ("Accepted password for bob from 192.0.2.10 port 40022 ssh2",
     (E.ACCEPTED, "bob", HOME, "password")),
    # A user name chosen to blame another address: the last "from IP port N" wins.
    ("Failed password for invalid user x from 6.6.6.6 port 1 ssh2 from 203.0.113.9 port 7 ssh2",
     (E.FAILED, "x from 6.6.6.6 port 1 ssh2", ATTACKER, "password")),
    ("Invalid user y from 6.6.6.6 port 1 from 203.0.113.9 port 8",
     (E.INVALID_USER, "y from 6.6.6.6 port 1", ATTACKER, "")),
    ("Connection closed by invalid user z 6.6.6.6 port 1 203.0.113.9 port 9 [preauth]",
     (E.GAVE_UP, "z 6.6.6.6 port 1", ATTACKER, "")),
])
def test_counted_openssh_lines_are_recognised(
        message: str, expected: tuple[SshEventKind, str, str, str]) -> None:
    event = parse_message(message, 7)
    assert event is not None
    assert (event.kind, event.user, event.source, event.method) == expected


@pytest.mark.parametrize("message", [
    "error: maximum authentication attempts exceeded for root from 203.0.113.9 port 5 ssh2 "
    "[preauth]",
    "Disconnecting authenticating user root 203.0.113.9 port 5: Too many authentication "
    "failures [preauth]",
    "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
    "rhost=203.0.113.9  user=root",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
    "rhost=203.0.113.9  user=root",
    "error: PAM: Authentication failure for root from 203.0.113.9",
    "Connection closed by 203.0.113.9 port 41234 [preauth]",
    "Received disconnect from 203.0.113.9 port 41234:11: Bye Bye [preauth]",
    "ROOT LOGIN REFUSED FROM 203.0.113.9 port 22",
    "Server listening on 0.0.0.0 port 22.",
])
def test_lines_that_repeat_an_attempt_are_not_events(message: str) -> None:
    assert parse_message(message, 7) is None


@pytest.mark.parametrize(("text", "pid"), [
    ("Jan  5 10:22:33 web1 sshd[4242]: Failed password for root from 203.0.113.9 port 1 ssh2",
     4242),
    ("Dec 24 23:59:59 web1 sshd[7]: Failed password for root from 203.0.113.9 port 1 ssh2", 7),
    ("2024-01-15T10:22:33.123456+00:00 web1 sshd[99]: Failed password for root from "
     "203.0.113.9 port 1 ssh2", 99),
    ("2024-01-15T10:22:33+0000 web1 sshd-session[12]: Failed password for root from "
     "203.0.113.9 port 1 ssh2", 12),
])
def test_syslog_prefixes_are_understood(text: str, pid: int) -> None:
    event = parse_syslog_line(text)
    assert event is not None and event.pid == pid and event.source == ATTACKER


@pytest.mark.parametrize("text", [
    # anyone can write this with logger: the tag after the host is "alice", not sshd
    "Jan  5 10:22:33 web1 alice: sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2",
    "Jan  5 10:22:33 web1 sudo[1]: Failed password for root from 203.0.113.9 port 1 ssh2",
    "Failed password for root from 203.0.113.9 port 1 ssh2",
    "",
    "\x00\x00garbage",
])
def test_lines_not_from_sshd_are_ignored(text: str) -> None:
    assert parse_syslog_line(text) is None


def ev(kind: SshEventKind, pid: int = 1, method: str = "password",
       src: str = ATTACKER) -> SshEvent:
    return SshEvent(kind, pid, "u", src, method if kind is E.FAILED else "")


@pytest.mark.parametrize(("events", "count"), [
    # password brute force on a real account: one per Failed line
    ([ev(E.FAILED)] * 6, 6),
    # invalid user trying two passwords: "Invalid user" and the first Failed are one try
    ([ev(E.INVALID_USER), ev(E.FAILED, method="none"), ev(E.FAILED), ev(E.FAILED),
      ev(E.GAVE_UP)], 2),
    # invalid user on a key-only server: the Invalid user line is the one attempt
    ([ev(E.INVALID_USER), ev(E.FAILED, method="none"), ev(E.GAVE_UP)], 1),
    # keys offered and refused (logged at VERBOSE only), then the client gave up
    ([ev(E.GAVE_UP)], 1),
    ([ev(E.FAILED, method="publickey"), ev(E.GAVE_UP)], 1),
    # a user not allowed in, who typed a password
    ([ev(E.INVALID_USER), ev(E.FAILED)], 1),
    # a typo, then success
    ([ev(E.FAILED), ev(E.ACCEPTED)], 1),
    # two connections interleaved, told apart by sshd's pid
    ([ev(E.INVALID_USER, 1), ev(E.INVALID_USER, 2), ev(E.FAILED, 1), ev(E.FAILED, 2),
      ev(E.GAVE_UP, 1), ev(E.GAVE_UP, 2)], 2),
    # a pid reused after its connection ended starts afresh
    ([ev(E.FAILED, 1), ev(E.GAVE_UP, 1), ev(E.GAVE_UP, 1)], 2),
])
def test_each_failed_attempt_counts_once(events: list[SshEvent], count: int) -> None:
    assert AttemptCounter().tally(events).failed_total == count


def test_connection_split_across_runs_counts_once() -> None:
    counter = AttemptCounter()
    assert counter.tally([ev(E.INVALID_USER)]).failed_total == 1
    assert counter.tally([ev(E.FAILED), ev(E.GAVE_UP)]).failed_total == 0


# --- the check on a file -----------------------------------------------------------------

async def test_first_run_only_records_the_end_of_the_file(log: AuthLog) -> None:
    log.write(failed(), accepted(HOME))
    size = log.path.stat().st_size
    result = await log.run()
    assert result.status is Status.OK
    assert result.summary == (f"first run: started at the end of {log.path} ({size} B already "
                              "there is not counted)")
    assert result.metrics == {"failed_logins": 0, "new_source_logins": 0}
    assert log.memory["file"]["offset"] == size
    assert log.memory["file"]["inode"] == log.path.stat().st_ino
    assert "seen_sources" not in log.memory


async def test_failed_logins_are_counted_and_top_sources_named(log: AuthLog) -> None:
    await log.start()
    log.write(*[failed(pid=100 + i) for i in range(30)], *[failed(OTHER, pid=200 + i)
                                                            for i in range(7)], noise(5))
    result = await log.run()
    assert result.status is Status.OK
    assert result.summary == ("37 failed SSH logins, most from 203.0.113.9 (30), "
                              "198.51.100.2 (7)")
    assert result.metrics == {"failed_logins": 37, "new_source_logins": 0}
    again = await log.run()
    assert again.summary == "no failed SSH logins"
    assert again.metrics["failed_logins"] == 0


async def test_logins_from_new_sources_are_counted_once_each(log: AuthLog) -> None:
    await log.start()
    log.write(accepted(HOME, pid=1), accepted(HOME, pid=2))
    first = await log.run()
    assert first.metrics == {"failed_logins": 0, "new_source_logins": 1}
    assert first.summary == "no failed SSH logins; 1 login from a new source: alice from " \
                            "192.0.2.10"
    log.write(accepted(HOME, pid=3), accepted("2001:db8::5", user="bob", pid=4))
    second = await log.run()
    assert second.metrics["new_source_logins"] == 1
    assert "bob from 2001:db8::5" in second.summary and HOME not in second.summary


async def test_seen_sources_are_bounded_to_the_most_recent(tmp_path: Path) -> None:
    log = AuthLog(tmp_path, remember_sources=2)
    await log.start()
    for src in ("192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3"):
        log.write(accepted(src))
        await log.run()
    assert log.memory["seen_sources"] == ["192.0.2.1", "192.0.2.3"]
    log.write(accepted("192.0.2.2"))  # pushed out, so new again
    assert (await log.run()).metrics["new_source_logins"] == 1


async def test_restart_goes_on_from_the_remembered_position(log: AuthLog) -> None:
    await log.start()
    log.write(failed(), failed())
    assert (await log.run()).metrics["failed_logins"] == 2
    log.write(failed(OTHER))
    log.check = log.new_check()  # the agent restarted; its memory was persisted
    result = await log.run()
    assert result.metrics["failed_logins"] == 1
    assert result.summary == "1 failed SSH login, from 198.51.100.2"


async def test_line_still_being_written_waits_for_its_end(log: AuthLog) -> None:
    await log.start()
    whole = failed()
    log.write(failed(OTHER), whole[:30])
    assert (await log.run()).metrics["failed_logins"] == 1
    log.write(whole[30:])
    result = await log.run()
    assert result.metrics["failed_logins"] == 1
    assert ATTACKER in result.summary


async def test_rotation_by_rename_finishes_the_old_file_then_reads_the_new(
        log: AuthLog) -> None:
    await log.start()
    log.write(failed(pid=1))
    assert (await log.run()).metrics["failed_logins"] == 1
    log.write(failed(pid=2), failed(pid=3))  # written after the last run, before rotation
    log.path.rename(log.path.with_name("auth.log.1"))
    log.path.write_text(failed(OTHER, pid=4))
    result = await log.run()
    assert result.metrics["failed_logins"] == 3
    assert result.summary == (f"3 failed SSH logins, most from 203.0.113.9 (2), 198.51.100.2 "
                              f"(1) ({log.path} was rotated)")
    assert log.memory["file"]["inode"] == log.path.stat().st_ino
    log.write(failed(OTHER, pid=5))
    assert (await log.run()).metrics["failed_logins"] == 1


async def test_rotation_while_the_new_file_is_not_there_yet(log: AuthLog) -> None:
    await log.start()
    log.write(failed(pid=1))
    rotated = log.path.with_name("auth.log.1")
    log.path.rename(rotated)
    assert (await log.run()).metrics["failed_logins"] == 1
    log.path.write_text(failed(OTHER, pid=2))
    assert (await log.run()).metrics["failed_logins"] == 1


async def test_compressed_rotated_file_is_ignored(log: AuthLog) -> None:
    await log.start()
    log.write(failed(pid=1), failed(pid=2))
    old = log.path.read_bytes()
    log.path.unlink()
    # logrotate without delaycompress: the old file lives on only gzip-compressed.
    log.path.with_name("auth.log.1").write_bytes(gzip.compress(old))
    log.path.with_name("auth.log.1.gz").write_bytes(gzip.compress(old))
    log.path.write_text(failed(OTHER, pid=3))
    result = await log.run()
    assert result.metrics["failed_logins"] == 1
    assert "the rotated file" in result.summary and "was not found" in result.summary


async def test_copytruncate_reads_the_file_again_from_its_start(log: AuthLog) -> None:
    await log.start()
    log.write(noise(20))
    await log.run()
    shutil.copy(log.path, log.path.with_name("auth.log.1"))
    with log.path.open("r+") as fh:
        fh.truncate(0)
    log.write(failed(pid=1))
    result = await log.run()
    assert result.metrics["failed_logins"] == 1
    assert f"{log.path} was truncated, read again from its start" in result.summary


async def test_truncated_and_refilled_past_the_old_offset_is_noticed(log: AuthLog) -> None:
    await log.start()
    offset = log.path.stat().st_size
    with log.path.open("r+") as fh:
        fh.truncate(0)
    log.write(*[failed(pid=i) for i in range(10)])  # more than before, same inode
    assert log.path.stat().st_size > offset
    result = await log.run()
    assert result.metrics["failed_logins"] == 10
    assert "was truncated" in result.summary


async def test_reading_is_capped_and_the_rest_read_next_run(tmp_path: Path) -> None:
    log = AuthLog(tmp_path, max_read="4KiB")
    await log.start()
    log.write(*[failed(pid=i) for i in range(60)])  # about 5 KB
    first = await log.run()
    assert "read capped at 4 KiB" in first.summary and "left for the next run" in first.summary
    second = await log.run()
    assert "capped" not in second.summary
    assert first.metrics["failed_logins"] + second.metrics["failed_logins"] == 60


async def test_cap_holds_across_a_rotation(tmp_path: Path) -> None:
    log = AuthLog(tmp_path, max_read=4096)
    await log.start()
    log.write(*[failed(pid=i) for i in range(100)])
    log.path.rename(log.path.with_name("auth.log.1"))
    log.path.write_text("".join(failed(OTHER, pid=1000 + i) for i in range(10)))
    counts = []
    for _ in range(4):
        result = await log.run()
        counts.append(int(result.metrics["failed_logins"]))
    assert sum(counts) == 110
    assert counts[-1] == 0


async def test_a_changed_path_starts_afresh(tmp_path: Path) -> None:
    log = AuthLog(tmp_path)
    await log.start()
    other = tmp_path / "secure"
    other.write_text(failed())
    log.options["path"] = str(other)
    log.check = log.new_check()
    result = await log.run()
    assert result.summary.startswith(f"first run: started at the end of {other}")


async def test_missing_log_file_is_unknown(tmp_path: Path) -> None:
    check = LoginsCheck("l", LoginsOptions(source=Source.FILE, path=tmp_path / "auth.log"))
    result = await check.run(ctx({}))
    assert result.status is Status.UNKNOWN
    assert result.summary == (f"auth log {tmp_path / 'auth.log'} does not exist (set path: "
                              "/var/log/secure on RHEL, or source: journal)")


def test_permission_fix_names_the_group_or_an_acl(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    log.chmod(0o640)
    assert "add the agent's user to group" in permission_fix(log)
    log.chmod(0o600)
    assert "setfacl -m u:" in permission_fix(log) and str(log) in permission_fix(log)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="wk-logins-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the check as another user")
def test_unreadable_auth_log_is_unknown_and_names_the_fix(world_dir: Path) -> None:
    log = world_dir / "auth.log"
    log.write_text(failed())
    os.chown(log, 0, 4)  # root:adm, as on Debian
    log.chmod(0o640)
    script = textwrap.dedent(f"""
        import asyncio
        from agent.check import CheckContext
        from checks.logins.check import LoginsCheck, LoginsOptions
        check = LoginsCheck("l", LoginsOptions(path="{log}"))
        ctx = CheckContext(check_name="l", host="h", timeout=5)
        result = asyncio.run(check.run(ctx))
        print(result.status.value, result.summary, sep="|")
    """)
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
         "-c", script], capture_output=True, text=True, timeout=30,
        cwd=Path(__file__).parents[2], check=False)
    assert proc.returncode == 0, proc.stderr
    status, summary = proc.stdout.strip().split("|")
    assert status == "unknown"
    assert summary.startswith(f"cannot read {log}: permission denied; add the agent's user to "
                              "group ")
    assert "usermod -aG" in summary and "nobody" in summary


# --- source selection --------------------------------------------------------------------

async def test_auto_source_uses_the_file_when_it_exists(log: AuthLog) -> None:
    check = LoginsCheck("l", LoginsOptions(path=log.path), which=lambda _: "/bin/journalctl")
    result = await check.run(ctx({}))
    assert str(log.path) in result.summary


async def test_auto_source_without_file_or_journalctl_is_unknown(tmp_path: Path) -> None:
    check = LoginsCheck("l", LoginsOptions(path=tmp_path / "secure"), which=lambda _: None)
    result = await check.run(ctx({}))
    assert result.status is Status.UNKNOWN
    assert result.summary == (f"{tmp_path / 'secure'} does not exist and journalctl is not "
                              "installed: set path to the auth log (/var/log/secure on RHEL)")


@pytest.mark.parametrize(("options", "message"), [
    ({"path": "auth.log"}, "path must be absolute"),
    ({"source": "syslog"}, "source"),
    ({"max_read": "1kB"}, "greater than or equal to 4096"),
    ({"journal_units": []}, "journal_units must name"),
    ({"journal_units": ["--all"]}, "journal_units must name"),
    ({"remember_sources": 0}, "greater than or equal to 1"),
    ({"since": "1h"}, "Extra inputs are not permitted"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LoginsOptions.model_validate(options)


# --- the journal -------------------------------------------------------------------------

def entry(n: int, message: str, ident: str = "sshd", pid: int = 4242) -> str:
    return json.dumps({"__CURSOR": f"s=abc;i={n:x}", "SYSLOG_IDENTIFIER": ident,
                       "_PID": str(pid), "_SYSTEMD_UNIT": "ssh.service",
                       "MESSAGE": message}) + "\n"


class Journal:
    """A journalctl stand-in: answers with the next queued output and keeps each argv."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.calls: list[list[str]] = []

    def queue(self, text: str = "", *, stderr: str = "", code: int = 0,
              capped: bool = False) -> None:
        self.outputs.append(Output(code, text.encode(), stderr.encode(), capped))

    async def __call__(self, argv: Sequence[str], timeout: float, cap: int) -> Output:
        self.calls.append(list(argv))
        return self.outputs.pop(0)


def journal_check(journal: Journal) -> LoginsCheck:
    return LoginsCheck("l", LoginsOptions(source=Source.JOURNAL),
                       journal_runner=journal)


async def test_journal_first_run_records_the_last_cursor_then_reads_after_it() -> None:
    journal = Journal()
    journal.queue(entry(1, "Failed password for root from 203.0.113.9 port 1 ssh2"))
    journal.queue(entry(2, "Failed password for root from 203.0.113.9 port 1 ssh2")
                  + entry(3, "Started ssh.service", ident="systemd", pid=1)
                  + entry(4, "Accepted publickey for alice from 192.0.2.10 port 2 ssh2",
                          ident="sshd-session", pid=77))
    memory: dict[str, Any] = {}
    check = journal_check(journal)
    first = await check.run(ctx(memory))
    assert first.summary == ("first run: started at the end of the journal (earlier entries "
                             "are not counted)")
    assert first.metrics["failed_logins"] == 0
    assert journal.calls[0] == ["journalctl", "--no-pager", "-o", "json",
                                "-u", "ssh", "-u", "sshd", "-n", "1"]
    assert memory["journal"]["cursor"] == "s=abc;i=1"
    second = await check.run(ctx(memory))
    assert journal.calls[1][-1] == "--after-cursor=s=abc;i=1"
    assert second.metrics == {"failed_logins": 1, "new_source_logins": 1}
    assert memory["journal"]["cursor"] == "s=abc;i=4"


async def test_empty_journal_goes_on_since_the_first_run() -> None:
    journal = Journal()
    journal.queue("")
    journal.queue("")
    memory: dict[str, Any] = {}
    check = journal_check(journal)
    await check.run(CheckContext("l", "h", 5.0, memory=memory))
    since = memory["journal"]["since"]
    await check.run(ctx(memory))
    assert journal.calls[1][-1] == f"--since=@{int(since)}"


@pytest.mark.parametrize("stderr", [
    "No journal files were opened due to insufficient permissions.",
    "Hint: You are currently not seeing messages from other users and the system.\n"
    "      Users in groups 'adm', 'systemd-journal' can see all messages.",
])
async def test_journal_without_access_is_unknown_with_the_fix(stderr: str) -> None:
    journal = Journal()
    journal.queue(stderr=stderr)
    result = await journal_check(journal).run(ctx({}))
    assert result.status is Status.UNKNOWN
    assert "add the agent's user to group systemd-journal" in result.summary


async def test_journal_cursor_that_no_longer_exists_starts_afresh() -> None:
    journal = Journal()
    journal.queue(stderr="Failed to seek to cursor: Invalid argument", code=1)
    memory: dict[str, Any] = {"journal": {"cursor": "s=gone", "since": None}}
    result = await journal_check(journal).run(ctx(memory))
    assert result.summary.startswith("first run")
    assert "since" in memory["journal"] and memory["journal"]["cursor"] is None


async def test_capped_journal_read_resumes_after_the_last_whole_entry() -> None:
    journal = Journal()
    cut = entry(3, "Failed password for root from 203.0.113.9 port 1 ssh2")[:40]
    journal.queue(entry(1, "Failed password for root from 203.0.113.9 port 1 ssh2")
                  + entry(2, "Failed password for root from 198.51.100.2 port 1 ssh2")
                  + cut, capped=True)
    memory: dict[str, Any] = {"journal": {"cursor": "s=abc;i=0"}}
    result = await journal_check(journal).run(ctx(memory))
    assert result.metrics["failed_logins"] == 2
    assert "read capped at 16 MiB" in result.summary
    assert memory["journal"]["cursor"] == "s=abc;i=2"


def test_journal_entries_skip_other_programs_and_decode_byte_messages() -> None:
    data = (entry(1, "x", ident="sudo") + json.dumps({
        "__CURSOR": "c2", "SYSLOG_IDENTIFIER": "sshd", "_PID": "5",
        "MESSAGE": list(b"Failed password for root from 203.0.113.9 port 1 ssh2\xff")})
        + "\nnot json\n").encode()
    entries, cursor = parse_entries(data, capped=False)
    assert cursor == "c2"
    assert [(e.pid, e.message[:6]) for e in entries] == [(5, "Failed")]


def test_journal_argv_resumes_by_cursor_or_time() -> None:
    units = ("ssh", "sshd")
    assert journal_argv("jc", units, JournalPosition(cursor="c"))[-1] == "--after-cursor=c"
    assert journal_argv("jc", units, JournalPosition(since=1700000000.7))[-1] == \
        "--since=@1700000000"


async def test_real_journalctl_path_with_a_fake_program_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    first = tmp_path / "first.json"
    first.write_text(entry(1, "Server listening on 0.0.0.0 port 22."))
    later = tmp_path / "later.json"
    later.write_text(entry(2, "Invalid user admin from 203.0.113.9 port 3")
                     + entry(3, "Failed password for invalid user admin from 203.0.113.9 "
                                "port 3 ssh2")
                     + entry(4, "Failed password for invalid user admin from 203.0.113.9 "
                                "port 3 ssh2"))
    script = bindir / "journalctl"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf '%s\\n' "$@" >> "{tmp_path}/argv"
        case "$*" in
          *"-n 1"*) cat "{first}" ;;
          *) cat "{later}" ;;
        esac
    """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    memory: dict[str, Any] = {}
    check = LoginsCheck("l", LoginsOptions(source=Source.JOURNAL))
    await check.run(ctx(memory))
    result = await check.run(ctx(memory))
    assert result.summary == "2 failed SSH logins, all from 203.0.113.9"
    assert "--after-cursor=s=abc;i=1" in (tmp_path / "argv").read_text().splitlines()


async def test_auto_source_falls_back_to_the_journal(tmp_path: Path) -> None:
    journal = Journal()
    journal.queue("")
    check = LoginsCheck("l", LoginsOptions(path=tmp_path / "auth.log"),
                        journal_runner=journal, which=lambda _: "/usr/bin/journalctl")
    result = await check.run(ctx({}))
    assert "end of the journal" in result.summary
    assert journal.calls


# --- the position itself -----------------------------------------------------------------

def test_position_round_trips_and_refuses_junk(tmp_path: Path) -> None:
    pos = LogPosition(12, 34, "ab", 2)
    assert LogPosition.from_memory(pos.to_memory()) == pos
    junks: list[Any] = [None, [], {"inode": "x", "offset": 1}, {"inode": 1, "offset": -1}]
    for junk in junks:
        assert LogPosition.from_memory(junk) is None


def test_single_line_longer_than_the_cap_is_taken_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.write_bytes(b"")
    start = read_new(path, None, 100).position
    path.write_bytes(b"x" * 250 + b"\n")
    first = read_new(path, start, 100)
    assert (len(first.data), first.left) == (100, 151)
    second = read_new(path, first.position, 100)
    third = read_new(path, second.position, 100)
    assert first.data + second.data + third.data == b"x" * 250 + b"\n"
    assert third.left == 0


async def test_an_auth_log_that_blocks_is_unknown_and_leaves_the_shared_executor_free(
        tmp_path: Path) -> None:
    """A read that never returns (a FIFO under the log's name; a hung mount) ends the check
    as UNKNOWN within its timeout and holds no thread of the agent's shared executor."""
    fifo = tmp_path / "auth.log"
    os.mkfifo(fifo)
    check = LoginsCheck("logins", LoginsOptions.model_validate({"path": str(fifo)}))
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    short = CheckContext(check_name="logins", host="testhost", timeout=0.5, memory={})
    try:
        result = await asyncio.wait_for(check.run(short), 3)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 2) == 1
    finally:
        # A writer that comes and goes releases the blocked open with an end of file.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert result.status is Status.UNKNOWN
    assert result.summary == f"auth log {fifo} could not be read: no answer within 400ms"
