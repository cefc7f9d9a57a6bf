"""Running the database check once, as the engine tests do."""

from __future__ import annotations

from agent.check import CheckContext
from agent.model import CheckResult
from checks.database.check import DatabaseCheck, DatabaseOptions


async def probe(options: dict[str, object], timeout: float = 5.0) -> CheckResult:
    """One run of a database check with ``options``, its connection closed afterwards."""
    check = DatabaseCheck("db", DatabaseOptions.model_validate(options))
    try:
        return await check.run(CheckContext("db", "testhost", timeout))
    finally:
        await check.close()
