"""Reading the state read-only: never a file created, migrated or left behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.errors import StateError
from agent.model import AlertKey, Status
from agent.store import DB_NAME, Delivery, Store
from agent.store.schema import SCHEMA_VERSION

T0 = 1_700_000_000.0
KEY = AlertKey("web1", "disk", "used_percent", (("mount", "/"),))


def _firing(at: float = T0, incident: str = "inc-1") -> AlertEvent:
    return AlertEvent(EventKind.FIRING, KEY, Status.CRITICAL, at, incident, "93% > 90")


def _files(state: Path) -> set[str]:
    return {p.name for p in state.iterdir()} if state.exists() else set()


def test_no_state_yet_is_none_and_creates_nothing(tmp_path: Path) -> None:
    assert Store.open_readonly(tmp_path / "state") is None
    assert not (tmp_path / "state").exists()


def test_a_state_dir_that_is_a_file_is_an_error_not_no_state(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    with pytest.raises(StateError, match="is not a directory"):
        Store.open_readonly(tmp_path / "state")
    with pytest.raises(StateError, match=f"{tmp_path / 'state'} is not a directory"):
        Store.open_readonly(tmp_path / "state" / "below")


def test_an_unreadable_state_dir_is_an_error_not_no_state(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    (tmp_path / "state").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path
                        / "state" else real(p, mode, **kw))
    with pytest.raises(StateError, match="not readable by this user"):
        Store.open_readonly(tmp_path / "state")


def test_a_stopped_agents_state_is_read_without_leaving_a_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as s:
        s.commit([AlertState(KEY, Phase.FIRING, Status.CRITICAL, problem_since=T0)],
                 [Delivery(_firing(), "ops", 0)])
    before = _files(state)
    assert before == {DB_NAME}  # a clean close leaves no -wal / -shm
    store = Store.open_readonly(state)
    assert store is not None
    with store:
        assert [a.key for a in store.open_alerts()] == [KEY]
        assert [r.channel for r in store.pending()] == ["ops"]
        assert store.written_at() == pytest.approx((state / DB_NAME).stat().st_mtime)
        with pytest.raises(StateError):
            store.mark_sent(1, T0)  # it is read-only indeed
    assert _files(state) == before


def test_a_running_agents_latest_commits_are_seen(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Store.open(state) as writer:
        writer.commit([], [Delivery(_firing(), "ops", 0)])
        reader = Store.open_readonly(state)
        assert reader is not None
        with reader:
            assert reader.pending_count() == 1
            writer.commit([], [Delivery(_firing(T0 + 1, "inc-2"), "ops", 0)])
            assert reader.pending_count() == 2


def test_pending_lists_the_next_due_first_with_why_they_wait(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.commit([], [Delivery(_firing(T0, "a"), "ops", 0), Delivery(_firing(T0, "b"), "ops", 1),
                      Delivery(_firing(T0, "c"), "ops", 2)])
        first, second, third = (r.id for r in s.pending())
        s.mark_failed(first, T0 + 5, "connection refused", T0 + 60)
        s.mark_sent(second, T0 + 5)
        s.mark_failed(third, T0 + 5, "403", None)  # given up: not pending
        s.commit([], [Delivery(_firing(T0 + 9, "d"), "ops", 0)])
        rows = s.pending()
    assert [(r.event.incident, r.attempts, r.last_error) for r in rows] == [
        ("d", 0, None), ("a", 1, "connection refused")]
    assert rows[1].next_attempt_at == T0 + 60


def test_a_learned_series_says_when_it_was_saved(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.save_learned([(KEY, b"data")], T0)
        assert s.learned_saved_at(KEY) == T0
        assert s.learned_saved_at(AlertKey("web1", "x", "y")) is None


def test_a_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    with Store.open(tmp_path):
        pass
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match=f"{DB_NAME}: schema version .* newer .* upgrade"):
        Store.open_readonly(tmp_path)


def test_a_file_that_is_no_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match="corrupt"):
        Store.open_readonly(tmp_path)
