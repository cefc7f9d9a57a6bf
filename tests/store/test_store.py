"""The state store: round trips, the outbox life cycle, memory, atomicity, durability."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.errors import StateError
from agent.incidents.record import Incident
from agent.model import AlertKey, Status
from agent.store import DB_NAME, Delivery, Store, writes

T0 = 1_700_000_000.0
DISK = AlertKey("web1", "disk", "used_percent", (("device", "sda1"), ("mount", "/var")))
HTTP = AlertKey("web1", "shop", "status")
REPO = Path(__file__).resolve().parents[2]


def event(kind: EventKind = EventKind.FIRING, at: float = T0, key: AlertKey = DISK,
          incident: str = "inc-1") -> AlertEvent:
    return AlertEvent(kind, key, Status.CRITICAL, at, incident, "used_percent 93.2 > 90",
                      value=93.2, threshold="> 90", since=at - 300.0,
                      duration=1234.5 if kind is EventKind.RESOLVED else None,
                      previous_severity=Status.WARNING, tags=("prod", "db"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


FULL_STATE = AlertState(
    key=DISK, phase=Phase.FIRING, severity=Status.CRITICAL, problem_since=T0 - 600.5,
    problem_samples=7, fired_at=T0 - 300.25, recovering_since=T0 - 10.0, recovering_samples=2,
    last_notified_at=T0 - 300.25, updated_at=T0, incident="web1/disk/used_percent@1699999699",
    why="used_percent 93.2 > 90", value=93.2, threshold="> 90")


@pytest.mark.parametrize("state", [
    AlertState(key=HTTP),
    FULL_STATE,
    AlertState(key=AlertKey("h", "c", "m", (("a", "x=y,z"), ("b", "{}"))), phase=Phase.RESOLVED,
               severity=Status.OK, why="ünïcode ✓", value=-0.0001, threshold=None),
    AlertState(key=HTTP, phase=Phase.PENDING, severity=Status.UNKNOWN, value=float("inf")),
], ids=["defaults", "every-field", "odd-labels-and-text", "pending-unknown-inf"])
def test_alert_state_round_trips_exactly(tmp_path: Path, state: AlertState) -> None:
    with Store.open(tmp_path) as s:
        s.commit([state], [])
    with Store.open(tmp_path) as s:
        assert s.load_states() == {state.key: state}


def test_commit_upserts_state_by_key(store: Store) -> None:
    store.commit([AlertState(key=DISK, phase=Phase.PENDING)], [])
    store.commit([FULL_STATE], [])
    assert store.load_states() == {DISK: FULL_STATE}


def test_open_alerts_lists_only_pending_and_firing(store: Store) -> None:
    states = [AlertState(key=AlertKey("h", "c", m), phase=p, problem_since=T0 + i)
              for i, (m, p) in enumerate([("a", Phase.OK), ("b", Phase.PENDING),
                                          ("c", Phase.FIRING), ("d", Phase.RESOLVED)])]
    store.commit(states, [])
    assert [s.key.metric for s in store.open_alerts()] == ["b", "c"]


def test_queued_event_reads_back_equal_and_due_at_its_time(store: Store) -> None:
    ev = event()
    store.commit([FULL_STATE], [Delivery(ev, "ops", 0), Delivery(ev, "ops", 1)])
    assert store.due(T0 - 1) == []
    rows = store.due(T0)
    assert [(r.channel, r.target) for r in rows] == [("ops", 0), ("ops", 1)]
    assert rows[0].event == ev
    assert rows[0].dedup_key == ev.dedup_key
    assert (rows[0].attempts, rows[0].sent_at, rows[0].dead) == (0, None, False)
    assert store.pending_count() == 2
    assert store.next_due_at() == T0


def test_same_event_to_same_target_is_queued_once(store: Store) -> None:
    ev = event()
    store.commit([], [Delivery(ev, "ops", 0)])
    store.commit([], [Delivery(ev, "ops", 0), Delivery(ev, "sms", 0)])
    assert store.pending_count() == 2


def test_due_is_oldest_first_and_limited(store: Store) -> None:
    for i in range(5):
        store.commit([], [Delivery(event(at=T0 + 10 - i, incident=f"i{i}"), "ops", 0)])
    rows = store.due(T0 + 100, limit=3)
    assert [r.event.incident for r in rows] == ["i4", "i3", "i2"]


def test_sent_row_is_never_due_again(store: Store) -> None:
    store.commit([], [Delivery(event(), "ops", 0)])
    row = store.due(T0)[0]
    store.mark_sent(row.id, T0 + 1)
    assert store.due(T0 + 10_000) == []
    assert store.pending_count() == 0
    assert store.next_due_at() is None
    done = store.outbox_row(row.id)
    assert done is not None and (done.sent_at, done.attempts) == (T0 + 1, 1)


def test_failed_row_is_due_again_at_its_retry_time(store: Store) -> None:
    store.commit([], [Delivery(event(), "ops", 0)])
    row = store.due(T0)[0]
    store.mark_failed(row.id, T0 + 1, "connection refused", T0 + 11)
    assert store.due(T0 + 10) == []
    assert store.next_due_at() == T0 + 11
    again = store.due(T0 + 11)[0]
    assert (again.attempts, again.last_error, again.last_attempt_at) == (
        1, "connection refused", T0 + 1)


def test_failed_row_without_retry_is_dead(store: Store) -> None:
    store.commit([], [Delivery(event(), "ops", 0)])
    row = store.due(T0)[0]
    store.mark_failed(row.id, T0 + 1, "invalid URL", None)
    assert store.due(T0 + 1e9) == []
    assert (store.pending_count(), store.dead_count()) == (0, 1)
    dead = store.outbox_row(row.id)
    assert dead is not None and dead.dead and dead.last_error == "invalid URL"


def test_malformed_outbox_row_is_set_aside_not_blocking(store: Store) -> None:
    store.commit([], [Delivery(event(incident=i), "ops", 0) for i in "ab"])
    store._conn.execute("UPDATE outbox SET event = '{\"kind\": \"nope\"}' WHERE id = 1")
    assert [r.event.incident for r in store.due(T0)] == ["b"]
    assert (store.pending_count(), store.dead_count()) == (1, 1)


def test_prune_forgets_only_old_finished_rows(store: Store) -> None:
    store.commit([], [Delivery(event(at=T0, incident=i), "ops", 0) for i in "abc"])
    a, b, _ = store.due(T0)
    store.mark_sent(a.id, T0)
    store.mark_failed(b.id, T0, "bad", None)
    assert store.prune_outbox(older_than=T0) == 0
    assert store.prune_outbox(older_than=T0 + 1) == 2
    assert store.pending_count() == 1


@pytest.mark.parametrize("memory", [
    {}, {"offset": 1234, "inode": 99, "seen": ["a", "b"], "nested": {"x": 1.5, "y": None}},
])
def test_check_memory_round_trips(tmp_path: Path, memory: dict[str, object]) -> None:
    with Store.open(tmp_path) as s:
        s.save_memory("logs", memory)
    with Store.open(tmp_path) as s:
        assert s.load_memory("logs") == memory
        assert s.load_memory("other") == {}


def test_memory_save_replaces_previous(store: Store) -> None:
    store.save_memory("c", {"a": 1})
    store.save_memory("c", {"b": 2})
    assert store.load_memory("c") == {"b": 2}


def test_failure_mid_commit_leaves_nothing_half_written(store: Store) -> None:
    good = Delivery(event(), "ops", 0)
    # A NULL channel violates NOT NULL after the state and first delivery went in.
    bad = Delivery(event(incident="other"), None, 0)  # type: ignore[arg-type]
    with pytest.raises(StateError):
        store.commit([FULL_STATE], [good, bad])
    assert store.load_states() == {}
    assert store.pending_count() == 0
    store.commit([FULL_STATE], [good])  # the store is still usable
    assert store.pending_count() == 1


def test_database_uses_wal_and_full_sync(store: Store) -> None:
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_commit_survives_kill_9(tmp_path: Path) -> None:
    """A commit that returned is on disk even if the process dies right after."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
        from agent.model import AlertKey, Status
        from agent.store import Delivery, Store
        s = Store.open(Path({str(tmp_path)!r}))
        k = AlertKey("web1", "disk", "used_percent")
        ev = AlertEvent(EventKind.FIRING, k, Status.CRITICAL, 1.0, "inc", "why")
        s.commit([AlertState(key=k, phase=Phase.FIRING)], [Delivery(ev, "ops", 0)])
        print("committed", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "committed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    with Store.open(tmp_path) as s:
        assert [st.phase for st in s.load_states().values()] == [Phase.FIRING]
        assert s.pending_count() == 1


def test_state_dir_and_parents_are_created(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a" / "b" / "c") as s:
        assert s.path == tmp_path / "a" / "b" / "c" / DB_NAME
        assert s.path.exists()


def test_state_dir_under_a_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="cannot create state directory"):
        Store.open(tmp_path / "file" / "state")


def test_state_dir_that_is_a_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("x")
    with pytest.raises(StateError, match="state"):
        Store.open(tmp_path / "state")


def test_a_state_dir_on_a_read_only_filesystem_is_named_so(tmp_path: Path) -> None:
    # A read-only mount of its own, in a mount namespace of its own: no chmod would help,
    # so the message must not send the operator to the permissions.
    state = tmp_path / "state"
    state.mkdir()
    script = ("import sys; from agent.store import Store; from agent.errors import StateError\n"
              "try:\n    Store.open(sys.argv[1])\nexcept StateError as exc:\n"
              "    print(exc)\n")
    out = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f'mount -t tmpfs -o ro,size=1m watchkeeper-test {state} && exec "$@"', "sh",
         sys.executable, "-c", script, str(state)],
        capture_output=True, text=True, timeout=60, check=False,
        cwd=Path(__file__).resolve().parents[2])
    if "mount:" in out.stderr or "unshare:" in out.stderr:
        pytest.skip(f"cannot mount a filesystem here: {out.stderr.strip()}")
    assert out.stdout.strip() == f"state directory {state} is on a read-only filesystem"


def test_unwritable_state_dir_is_a_state_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o500)
        try:
            with pytest.raises(StateError, match="not writable"):
                Store.open(d)
        finally:
            d.chmod(0o700)
        return
    # Root writes anywhere, except into an immutable directory.
    d = tmp_path / "ro"
    d.mkdir()
    chattr = subprocess.run(["chattr", "+i", str(d)], check=False, capture_output=True)
    if chattr.returncode != 0:
        pytest.skip("running as root and cannot make a directory immutable")
    try:
        with pytest.raises(StateError, match="not writable"):
            Store.open(d)
    finally:
        subprocess.run(["chattr", "-i", str(d)], check=True)


def test_past_the_read_limit_the_newest_incidents_are_the_ones_read(store: Store) -> None:
    for i in range(5):
        store.apply([writes.incident(Incident(
            id=f"inc-{i}", host="web1", check="disk", metric="used_percent",
            key="web1/disk/used_percent", opened_at=T0 + i, first_bad_at=T0 + i,
            severity=Status.CRITICAL, worst=Status.CRITICAL))])
    assert [i.id for i in store.incidents(limit=3)] == ["inc-2", "inc-3", "inc-4"]
    assert [i.id for i in store.incidents()] == [f"inc-{i}" for i in range(5)]
