"""Redis for the ``database`` check (redis-py asyncio). Imported only when used."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from checks.database.check import ProbeError, Reason, Target


def _number(info: Mapping[str, Any], key: str) -> float | None:
    try:
        return float(info[key])
    except (KeyError, TypeError, ValueError):
        return None


def redis_metrics(info: Mapping[str, Any]) -> dict[str, float]:
    """Metrics from ``INFO``: ``used_memory_percent`` only with a ``maxmemory``,
    ``replication_link_up`` only on a replica."""
    out: dict[str, float] = {}
    clients = _number(info, "connected_clients")
    if clients is not None:
        out["connected_clients"] = clients
        maxclients = _number(info, "maxclients")
        if maxclients:
            out["connections_used_percent"] = round(100.0 * clients / maxclients, 3)
    rejected = _number(info, "rejected_connections")
    if rejected is not None:
        out["rejected_connections"] = rejected
    used, limit = _number(info, "used_memory"), _number(info, "maxmemory")
    if used is not None and limit:
        out["used_memory_percent"] = round(100.0 * used / limit, 3)
    if info.get("role") == "slave":
        out["replication_link_up"] = 1.0 if info.get("master_link_status") == "up" else 0.0
    return out


def _refused(exc: BaseException) -> bool:
    """Whether a ConnectionRefusedError is behind ``exc`` (redis-py rewords it)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _failure(exc: rx.RedisError) -> ProbeError:
    text = str(exc)
    low = text.lower()
    if isinstance(exc, rx.AuthenticationError) or "wrongpass" in low or "noauth" in low:
        return ProbeError(Reason.AUTH)
    if isinstance(exc, rx.TimeoutError):
        return ProbeError(Reason.TIMEOUT)
    if isinstance(exc, rx.ConnectionError):
        if _refused(exc) or "refused" in low:
            return ProbeError(Reason.REFUSED)
        return ProbeError(Reason.OTHER, text)
    if isinstance(exc, rx.ResponseError):
        return ProbeError(Reason.QUERY, text)
    return ProbeError(Reason.OTHER, text)


async def connect(target: Target, timeout: float) -> RedisSession:
    """Connect and authenticate (one connection, no retries: a failure is the answer)."""
    kwargs: dict[str, Any] = {
        "username": target.user, "password": target.password,
        "db": int(target.database or 0), "socket_connect_timeout": timeout,
        "socket_timeout": timeout, "single_connection_client": True,
        "retry": Retry(NoBackoff(), 0), "client_name": "watchkeeper",
    }
    if target.host.startswith("/"):
        kwargs["unix_socket_path"] = target.host
    else:
        kwargs.update(host=target.host, port=target.port, ssl=target.tls)
    client = aioredis.Redis(**kwargs)
    try:
        await client.initialize()
    except rx.RedisError as exc:
        await client.aclose()
        raise _failure(exc) from None
    return RedisSession(client)


class RedisSession:
    """An open Redis connection."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except rx.RedisError as exc:
            raise _failure(exc) from None

    async def query_value(self, query: str) -> object:
        """Run a command line such as ``LLEN jobs`` and return its reply."""
        try:
            argv = shlex.split(query)
        except ValueError as exc:
            raise ProbeError(Reason.QUERY, f"cannot read query: {exc}") from None
        if not argv:
            raise ProbeError(Reason.QUERY, "query is empty")
        try:
            execute: Any = self._client.execute_command  # untyped in redis-py
            reply: object = await execute(*argv)
        except rx.RedisError as exc:
            raise _failure(exc) from None
        if reply is None:
            raise ProbeError(Reason.VALUE, "query returned nothing (nil)")
        return reply

    async def stats(self) -> dict[str, float]:
        try:
            info: dict[str, Any] = await self._client.info()
        except rx.ResponseError:  # INFO renamed or forbidden by an ACL
            return {}
        except rx.RedisError as exc:
            raise _failure(exc) from None
        if "maxclients" not in info:  # INFO shows it from Redis 7; older: CONFIG GET
            try:
                reply = await self._client.config_get("maxclients")
                info["maxclients"] = reply.get("maxclients")
            except rx.RedisError:
                pass
        return redis_metrics(info)

    async def close(self) -> None:
        await self._client.aclose()
