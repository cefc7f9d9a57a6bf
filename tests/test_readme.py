"""What README promises, checked: the example check runs, the commands it names exist."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.check import CheckContext
from agent.cli.main import build_parser
from agent.model import Status

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.fixture
def queue_api() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/queues/mail"
            body = json.dumps({"depth": 7}).encode() if found else b"{}"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
