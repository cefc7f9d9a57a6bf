"""What README promises, checked: the example check runs, the commands it names exist."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.check import CheckContext
from agent.cli.main import build_parser
from agent.model import Status
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.fixture
def queue_api() -> Iterator[str]:
    depth = Reply(200, json.dumps({"depth": 7}).encode(), content_type="application/json")
    with Receiver(routes={"/queues/mail": depth}, default=Reply(404, b"{}")) as server:
        yield server.url("", scheme="http")


def test_the_example_check_in_the_readme_works(queue_api: str) -> None:
    code = re.search(r"```python\n(# mypkg/queue_check.py\n.*?)```", README, re.S)
    assert code, "the README's check example is missing"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    cls = namespace["QueueCheck"]

    async def run(queue: str) -> Any:
        check = cls("queue", cls.Options(url=queue_api, queue=queue))
        ctx = CheckContext(check_name="queue", host="h", timeout=5)
        try:
            return await check.run(ctx)
        finally:
            await ctx.http.aclose()

    ok = asyncio.run(run("mail"))
    assert (ok.status, ok.metrics) == (Status.OK, {"up": 1.0, "depth": 7.0})
    missing = asyncio.run(run("nope"))
    assert (missing.status, missing.summary) == (Status.CRITICAL, "expected 200, got 404")


def test_every_command_in_the_readme_table_exists() -> None:
    table = re.findall(r"^\| `watchkeeper ([a-z]+)(?: ([a-z]+))?", README, re.M)
    assert len(table) >= 8
    parser = build_parser()
    for command, sub in table:
        argv = [command, sub] if command == "notify" else [command]
        with pytest.raises(SystemExit) as done:
            parser.parse_args([*argv, "--help"])
        assert done.value.code == 0, argv
