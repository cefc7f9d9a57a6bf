"""Silences and suppressed incidents in the state store, written by two processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.silences import Silence, Suppressed
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.errors import StateError
from agent.model import AlertKey, Status
from agent.store import DB_NAME, Delivery, Store
from agent.store.schema import MIGRATIONS, migrate

T0 = 1_700_000_000.0
DAY = 86400.0
KEY = AlertKey("db-host", "db-main", "used_percent", (("mount", "/var"),))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def firing(incident: str = "inc-1", at: float = T0) -> AlertEvent:
    return AlertEvent(EventKind.FIRING, KEY, Status.CRITICAL, at, incident, "used 93 > 90",
                      value=93.0, threshold="> 90", since=at - 60, tags=("db",))


def test_a_silence_reads_back_as_added_for_the_given_host(store: Store) -> None:
    sid = store.add_silence("db-*", "used_percent", T0, T0 + 7200, reason="reboot",
                            created_at=T0 - 1)
    assert store.silences(host="db-host") == [
        Silence(sid, "db-*", "used_percent", T0, T0 + 7200, "reboot", T0 - 1, "db-host")]
    assert store.silences(host="other")[0].host == "other"


def test_silence_ids_grow_and_are_never_reused(store: Store) -> None:
    first = store.add_silence("a", None, T0, T0 + 60)
    second = store.add_silence("b", None, T0, T0 + 60)
    assert store.remove_silence(second)
    third = store.add_silence("c", None, T0, T0 + 60)
    assert first < second < third
    assert [s.check_glob for s in store.silences(host="h")] == ["a", "c"]


@pytest.mark.parametrize(("at", "expected"), [
    (T0 - 1, ["late"]),
    (T0, ["late", "now"]),
    (T0 + 3599, ["late", "now"]),
    (T0 + 3600, ["late"]),
    (T0 + 2 * DAY, []),
], ids=["before", "at-start", "before-end", "at-end", "after-all"])
def test_active_at_lists_only_silences_holding_then(store: Store, at: float,
                                                    expected: list[str]) -> None:
    store.add_silence("late", None, T0 - 10, T0 + DAY)
    store.add_silence("now", None, T0, T0 + 3600)
    assert [s.check_glob for s in store.silences(active_at=at, host="h")] == expected


def test_removing_an_unknown_silence_says_so(store: Store) -> None:
    sid = store.add_silence("db-*", None, T0, T0 + 60)
    assert store.remove_silence(sid) is True
    assert store.remove_silence(sid) is False
    assert store.silences(host="h") == []


def test_expiry_deletes_silences_that_ended_over_a_week_ago(store: Store) -> None:
    store.add_silence("old", None, T0 - 9 * DAY, T0 - 8 * DAY)
    store.add_silence("recent", None, T0 - 3 * DAY, T0 - 6 * DAY)
    store.add_silence("active", None, T0, T0 + DAY)
    assert store.expire_silences(T0) == 1
    assert [s.check_glob for s in store.silences(host="h")] == ["recent", "active"]


def test_suppressed_incidents_are_recorded_listed_and_forgotten(store: Store) -> None:
    a, b = Suppressed(firing("inc-a"), T0), Suppressed(firing("inc-b", T0 + 5), T0 + 5)
    store.record_suppressed([b, a])
    store.record_suppressed([Suppressed(firing("inc-a", T0 + 99), T0 + 99)])  # kept as was
    assert store.suppressed() == [a, b]
    store.forget_suppressed(["inc-a", "unknown"])
    assert store.suppressed() == [b]


def test_commit_stores_states_deliveries_and_suppressed_incidents_together(
        store: Store) -> None:
    state = AlertState(key=KEY, phase=Phase.FIRING, incident="inc-2")
    store.record_suppressed([Suppressed(firing("inc-1"), T0)])
    held = Suppressed(firing("inc-2"), T0)
    store.commit([state], [], [held], ["inc-1"])
    assert store.suppressed() == [held]
    # A failure anywhere in the commit leaves the suppressed incidents as they were.
    bad = Delivery(firing("inc-3"), None, 0)  # type: ignore[arg-type]
    with pytest.raises(StateError):
        store.commit([], [bad], [Suppressed(firing("inc-3"), T0)], ["inc-2"])
    assert store.suppressed() == [held]


def test_a_malformed_suppressed_row_is_a_state_error_naming_it(store: Store) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO suppressed VALUES ('inc-x', 'k', '{not json', 0)")
    with pytest.raises(StateError, match="malformed suppressed incident inc-x"):
        store.suppressed()


def test_a_version_3_database_gains_the_silence_tables_and_keeps_its_rows(
        tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    migrate(conn, "db", MIGRATIONS[:3])
    conn.execute("INSERT INTO check_memory VALUES ('c', '{\"a\": 1}')")
    conn.close()
    with Store.open(tmp_path) as s:
        assert s.load_memory("c") == {"a": 1}
        assert s.silences(host="h") == [] and s.suppressed() == []
        s.add_silence("db-*", None, T0, T0 + 60)
        assert len(s.silences(host="h")) == 1


def test_two_processes_write_the_store_at_the_same_time(tmp_path: Path) -> None:
    """The CLI adds silences while the agent commits: neither fails on the lock."""
    Store.open(tmp_path).close()
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from agent.store import Store
        with Store.open(Path({str(tmp_path)!r})) as s:
            print("open", flush=True)
            for i in range(40):
                s.add_silence(f"c{{i}}", None, 0.0, 1.0)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        with Store.open(tmp_path) as s:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
            for i in range(40):
                s.commit([AlertState(key=AlertKey("h", "c", f"m{i}"))], [])
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    with Store.open(tmp_path) as s:
        assert len(s.silences(host="h")) == 40
        assert len(s.load_states()) == 40
