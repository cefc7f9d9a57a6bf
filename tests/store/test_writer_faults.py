"""The store writer keeps writes in memory while the database cannot take them, says so,
and writes them all once it can (real SQLite files, real locks)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import AlertState, Phase
from agent.model import AlertKey, Status
from agent.store import DB_NAME, Store, writes
from agent.store.writer import StoreWriter

KEY = AlertKey("web1", "disk", "used_percent")


def state(n: int) -> AlertState:
    return AlertState(KEY, Phase.FIRING, Status.CRITICAL, updated_at=float(n), why=f"#{n}")


def wait_for(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[StoreWriter]:
    Store.open(tmp_path).close()
    w = StoreWriter(tmp_path, Store.open(tmp_path, busy_timeout=0.1), busy_timeout=0.1)
    yield w
    w.close(timeout=1.0)


def stored_why(state_dir: Path) -> str | None:
    with Store.open(state_dir) as store:
        found = store.load_states().get(KEY)
        return None if found is None else found.why


def test_writes_land_in_order_in_one_transaction(writer: StoreWriter,
                                                 tmp_path: Path) -> None:
    for n in range(50):
        writer.submit(writes.commit([state(n)]))
    assert writer.flush(5.0)
    assert stored_why(tmp_path) == "#49"
    assert writer.health().fault is None


def test_a_database_locked_by_another_process_holds_the_writes_until_it_is_free(
        writer: StoreWriter, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        writer.submit(writes.commit([state(1)]))
        wait_for(lambda: writer.health().fault is not None)
        health = writer.health()
        assert health.held == 1
        assert "locked" in (health.text() or "") and "held in memory" in (health.text() or "")
        writer.submit(writes.commit([state(2)]))
        assert not writer.flush(0.3)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert writer.flush(10.0)
    assert writer.health().fault is None
    assert stored_why(tmp_path) == "#2"


def test_a_corrupt_file_is_said_and_a_new_one_gets_everything_again(
        tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    replaced: list[bool] = []
    w = StoreWriter(tmp_path, Store.open(tmp_path, busy_timeout=0.1),
                    on_replaced=lambda: replaced.append(True), busy_timeout=0.1)
    try:
        w.submit(writes.commit([state(1)]))
        assert w.flush(5.0)
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
            path = tmp_path / name
            if path.exists():
                path.write_bytes(b"this is not a database " * 400)
        w.submit(writes.commit([state(2)]))
        wait_for(lambda: w.health().fault is not None)
        assert "corrupt" in (w.health().text() or "") or "not a database" in (
            w.health().text() or "")
        broken = tmp_path / "broken"
        broken.mkdir()
        for name in (DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME):  # as a person moves them
            with contextlib.suppress(FileNotFoundError):
                (tmp_path / name).replace(broken / name)
        assert w.flush(10.0)
        assert replaced == [True]  # the agent is asked for a full copy
        assert w.health().fault is None
    finally:
        w.close(timeout=1.0)
    assert stored_why(tmp_path) == "#2"


def test_a_store_that_could_not_be_opened_at_start_is_opened_once_it_can(
        tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    replaced: list[bool] = []
    w = StoreWriter(blocker, None, "cannot create state directory",
                    on_replaced=lambda: replaced.append(True), busy_timeout=0.1)
    try:
        w.submit(writes.commit([state(7)]))
        assert not w.flush(0.3)
        assert w.health().held == 1
        blocker.unlink()
        assert w.flush(10.0)
        assert replaced == [True]
    finally:
        w.close(timeout=1.0)
    assert stored_why(blocker) == "#7"


def test_a_write_the_database_refuses_is_dropped_and_the_rest_land(
        writer: StoreWriter, tmp_path: Path) -> None:
    def broken(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO meta (key, value) VALUES (NULL, NULL)")
        return 1

    writer.submit(writes.commit([state(1)]))
    writer.submit(writes.Write("a broken write", broken))
    writer.submit(writes.commit([state(2)]))
    assert writer.flush(5.0)
    assert writer.health().fault is None
    assert stored_why(tmp_path) == "#2"


def test_only_the_newest_memory_of_a_check_waits(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    w = StoreWriter(tmp_path, Store.open(tmp_path, busy_timeout=0.1), busy_timeout=0.1)
    try:
        for n in range(100):
            w.submit(writes.memory("disk", {"n": n}))
        assert w.health().held <= 2  # one in the batch being tried, one waiting
    finally:
        other.execute("ROLLBACK")
        other.close()
        assert w.flush(10.0)
        w.close()
    with Store.open(tmp_path) as store:
        assert store.load_memory("disk") == {"n": 99}


def test_closing_with_writes_it_cannot_make_says_how_many_are_lost(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Store.open(tmp_path).close()
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    w = StoreWriter(tmp_path, Store.open(tmp_path, busy_timeout=0.1), busy_timeout=0.1)
    try:
        w.submit(writes.commit([state(1)]))
        assert w.close(timeout=0.5) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "1 change(s) could not be written" in caplog.text
