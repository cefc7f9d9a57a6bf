"""Schema versions: migrations from nothing, step by step, and refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.alerting.machine import step
from agent.alerting.policy import Policy
from agent.errors import StateError
from agent.model import AlertKey, Finding, Status
from agent.store import DB_NAME, Store
from agent.store.schema import MIGRATIONS, SCHEMA_VERSION, current_version, migrate


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def test_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    assert version_of(tmp_path / DB_NAME) == SCHEMA_VERSION == len(MIGRATIONS)


def test_empty_file_is_migrated(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"")
    with Store.open(tmp_path) as s:
        assert s.pending_count() == 0
    assert version_of(tmp_path / DB_NAME) == SCHEMA_VERSION


def test_reopening_keeps_the_version(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    Store.open(tmp_path).close()
    assert version_of(tmp_path / DB_NAME) == SCHEMA_VERSION


def test_migrations_run_in_order_from_the_stored_version(tmp_path: Path) -> None:
    steps = (MIGRATIONS[0], "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (7);")
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    assert migrate(conn, "db", steps[:1]) == 0
    conn.execute("INSERT INTO check_memory VALUES ('c', '{}')")
    assert migrate(conn, "db", steps) == 1
    assert current_version(conn) == 2
    assert conn.execute("SELECT x FROM extra").fetchall() == [(7,)]
    assert conn.execute("SELECT count(*) FROM check_memory").fetchone()[0] == 1
    conn.close()


def test_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    steps = (MIGRATIONS[0], "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;")
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    migrate(conn, "db", steps[:1])
    with pytest.raises(sqlite3.Error):
        migrate(conn, "db", steps)
    assert current_version(conn) == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'"
                        ).fetchone()[0] == 0
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 5),))
    with pytest.raises(StateError, match="newer than this watchkeeper"):
        Store.open(tmp_path)


def test_corrupt_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StateError, match="is corrupt"):
        Store.open(tmp_path)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(StateError, match="not written by watchkeeper"):
        Store.open(tmp_path)


def test_alert_states_of_schema_4_upgrade_with_nothing_counted_and_keep_their_keys(
        tmp_path: Path) -> None:
    """States and queued rows written before episodes and events were counted still load;
    what the upgraded agent decides next is queued under new, distinct keys."""
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(conn, "db", MIGRATIONS[:4])
    conn.execute(
        "INSERT INTO alert_states (key, host, check_name, metric, labels, phase, severity, "
        "problem_since, problem_samples, fired_at, recovering_since, recovering_samples, "
        "last_notified_at, updated_at, incident, why, value, threshold) VALUES ("
        "'web1/disk/used', 'web1', 'disk', 'used', '[]', 'firing', 'critical', 100.0, 3, "
        "100.0, NULL, 0, 100.0, 160.0, 'abc-100', 'used 93 > 90', 93.0, '> 90')")
    conn.close()
    with Store.open(tmp_path) as store:
        key = AlertKey("web1", "disk", "used")
        state = store.load_states()[key]
        assert (state.incident, state.episode, state.emitted) == ("abc-100", 0, 0)
        state, events = step(state, Finding(key, Status.OK, "used 40 <= 90"), 220.0, Policy())
        (resolved,) = events
        assert resolved.dedup_key == "abc-100:1"
        store.commit([state], [])
        assert store.load_states()[key].emitted == 1
    assert version_of(tmp_path / DB_NAME) == SCHEMA_VERSION
