"""The ``database`` check kind: PostgreSQL, MySQL/MariaDB and Redis, each engine in a module
of its own, imported only when a check uses it."""

from checks.database.check import DatabaseCheck

__all__ = ["DatabaseCheck"]
