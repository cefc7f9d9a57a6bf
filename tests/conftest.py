"""Suite-wide test setup: local database servers are required in CI, optional elsewhere."""

from __future__ import annotations

import os
import socket

import pytest

#: Test modules that talk to a local database server, and the port it listens on.
SERVICE_MODULES = {
    "test_database_postgres": ("PostgreSQL", 5432),
    "test_database_mysql": ("MariaDB/MySQL", 3306),
    "test_database_redis": ("Redis", 6379),
}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests of a database server that is not running, unless CI requires it."""
    if os.environ.get("WATCHKEEPER_REQUIRE_SERVICES") == "1":
        return
    down: dict[str, str] = {}
    for module, (name, port) in SERVICE_MODULES.items():
        if not _listening(port):
            down[module] = f"{name} is not listening on 127.0.0.1:{port}"
    for item in items:
        mod = getattr(item, "module", None)
        module = mod.__name__.rsplit(".", 1)[-1] if mod is not None else ""
        if module in down:
            item.add_marker(pytest.mark.skip(reason=down[module]))
