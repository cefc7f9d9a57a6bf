"""The state database's schema, as an ordered list of migrations.

``MIGRATIONS[i]`` takes a database from schema version ``i`` to ``i + 1``. Version 0 is an
empty file. Append new scripts; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

from agent.errors import StateError

MIGRATIONS: tuple[str, ...] = (
    # 1: alert states, the outbox, check memory.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE alert_states (
        key                TEXT PRIMARY KEY,
        host               TEXT NOT NULL,
        check_name         TEXT NOT NULL,
        metric             TEXT NOT NULL,
        labels             TEXT NOT NULL,
        phase              TEXT NOT NULL,
        severity           TEXT NOT NULL,
        problem_since      REAL,
        problem_samples    INTEGER NOT NULL,
        fired_at           REAL,
        recovering_since   REAL,
        recovering_samples INTEGER NOT NULL,
        last_notified_at   REAL,
        updated_at         REAL,
        incident           TEXT,
        why                TEXT NOT NULL,
        value              REAL,
        threshold          TEXT
    );
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        event           TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          INTEGER NOT NULL,
        dedup_key       TEXT NOT NULL,
        created_at      REAL NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_attempt_at REAL,
        sent_at         REAL,
        last_error      TEXT,
        dead            INTEGER NOT NULL DEFAULT 0,
        -- the same event to the same target is queued once, however often it is committed
        UNIQUE (dedup_key, channel, target)
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
        WHERE sent_at IS NULL AND dead = 0;
    CREATE TABLE check_memory (
        check_name TEXT PRIMARY KEY,
        data       TEXT NOT NULL
    );
    """,
    # 2: pings pushed to heartbeat checks, in arrival order (id).
    """
    CREATE TABLE heartbeats (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        name      TEXT NOT NULL,
        kind      TEXT NOT NULL,
        at        REAL NOT NULL,
        exit_code INTEGER
    );
    CREATE INDEX heartbeats_by_name ON heartbeats (name, id);
    """,
    # 3: what learned thresholds learned (baselines, trends), one row per metric series.
    """
    CREATE TABLE learned (
        key        TEXT PRIMARY KEY,
        check_name TEXT NOT NULL,
        metric     TEXT NOT NULL,
        labels     TEXT NOT NULL,
        data       BLOB NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX learned_by_check ON learned (check_name, metric);
    """,
    # 4: silences asked for with `watchkeeper silence add`, and the incidents whose FIRING
    # one held back (announced when the silence ends, if still firing).
    """
    CREATE TABLE silences (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        check_glob TEXT NOT NULL,
        metric     TEXT NULL,
        starts_at  REAL NOT NULL,
        ends_at    REAL NOT NULL,
        reason     TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE suppressed (
        incident TEXT PRIMARY KEY,
        key      TEXT NOT NULL,
        event    TEXT NOT NULL,
        at       REAL NOT NULL
    );
    """,
    # 5: each alert key's firing episodes and each incident's events are counted, so
    # incident ids and delivery keys are numbered rather than read off the clock.
    """
    ALTER TABLE alert_states ADD COLUMN episode INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alert_states ADD COLUMN emitted INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: the incident log: one row per alert episode, its record as JSON.
    """
    CREATE TABLE incidents (
        id          TEXT PRIMARY KEY,
        check_name  TEXT NOT NULL,
        opened_at   REAL NOT NULL,
        resolved_at REAL,
        data        TEXT NOT NULL
    );
    CREATE INDEX incidents_opened ON incidents (opened_at);
    CREATE INDEX incidents_open ON incidents (id) WHERE resolved_at IS NULL;
    """,
    # 7: each alert's recent evaluations and whether it flaps.
    """
    ALTER TABLE alert_states ADD COLUMN history INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alert_states ADD COLUMN history_len INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alert_states ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: each series' history (agent.history): the series by the ids the agent gave them,
    # raw samples (at: whole epoch seconds), 5-minute and 1-hour rollups (bucket: its
    # start), older hours packed a UTC day to a row (agent.history.packing), and each
    # check's outages (runs of CRITICAL).
    """
    CREATE TABLE history_series (
        id         INTEGER PRIMARY KEY,
        check_name TEXT NOT NULL,
        metric     TEXT NOT NULL,
        labels     TEXT NOT NULL,
        UNIQUE (check_name, metric, labels)
    );
    CREATE TABLE history_raw (
        series INTEGER NOT NULL,
        at     INTEGER NOT NULL,
        value  REAL NOT NULL,
        PRIMARY KEY (series, at)
    ) WITHOUT ROWID;
    CREATE TABLE history_5m (
        series INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        low    REAL NOT NULL,
        high   REAL NOT NULL,
        mean   REAL NOT NULL,
        PRIMARY KEY (series, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE history_1h (
        series INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        n      INTEGER NOT NULL,
        low    REAL NOT NULL,
        high   REAL NOT NULL,
        mean   REAL NOT NULL,
        PRIMARY KEY (series, bucket)
    ) WITHOUT ROWID;
    CREATE TABLE history_1d (
        series INTEGER NOT NULL,
        day    INTEGER NOT NULL,
        hours  BLOB NOT NULL,
        PRIMARY KEY (series, day)
    ) WITHOUT ROWID;
    CREATE TABLE history_outages (
        check_name   TEXT NOT NULL,
        started_at   REAL NOT NULL,
        last_down_at REAL NOT NULL,
        ended_at     REAL,
        PRIMARY KEY (check_name, started_at)
    );
    """,
)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in ``meta`` (0 for an empty database)."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        others = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if others:
            raise StateError("state database has tables but no schema version: "
                             "it was not written by watchkeeper")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StateError("state database has no schema version")
    try:
        return int(row[0])
    except ValueError:
        raise StateError(f"state database has a malformed schema version {row[0]!r}") from None


def migrate(conn: sqlite3.Connection, where: str,
            migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Bring the database up to ``len(migrations)``; return the version it was at.

    Each step runs in its own transaction together with the version bump, so a crash
    mid-way leaves the database at a whole version. ``conn`` must be in autocommit mode
    (``isolation_level=None``). A database newer than this code is refused.
    """
    version = current_version(conn)
    target = len(migrations)
    if version > target:
        raise StateError(
            f"{where} has schema version {version}, newer than this watchkeeper "
            f"understands ({target}); upgrade watchkeeper or move the file away")
    for step in range(version, target):
        script = (
            "BEGIN IMMEDIATE;\n" + migrations[step] + "\n"
            "INSERT INTO meta (key, value) VALUES ('schema_version', "
            f"'{step + 1}') ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n"
            "COMMIT;"
        )
        try:
            conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return version
