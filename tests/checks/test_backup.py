"""The backup check against real files in tmp_path (ages set with os.utime) and real
verify commands (``gzip -t`` on a good and a corrupt archive)."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.clock import FakeClock
from agent.config.loader import parse_config
from agent.errors import CheckError
from agent.model import AlertKey, CheckResult, Sample, Status
from agent.thresholds.static import evaluate
from checks.backup import BackupCheck, BackupOptions, command_text, fixed_dir

H = 3600.0
NOW = time.time()

needs_gzip = pytest.mark.skipif(shutil.which("gzip") is None, reason="gzip is not installed")


def put(path: Path, size: int, age_hours: float, data: bytes | None = None) -> Path:
    """A file of ``size`` bytes (or ``data``) last modified ``age_hours`` before NOW."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if data is not None else b"x" * size)
    when = NOW - age_hours * H
    os.utime(path, (when, when))
    return path


def check(path: Path | str, **options: Any) -> BackupCheck:
    return BackupCheck("backup", BackupOptions.model_validate({"path": str(path), **options}))


def ctx(timeout: float = 10.0, now: float = NOW) -> CheckContext:
    return CheckContext("backup", "testhost", timeout, clock=FakeClock(now))


async def run(path: Path | str, context: CheckContext | None = None,
              **options: Any) -> CheckResult:
    return await check(path, **options).run(context or ctx())


def test_the_entry_point_names_this_class() -> None:
    assert load_kind("backup") is BackupCheck


# --- measuring -----------------------------------------------------------------------------

async def test_newest_file_age_size_and_change_against_the_previous(tmp_path: Path) -> None:
    put(tmp_path / "db-1.sql.gz", 1000, 50)
    put(tmp_path / "db-2.sql.gz", 2000, 26)
    put(tmp_path / "db-3.sql.gz", 500, 2)
    put(tmp_path / "other.txt", 99999, 1)
    result = await run(tmp_path / "db-*.sql.gz")
    assert result.status is Status.OK
    m = result.metrics
    assert m["age_hours"] == pytest.approx(2.0, abs=1e-6)
    assert m["size_bytes"] == 500
    assert m["size_change_percent"] == -75.0
    assert m["files"] == 3
    assert result.summary == "db-3.sql.gz: 500 B, 2h old, -75% vs previous; 3 files"


@pytest.mark.parametrize(("sizes", "change"), [
    ((1000, 1500), 50.0),
    ((1000, 1000), 0.0),
    ((1000, 400), -60.0),
    ((0, 0), 0.0),
    ((0, 10), None),  # growth from nothing has no percentage
])
async def test_size_change_percent(tmp_path: Path, sizes: tuple[int, int],
                                   change: float | None) -> None:
    put(tmp_path / "a.tar", sizes[0], 30)
    put(tmp_path / "b.tar", sizes[1], 5)
    result = await run(tmp_path / "*.tar")
    assert result.metrics.get("size_change_percent") == change


@pytest.mark.parametrize(("pattern", "words"), [
    ("db-*.sql.gz", "no file matches {tmp}/db-*.sql.gz"),
    ("nothere/db-*.sql.gz", "no file matches {tmp}/nothere/db-*.sql.gz "
                            "({tmp}/nothere does not exist)"),
    ("nothere/db.sql.gz", "({tmp}/nothere does not exist)"),
    ("sub/*", "no file matches {tmp}/sub/*"),  # only a directory matches
])
async def test_no_matching_file_is_critical(tmp_path: Path, pattern: str, words: str) -> None:
    (tmp_path / "sub" / "db-x.sql.gz").mkdir(parents=True)
    result = await run(tmp_path / pattern)
    assert result.status is Status.CRITICAL
    assert words.format(tmp=tmp_path) in result.summary
    assert result.metrics == {"files": 0}


async def test_a_directory_means_the_files_in_it(tmp_path: Path) -> None:
    put(tmp_path / "b" / "old.tar", 10, 30)
    put(tmp_path / "b" / "new.tar", 20, 3)
    (tmp_path / "b" / "subdir").mkdir()
    result = await run(tmp_path / "b")
    assert result.metrics["files"] == 2
    assert result.summary.startswith("new.tar")


async def test_a_plain_file_path_and_a_recursive_glob(tmp_path: Path) -> None:
    put(tmp_path / "x" / "2024" / "05" / "db.dump", 70, 4)
    put(tmp_path / "x" / "2024" / "04" / "db.dump", 50, 700)
    assert (await run(tmp_path / "x" / "2024" / "05" / "db.dump")).metrics["files"] == 1
    result = await run(f"{tmp_path}/x/**/*.dump")
    assert result.metrics["files"] == 2
    assert result.metrics["size_change_percent"] == 40.0


async def test_age_thresholds_and_sizes_read_as_the_config_writes_them(tmp_path: Path) -> None:
    put(tmp_path / "db.gz", 200_000_000, 30)
    config = parse_config(f"""
agent:
  state_dir: {tmp_path / 'state'}
checks:
  - name: db-backup
    kind: backup
    path: {tmp_path}/*.gz
    thresholds:
      age_hours: {{crit: "> 26h"}}
      size_bytes: {{crit: "< 1GB"}}
      size_change_percent: {{crit: "< -50"}}
""")
    cc = config.checks[0]
    result = await BackupCheck(cc.name, cc.options).run(ctx())
    found = {s.metric: evaluate(cc.thresholds[s.metric], s,
                                AlertKey("h", "db-backup", s.metric), None).status
             for s in result.samples if s.metric in cc.thresholds}
    assert found == {"age_hours": Status.CRITICAL, "size_bytes": Status.CRITICAL}
    shrunk = evaluate(cc.thresholds["size_change_percent"], Sample("size_change_percent", -51),
                      AlertKey("h", "db-backup", "size_change_percent"), None)
    assert shrunk.status is Status.CRITICAL


# --- files still being written -------------------------------------------------------------

async def test_a_file_still_being_written_is_not_judged_while_an_older_one_exists(
        tmp_path: Path) -> None:
    put(tmp_path / "db-1.gz", 1000, 24)
    put(tmp_path / "db-2.gz", 10, 0)  # modified just now: a partial file
    result = await run(tmp_path / "db-*.gz")
    assert result.metrics["size_bytes"] == 1000
    assert result.metrics["files"] == 2
    assert "size_change_percent" not in result.metrics
    assert "1 newer still being written" in result.summary


async def test_a_lone_new_file_is_judged_as_it_is(tmp_path: Path) -> None:
    put(tmp_path / "db-1.gz", 1000, 0)
    result = await run(tmp_path / "db-*.gz")
    assert result.status is Status.OK
    assert result.metrics["size_bytes"] == 1000


async def test_a_rewritten_file_is_compared_with_its_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "latest.tar"
    c, context = check(path), ctx()
    put(path, 1000, 25)
    first = await c.run(context)
    assert "size_change_percent" not in first.metrics
    put(path, 10, 0)  # being rewritten: the complete version seen before is still judged
    during = await c.run(context)
    assert during.metrics["size_bytes"] == 1000
    assert during.metrics["age_hours"] == pytest.approx(25.0)
    put(path, 800, 1)  # done
    after = await c.run(context)
    assert after.metrics["size_bytes"] == 800
    assert after.metrics["size_change_percent"] == -20.0
    again = await c.run(context)  # unchanged file: still compared with the version before
    assert again.metrics["size_change_percent"] == -20.0


# --- verify --------------------------------------------------------------------------------

def good_gz(path: Path, age_hours: float = 2) -> Path:
    return put(path, 0, age_hours, gzip.compress(b"INSERT INTO t VALUES (1);\n" * 1000))


def corrupt_gz(path: Path, age_hours: float = 2) -> Path:
    data = gzip.compress(os.urandom(5000))
    return put(path, 0, age_hours, data[: len(data) // 2])  # truncated


@needs_gzip
async def test_gzip_verify_passes_on_a_good_archive(tmp_path: Path) -> None:
    good_gz(tmp_path / "db.sql.gz")
    result = await run(tmp_path / "*.gz", verify=["gzip", "-t", "{file}"])
    assert result.status is Status.OK, result.summary
    assert result.summary.endswith("; 1 file; verified")


@needs_gzip
async def test_gzip_verify_fails_on_a_corrupt_archive(tmp_path: Path) -> None:
    good_gz(tmp_path / "db-1.sql.gz", 26)
    corrupt_gz(tmp_path / "db-2.sql.gz")
    result = await run(tmp_path / "*.gz", verify=["gzip", "-t", "{file}"])
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("verify failed: gzip -t exited 1: gzip: ")
    assert "db-2.sql.gz" in result.summary
    assert result.error is None
    assert result.metrics["files"] == 2  # the numbers are still reported


@needs_gzip
async def test_verify_runs_only_when_the_newest_file_changes(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    verify = ["sh", "-c", f'echo run >> {counter}; gzip -t "$1"', "sh", "{file}"]
    c, context = check(tmp_path / "*.gz", verify=verify), ctx()
    corrupt_gz(tmp_path / "db-1.gz", 5)
    for _ in range(3):
        assert (await c.run(context)).status is Status.CRITICAL
    assert counter.read_text().count("run") == 1
    good_gz(tmp_path / "db-2.gz", 1)
    for _ in range(2):
        assert (await c.run(context)).status is Status.OK
    assert counter.read_text().count("run") == 2
    # The outcome is remembered across restarts: a new check with the saved memory.
    restarted = ctx()
    restarted.memory.update(context.memory)
    assert (await check(tmp_path / "*.gz", verify=verify).run(restarted)).status is Status.OK
    assert counter.read_text().count("run") == 2


async def test_verify_waits_until_the_file_has_settled(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    put(tmp_path / "db.gz", 10, 0)
    result = await run(tmp_path / "*.gz", verify=["sh", "-c", f"echo run >> {counter}", "sh",
                                                  "{file}"])
    assert result.status is Status.OK
    assert "verify waits until the file has settled" in result.summary
    assert not counter.exists()


@pytest.mark.parametrize(("verify", "status", "words"), [
    (["sh", "-c", "echo 'first problem' >&2; echo second >&2; exit 3", "sh", "{file}"],
     Status.CRITICAL, "verify failed: sh -c echo 'first problem' >&2; echo second >&2; exit 3 "
                      "sh exited 3: first problem"),
    (["sh", "-c", "exit 4", "sh", "{file}"], Status.CRITICAL, "verify failed: sh -c exit 4 sh "
                                                              "exited 4"),
    (["sh", "-c", "kill -9 $$", "sh", "{file}"], Status.CRITICAL, "killed by SIGKILL"),
    (["no-such-verifier-here", "{file}"], Status.UNKNOWN,
     "verify command not found: no-such-verifier-here"),
    (["sh", "-c", "sleep 5", "sh", "{file}"], Status.UNKNOWN, "verify timed out after"),
])
async def test_verify_outcomes(tmp_path: Path, verify: list[str], status: Status,
                               words: str) -> None:
    put(tmp_path / "db.gz", 10, 3)
    started = time.monotonic()
    result = await run(tmp_path / "*.gz", ctx(timeout=1.0), verify=verify)
    assert time.monotonic() - started < 3
    assert result.status is status
    assert words in result.summary
    assert result.metrics["size_bytes"] == 10


async def test_a_timed_out_verify_is_tried_again(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    put(tmp_path / "db.gz", 10, 3)
    c = check(tmp_path / "*.gz",
              verify=["sh", "-c", f"echo run >> {counter}; sleep 5", "sh", "{file}"])
    context = ctx(timeout=0.5)
    for _ in range(2):
        assert (await c.run(context)).status is Status.UNKNOWN
    assert counter.read_text().count("run") == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
async def test_an_unreadable_directory_is_an_error_not_a_missing_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    put(locked / "db.gz", 10, 1)
    locked.chmod(0)
    try:
        with pytest.raises(CheckError, match="permission denied"):
            await run(locked / "*.gz")
    finally:
        locked.chmod(0o755)


# --- options -------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"path": "backups/*.gz"}, "path must be absolute"),
    ({"path": ""}, "at least 1 character"),
    ({"path": "/b/*.gz", "verify": []}, "verify is empty"),
    ({"path": "/b/*.gz", "verify": ["gzip", "-t"]}, 'verify must name the file as "{file}"'),
    ({"path": "/b/*.gz", "verify": "gzip -t {file}"}, "valid tuple"),
    ({"path": "/b/*.gz", "settle": "soon"}, "expected a duration"),
    ({"path": "/b/*.gz", "min_size": "1GB"}, "Extra inputs"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        BackupOptions.model_validate(options)


@pytest.mark.parametrize(("pattern", "base"), [
    ("/backups/db-*.sql.gz", "/backups"),
    ("/backups/*/daily/x.tar", "/backups"),
    ("/b[ac]ckups/x", "/"),
    ("/x.gz", "/"),
])
def test_fixed_dir_is_the_part_before_any_glob(pattern: str, base: str) -> None:
    assert fixed_dir(pattern) == base


def test_command_text_leaves_out_the_file() -> None:
    assert command_text(("pg_restore", "--list", "{file}")) == "pg_restore --list"
    assert command_text(("tool", "--input={file}", "-q")) == "tool -q"
