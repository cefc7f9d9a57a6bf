"""The database check's options, DSN parsing, scrubbing, metric tables and lazy imports.

The engines themselves are tested against the real servers in test_database_<engine>.py.
"""

from __future__ import annotations

import decimal
import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from agent.check import load_kind
from checks.database.check import (
    DatabaseCheck,
    DatabaseOptions,
    Engine,
    ProbeError,
    Reason,
    Target,
    scrub,
    to_number,
)
from checks.database.mysql import MySqlStats, mysql_metrics
from checks.database.postgres import PgStats, postgres_metrics
from checks.database.redis import redis_metrics


def test_the_entry_point_names_this_class() -> None:
    assert load_kind("database") is DatabaseCheck
    assert DatabaseCheck.Options is DatabaseOptions


@pytest.mark.parametrize(("options", "expected"), [
    ({"engine": "postgres"},
     Target(Engine.POSTGRES, "127.0.0.1", 5432)),
    ({"engine": "mysql", "host": "db.local", "port": 3307, "user": "mon", "database": "app"},
     Target(Engine.MYSQL, "db.local", 3307, "mon", None, "app")),
    ({"engine": "redis", "database": "2"},
     Target(Engine.REDIS, "127.0.0.1", 6379, None, None, "2")),
    ({"engine": "postgres", "dsn": "postgresql://mon:p%40ss@10.0.0.5:6432/app?sslmode=require"},
     Target(Engine.POSTGRES, "10.0.0.5", 6432, "mon", "p@ss", "app",
            params=(("sslmode", "require"),))),
    ({"engine": "postgres", "dsn": "postgres:///app?host=/run/postgresql&user=mon"},
     Target(Engine.POSTGRES, "/run/postgresql", 5432, "mon", None, "app")),
    ({"engine": "mysql", "dsn": "mariadb://root@127.0.0.1/test"},
     Target(Engine.MYSQL, "127.0.0.1", 3306, "root", None, "test")),
    ({"engine": "redis", "dsn": "rediss://:pw@[::1]:6380/3"},
     Target(Engine.REDIS, "::1", 6380, None, "pw", "3", tls=True)),
    ({"engine": "postgres", "dsn": "postgresql://mon@db/app", "password": "from-secret"},
     Target(Engine.POSTGRES, "db", 5432, "mon", "from-secret", "app")),
])
def test_dsn_or_fields_give_the_target(options: dict[str, object], expected: Target) -> None:
    target = DatabaseOptions.model_validate(options).target()
    assert (target.engine, target.host, target.port, target.user, target.password,
            target.database, target.tls, target.params) == (
        expected.engine, expected.host, expected.port, expected.user, expected.password,
        expected.database, expected.tls, expected.params)


@pytest.mark.parametrize(("host", "port", "address"), [
    ("127.0.0.1", 5432, "127.0.0.1:5432"),
    ("::1", 6379, "[::1]:6379"),
    ("/run/postgresql", 5432, "/run/postgresql"),
])
def test_address_is_shown_host_port_or_socket(host: str, port: int, address: str) -> None:
    assert Target(Engine.POSTGRES, host, port).address == address


@pytest.mark.parametrize(("options", "message"), [
    ({"engine": "oracle"}, "Input should be 'postgres', 'mysql' or 'redis'"),
    ({"engine": "postgres", "dsn": "mysql://u:pw@h/db"},
     "dsn must start with postgresql:// or postgres:// for engine postgres"),
    ({"engine": "postgres", "dsn": "postgresql://u:pw@h/db", "host": "x"},
     "give either dsn or host, not both"),
    ({"engine": "postgres", "dsn": "postgresql://u:pw@h/db", "password": "pw2"},
     "the password is given both in dsn and in password"),
    ({"engine": "postgres", "dsn": "postgresql://u:pw@h:99999/db"}, "dsn has an invalid port"),
    ({"engine": "mysql", "dsn": "mysql://u:pw@h/db?ssl=1"},
     "dsn options are not supported for engine mysql: ssl"),
    ({"engine": "redis", "database": "cache"}, "a redis database is a number"),
    ({"engine": "postgres", "port": 0}, "greater than or equal to 1"),
    ({"engine": "postgres", "query": "  "}, "query is empty"),
    ({"engine": "postgres", "metric": "Stuck Jobs"}, "must be snake_case"),
    ({"engine": "postgres", "metric": "connect_ms"}, "already reported by this check"),
    ({"engine": "postgres", "colour": "blue"}, "Extra inputs are not permitted"),
    # A DSN given as the host was once shown, password and all, in every summary.
    ({"engine": "postgres", "host": "postgresql://u:hunter2@127.0.0.1/db"},
     "a connection URL goes in dsn:"),
    ({"engine": "mysql", "host": "u:hunter2@db1"}, "a connection URL goes in dsn:"),
    ({"engine": "redis", "host": "db1:6379"}, "give the port in 'port:'"),
])
def test_bad_options_are_clear_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DatabaseOptions.model_validate(options)


@pytest.mark.parametrize("options", [
    {"engine": "postgres", "dsn": "postgresql://mon:hunter2@h/db"},
    {"engine": "postgres", "dsn": "mysql://mon:hunter2@h/db"},  # wrong scheme: still masked
    {"engine": "mysql", "dsn": "mysql://mon:hunter2@h/db?ssl=1"},
    {"engine": "mysql", "password": "hunter2"},
])
def test_options_never_show_the_password(options: dict[str, object]) -> None:
    try:
        shown = repr(DatabaseOptions.model_validate(options))
    except ValidationError as exc:
        shown = str(exc)
    assert "hunter2" not in shown


@pytest.mark.parametrize(("text", "secrets", "expected"), [
    ('database "hunter2" does not exist', ["hunter2"], 'database "***" does not exist'),
    ("failed for postgresql://mon:hunter2@db/app", [], "failed for postgresql://***@db/app"),
    ("bad redis://:x%2Fy@127.0.0.1", [], "bad redis://***@127.0.0.1"),
    ("conninfo host=db password=hunter2 user=mon", [], "conninfo host=db password=*** user=mon"),
    ("password: 'two words'", [], "password: ***"),
    ("p%40ss leaked", ["p@ss", "p%40ss"], "*** leaked"),
    ("nothing secret here", ["hunter2"], "nothing secret here"),
])
def test_scrub_removes_passwords_and_dsn_credentials(text: str, secrets: list[str],
                                                     expected: str) -> None:
    assert scrub(text, secrets) == expected


@pytest.mark.parametrize(("value", "number"), [
    (7, 7.0), (2.5, 2.5), (decimal.Decimal("1.25"), 1.25), (True, 1.0),
    ("42", 42.0), (b" 3.5 ", 3.5),
])
def test_query_results_that_are_numbers(value: object, number: float) -> None:
    assert to_number(value) == number


@pytest.mark.parametrize("value", [None, "abc", b"", float("nan"), float("inf"), [1], "x" * 100])
def test_query_results_that_are_not_numbers(value: object) -> None:
    with pytest.raises(ProbeError) as info:
        to_number(value)
    assert info.value.reason is Reason.VALUE
    assert "not a number" in info.value.detail
    assert len(info.value.detail) < 100


@pytest.mark.parametrize(("stats", "expected"), [
    (PgStats(10, 100, None, 0.0, 8_000_000),
     {"connections_used_percent": 10.0, "oldest_xact_seconds": 0.0,
      "database_size_bytes": 8e6}),
    (PgStats(5, 200, 3.5, 12.0, 1000),
     {"connections_used_percent": 2.5, "replication_lag_seconds": 3.5,
      "oldest_xact_seconds": 12.0, "database_size_bytes": 1000.0}),
    (PgStats(1, 0, -0.2, None, None), {"replication_lag_seconds": 0.0}),
])
def test_postgres_metrics_report_lag_only_on_a_replica(stats: PgStats,
                                                       expected: dict[str, float]) -> None:
    assert postgres_metrics(stats) == expected


@pytest.mark.parametrize(("stats", "expected"), [
    (MySqlStats(15, 150, None), {"threads_connected": 15.0, "connections_used_percent": 10.0}),
    (MySqlStats(3, 100, 7.0), {"threads_connected": 3.0, "connections_used_percent": 3.0,
                               "replica_lag_seconds": 7.0}),
])
def test_mysql_metrics_report_lag_only_on_a_replica(stats: MySqlStats,
                                                    expected: dict[str, float]) -> None:
    assert mysql_metrics(stats) == expected


@pytest.mark.parametrize(("info", "expected"), [
    ({"connected_clients": 5, "maxclients": 100, "rejected_connections": 2,
      "used_memory": 1000, "maxmemory": 0, "role": "master"},
     {"connected_clients": 5.0, "connections_used_percent": 5.0,
      "rejected_connections": 2.0}),
    ({"connected_clients": 1, "rejected_connections": 0, "used_memory": 250,
      "maxmemory": 1000, "role": "slave", "master_link_status": "down"},
     {"connected_clients": 1.0, "rejected_connections": 0.0, "used_memory_percent": 25.0,
      "replication_link_up": 0.0}),
    ({"role": "slave", "master_link_status": "up"}, {"replication_link_up": 1.0}),
])
def test_redis_metrics_need_maxmemory_and_a_replica(info: dict[str, object],
                                                    expected: dict[str, float]) -> None:
    assert redis_metrics(info) == expected


def test_a_redis_only_config_imports_no_other_driver() -> None:
    code = textwrap.dedent("""
        import asyncio, sys
        from agent.check import CheckContext, load_kind
        cls = load_kind("database")
        assert not {"psycopg", "pymysql", "redis"} & set(sys.modules), "imported too early"
        check = cls("cache", cls.Options.model_validate({"engine": "redis"}))
        result = asyncio.run(check.run(CheckContext("cache", "testhost", 5.0)))
        assert result.metrics["up"] == 1.0, result
        print(sorted(m for m in ("psycopg", "pymysql", "redis") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['redis']"
