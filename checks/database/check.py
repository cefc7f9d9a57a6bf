"""The ``database`` check: is a PostgreSQL, MySQL/MariaDB or Redis server up and healthy?

Each run connects (``connect_ms``), runs the custom ``query`` or a trivial one
(``query_ms``) and reads the engine's health figures (connections in use, replication lag,
...). The engine modules (``postgres``, ``mysql``, ``redis`` in this package) and their
drivers are imported only when a check of that engine runs.

Credentials come from the options (the config substitutes ``${VAR}`` / ``${file:...}``).
They never reach a summary, an error or a log: driver messages are scrubbed of the
password and the DSN before use, and the options' repr masks them.
"""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import enum
import getpass
import importlib
import importlib.util
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult, Status
from agent.textsafe import shortened
from agent.units import format_duration, format_percent, format_value
from checks.shared.net import host_port, server_host_option


class Engine(enum.Enum):
    """The database servers this check speaks to."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    REDIS = "redis"


_DEFAULT_PORTS = {Engine.POSTGRES: 5432, Engine.MYSQL: 3306, Engine.REDIS: 6379}
_SCHEMES = {Engine.POSTGRES: ("postgresql", "postgres"), Engine.MYSQL: ("mysql", "mariadb"),
            Engine.REDIS: ("redis", "rediss")}
_MODULES = {Engine.POSTGRES: "checks.database.postgres", Engine.MYSQL: "checks.database.mysql",
            Engine.REDIS: "checks.database.redis"}
#: engine -> (driver's import name, the watchkeeper extra that installs it)
_DRIVERS = {Engine.POSTGRES: ("psycopg", "postgres"), Engine.MYSQL: ("pymysql", "mysql"),
            Engine.REDIS: ("redis", "redis")}
#: DSN ``?key=value`` options PostgreSQL may carry into the fields (libpq's own names).
_PG_FIELD_PARAMS = ("host", "port", "user", "password", "dbname")
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: The metrics this check can report besides the custom query's (which the config names).
STANDARD_METRICS = frozenset({
    "up", "connect_ms", "query_ms", "connections_used_percent",
    "replication_lag_seconds", "oldest_xact_seconds", "database_size_bytes",
    "replica_lag_seconds", "threads_connected",
    "used_memory_percent", "connected_clients", "rejected_connections", "replication_link_up",
})


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom to connect. ``host`` starting with ``/`` is a Unix socket."""

    engine: Engine
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    tls: bool = False
    params: tuple[tuple[str, str], ...] = ()
    #: Texts to scrub from driver messages (password, DSN, their encoded forms).
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def address(self) -> str:
        """``127.0.0.1:5432``, ``[::1]:6379`` or a socket path."""
        if self.host.startswith("/"):
            return self.host
        return host_port(self.host, self.port)

    @property
    def display_user(self) -> str:
        """The user name the server sees (the OS user when none is configured)."""
        if self.user:
            return self.user
        if self.engine is Engine.REDIS:
            return "default"
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "(current user)"


class Reason(enum.Enum):
    """Why a connection or a query failed."""

    REFUSED = "refused"
    AUTH = "auth"
    TIMEOUT = "timeout"
    QUERY = "query"  # the server rejected the query (missing table, syntax, ...)
    VALUE = "value"  # the query ran but did not return one number
    OTHER = "other"


class ProbeError(Exception):
    """Raised by the engine modules; ``detail`` is the driver's text (scrubbed later)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


class Session(Protocol):
    """An open connection of one engine."""

    async def ping(self) -> None: ...

    async def query_value(self, query: str) -> object: ...

    async def stats(self) -> dict[str, float]: ...

    async def close(self) -> None: ...


Connector = Callable[[Target, float], Awaitable[Session]]


_URL_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_KEY_PASSWORD = re.compile(r"(password\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)", re.IGNORECASE)


def scrub(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` without any of ``secrets`` nor any credentials in URLs or ``password=``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return _KEY_PASSWORD.sub(r"\1***", text)


def to_number(value: object) -> float:
    """The custom query's result as a float; ProbeError(VALUE) when it is not one."""
    number: float | None = None
    if isinstance(value, bool | int | float | decimal.Decimal):
        number = float(value)
    elif isinstance(value, bytes | str):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        with contextlib.suppress(ValueError):
            number = float(text.strip())
    if number is None or not math.isfinite(number):
        shown = "NULL" if value is None else repr(value)  # None: SQL's NULL
        raise ProbeError(Reason.VALUE, f"query returned {shortened(shown)}, not a number")
    return number


def _secrets_of(password: str | None, dsn: str | None) -> tuple[str, ...]:
    found = [s for s in (password, dsn) if s]
    if password:
        found += [quote(password, safe=""), quote(password)]
    if dsn:
        raw = urlsplit(dsn).password
        if raw:
            found.append(raw)
    return tuple(found)


class DatabaseOptions(CheckOptions):
    """Options of a ``database`` check: the engine and either a ``dsn`` or the fields."""

    # Validation errors must not echo the input: it may hold the DSN with its password.
    model_config = ConfigDict(hide_input_in_errors=True)

    engine: Engine
    dsn: SecretStr | None = None
    host: str | None = None
    _host = field_validator("host")(server_host_option)  # a name or a socket dir, no DSN
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    #: SQL (PostgreSQL, MySQL) or a command line (Redis, e.g. ``LLEN jobs``) returning one
    #: number, reported as ``metric``.
    query: str | None = None
    metric: str = "query_value"

    @model_validator(mode="after")
    def _validate(self) -> DatabaseOptions:
        if self.dsn is not None:
            given = [n for n in ("host", "port", "user", "database") if getattr(self, n)]
            if given:
                raise ValueError(f"give either dsn or {'/'.join(given)}, not both")
        if self.query is not None and not self.query.strip():
            raise ValueError("query is empty")
        if not _METRIC_NAME.match(self.metric):
            raise ValueError(f"metric {self.metric!r} must be snake_case, like stuck_jobs")
        if self.metric in STANDARD_METRICS:
            raise ValueError(f"metric {self.metric!r} is already reported by this check")
        module, extra = _DRIVERS[self.engine]
        if importlib.util.find_spec(module) is None:
            raise ValueError(f"engine {self.engine.value} needs the {module} package: "
                             f"pip install 'watchkeeper[{extra}]'")
        self.target()  # surfaces DSN mistakes now, not at the first run
        return self

    def target(self) -> Target:
        """The connection target (raises ValueError on a bad DSN, never echoing it)."""
        password = self.password.get_secret_value() if self.password else None
        if self.dsn is None:
            target = Target(self.engine, self.host or "127.0.0.1",
                            self.port or _DEFAULT_PORTS[self.engine], self.user, password,
                            self.database, secrets=_secrets_of(password, None))
        else:
            target = _parse_dsn(self.engine, self.dsn.get_secret_value(), password)
        if (self.engine is Engine.REDIS and target.database is not None
                and not target.database.isdigit()):
            raise ValueError("a redis database is a number, like 0")
        return target


def _parse_dsn(engine: Engine, dsn: str, password: str | None) -> Target:
    parts = urlsplit(dsn)
    schemes = _SCHEMES[engine]
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"dsn must start with {' or '.join(s + '://' for s in schemes)} "
                         f"for engine {engine.value}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("dsn has an invalid port") from None
    dsn_password = unquote(parts.password) if parts.password is not None else None
    if dsn_password is not None and password is not None:
        raise ValueError("the password is given both in dsn and in password")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    fields = {k: params.pop(k) for k in _PG_FIELD_PARAMS
              if engine is Engine.POSTGRES and k in params}
    if params and engine is not Engine.POSTGRES:
        raise ValueError(f"dsn options are not supported for engine {engine.value}: "
                         f"{', '.join(sorted(params))}")
    if "port" in fields and not fields["port"].isdigit():
        raise ValueError("dsn has an invalid port")
    host = fields.get("host") or parts.hostname or "127.0.0.1"
    final_password = fields.get("password") or dsn_password or password
    return Target(
        engine=engine, host=host,
        port=int(fields.get("port") or port or _DEFAULT_PORTS[engine]),
        user=fields.get("user") or (unquote(parts.username) if parts.username else None),
        password=final_password,
        database=fields.get("dbname") or unquote(parts.path.lstrip("/")) or None,
        tls=parts.scheme.lower() == "rediss",
        params=tuple(sorted(params.items())),
        secrets=_secrets_of(final_password, dsn),
    )


def _connector(engine: Engine) -> Connector:
    """Import the engine module (and so its driver) on first use."""
    module = importlib.import_module(_MODULES[engine])
    return cast(Connector, module.connect)


def _budget(timeout: float) -> float:
    """A little under the agent's timeout, so the check reports its own timeout."""
    return max(timeout - min(0.5, timeout * 0.1), 0.01)


def _elapsed_ms(ctx: CheckContext, start: float) -> float:
    return round((ctx.clock.monotonic() - start) * 1000.0, 3)


class DatabaseCheck(Check[DatabaseOptions]):
    """Connects to a database server, runs a query and reads its health figures."""

    kind = "database"
    Options = DatabaseOptions
    #: Empty: the custom query's metric is named by the config (see STANDARD_METRICS).
    metrics: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def targets(cls, options: DatabaseOptions) -> tuple[str, ...]:
        if options.host is not None:
            return (options.host,)
        dsn = options.dsn.get_secret_value() if options.dsn is not None else ""
        if "://" in dsn:
            return (urlsplit(dsn).hostname or "localhost",)
        found = re.search(r"(?:^|\s)host\s*=\s*(\S+)", dsn)
        return (found.group(1),) if found else ("localhost",)

    def __init__(self, name: str, options: DatabaseOptions) -> None:
        super().__init__(name, options)
        self._session: Session | None = None

    async def run(self, ctx: CheckContext) -> CheckResult:
        target = self.options.target()
        try:
            result = await self._probe(ctx, target)
        except Exception as exc:  # never let a driver's text (maybe the DSN) escape unscrubbed
            text = scrub(f"{type(exc).__name__}: {exc}", target.secrets)
            result = CheckResult.unknown(f"database check failed: {text}")
        if result.status is not Status.OK:
            ctx.logger.debug("check %s: %s", self.name, result.summary)
        return result

    async def _probe(self, ctx: CheckContext, target: Target) -> CheckResult:
        connect = _connector(target.engine)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _budget(ctx.timeout)
        limit = format_duration(ctx.timeout)
        start = ctx.clock.monotonic()
        try:
            async with asyncio.timeout_at(deadline):
                session = await connect(target, max(deadline - loop.time(), 0.01))
        except TimeoutError:
            return self._down(Status.CRITICAL,
                              f"connection to {target.address} timed out after {limit}")
        except ProbeError as failure:
            return self._down(Status.CRITICAL, self._connect_summary(failure, target, limit))
        metrics: dict[str, float] = {"up": 1.0, "connect_ms": _elapsed_ms(ctx, start)}
        self._session = session
        try:
            async with asyncio.timeout_at(deadline):
                start = ctx.clock.monotonic()
                value: float | None = None
                if self.options.query:
                    value = to_number(await session.query_value(self.options.query))
                else:
                    await session.ping()
                metrics["query_ms"] = _elapsed_ms(ctx, start)
                metrics.update(await session.stats())
        except TimeoutError:
            summary = f"query timed out after {limit}"
            return CheckResult.failed(Status.CRITICAL, summary, error=summary, metrics=metrics)
        except ProbeError as failure:
            status, summary = self._query_summary(failure, target, limit)
            return CheckResult.failed(status, summary, error=summary, metrics=metrics)
        finally:
            self._session = None
            await _close_quietly(session)
        if value is not None:
            metrics[self.options.metric] = value
        return CheckResult.ok(self._ok_summary(target, metrics), metrics)

    @staticmethod
    def _down(status: Status, summary: str) -> CheckResult:
        return CheckResult.failed(status, summary, error=summary, metrics={"up": 0.0})

    @staticmethod
    def _connect_summary(failure: ProbeError, target: Target, limit: str) -> str:
        if failure.reason is Reason.REFUSED:
            return f"connection refused at {target.address}"
        if failure.reason is Reason.AUTH:
            return f"authentication failed for user {target.display_user}"
        if failure.reason is Reason.TIMEOUT:
            return f"connection to {target.address} timed out after {limit}"
        detail = scrub(failure.detail, target.secrets).strip() or "unknown error"
        return f"cannot connect to {target.address}: {detail}"

    @staticmethod
    def _query_summary(failure: ProbeError, target: Target,
                       limit: str) -> tuple[Status, str]:
        detail = scrub(failure.detail, target.secrets).strip() or "unknown error"
        if failure.reason is Reason.TIMEOUT:
            return Status.CRITICAL, f"query timed out after {limit}"
        if failure.reason is Reason.QUERY:
            return Status.CRITICAL, detail
        if failure.reason is Reason.VALUE:
            return Status.UNKNOWN, detail
        if failure.reason is Reason.AUTH:  # e.g. Redis NOAUTH on the first command
            return Status.CRITICAL, f"authentication failed for user {target.display_user}"
        return Status.CRITICAL, f"query failed: {detail}"

    def _ok_summary(self, target: Target, metrics: dict[str, float]) -> str:
        parts = [f"connect {format_duration(metrics['connect_ms'] / 1000)}",
                 f"query {format_duration(metrics['query_ms'] / 1000)}"]
        if "connections_used_percent" in metrics:
            parts.append(f"{format_percent(metrics['connections_used_percent'])} of "
                         "connections used")
        if self.options.metric in metrics:
            metric = self.options.metric
            parts.append(f"{metric} = {format_value(metric, metrics[metric])}")
        return f"{target.engine.value} at {target.address} up: {', '.join(parts)}"

    async def close(self) -> None:
        """Close the connection of a run still in progress (normally there is none)."""
        session, self._session = self._session, None
        if session is not None:
            await _close_quietly(session)


async def _close_quietly(session: Session) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2.0):
            await session.close()
