"""Learned thresholds' state in the store: round trips, upserts, listing, migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import StateError
from agent.model import AlertKey
from agent.store import DB_NAME, Store
from agent.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate

T0 = 1_700_000_000.0
API = AlertKey("web1", "api", "response_ms")
VAR = AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))
ROOT = AlertKey("web1", "disk", "used_percent", (("mount", "/"),))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.mark.parametrize("key", [
    API,
    VAR,
    AlertKey("db/primary", "pg", "lag_seconds"),
    AlertKey("h", "c", "m", (("a", "x=y,z}"), ("b", "{}/"))),
    AlertKey("höst", "chëck", "mëtric", (("ünï", "✓"),)),
], ids=["plain", "labelled", "slash-in-host", "odd-labels", "unicode"])
def test_learned_state_round_trips_across_reopening(tmp_path: Path, key: AlertKey) -> None:
    data = bytes(range(256)) * 40 + b"\x00"
    with Store.open(tmp_path) as s:
        s.save_learned([(key, data)], T0)
    with Store.open(tmp_path) as s:
        assert s.load_learned(key) == data
        assert s.learned_keys() == [key]
        assert s.learned_keys(key.check) == [key]


def test_saving_again_replaces_data_and_time(store: Store) -> None:
    store.save_learned([(API, b"old")], T0)
    store.save_learned([(API, b"new")], T0 + 3600)
    assert store.load_learned(API) == b"new"
    rows = store._read("SELECT updated_at FROM learned")
    assert [r[0] for r in rows] == [T0 + 3600]


def test_nothing_learned_loads_none(store: Store) -> None:
    store.save_learned([(API, b"x")], T0)
    assert store.load_learned(VAR) is None
    assert store.load_learned(AlertKey("web2", "api", "response_ms")) is None


def test_keys_are_listed_by_key_text_and_filtered_by_check(store: Store) -> None:
    store.save_learned([(VAR, b"v"), (API, b"a"), (ROOT, b"r")], T0)
    assert store.learned_keys() == [API, VAR, ROOT]  # "{mount=/v" sorts before "{mount=/}"
    assert store.learned_keys("disk") == [VAR, ROOT]
    assert store.learned_keys("nope") == []


def test_saving_nothing_writes_nothing(store: Store) -> None:
    store.save_learned([], T0)
    assert store.learned_keys() == []


def test_a_failed_save_leaves_every_series_as_it_was(store: Store) -> None:
    store.save_learned([(API, b"before")], T0)
    broken = AlertKey("web1", None, "m")  # type: ignore[arg-type]  # NULL check_name
    with pytest.raises(StateError):
        store.save_learned([(API, b"after"), (broken, b"x")], T0 + 1)
    assert store.load_learned(API) == b"before"
    assert store.learned_keys() == [API]


def test_a_row_whose_key_does_not_match_its_columns_is_a_state_error(store: Store) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO learned VALUES ('web1/api/other_ms', 'api', "
                     "'response_ms', '[]', x'00', 0)")
    with pytest.raises(StateError, match="malformed learned row web1/api/other_ms"):
        store.learned_keys()


def test_a_version_2_database_gains_the_learned_table_and_keeps_its_rows(
        tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(conn, "db", MIGRATIONS[:2])
    conn.execute("INSERT INTO check_memory VALUES ('c', '{\"a\": 1}')")
    conn.close()
    with Store.open(tmp_path) as s:
        assert s.load_memory("c") == {"a": 1}
        s.save_learned([(API, b"x")], T0)
        assert s.load_learned(API) == b"x"
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert int(version.fetchone()[0]) == SCHEMA_VERSION >= 3
