"""The control socket: one JSON request and one answer per connection, whatever comes in."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.clock import SystemClock
from agent.control import (
    MAX_REQUEST,
    SOCKET_NAME,
    AgentNotRunning,
    BaselineRequest,
    ControlError,
    ControlServer,
    StatusRequest,
    ask,
    serve_control,
)
from agent.errors import StateError
from agent.reports import AgentInfo, BaselineReport, SeriesKey, SeriesState, StatusReport
from agent.store import Store
from agent.store.records import OutboxRow

INFO = AgentInfo(pid=4242, host="h1", version="1", started_at=1000.0, config_file="/c.yaml")


class FakeAnswers:
    def __init__(self) -> None:
        self.fail = False

    async def status(self) -> StatusReport:
        if self.fail:
            raise RuntimeError("a bug")
        return StatusReport(agent=INFO, as_of=2000.0, alerts=[], queued=[], queued_total=0,
                            dead=0, silences=[])

    async def baseline(self) -> BaselineReport:
        key = SeriesKey(host="h1", check="disk", metric="used_percent", labels={"mount": "/"})
        return BaselineReport(agent=INFO, as_of=2000.0, series=[
            SeriesState(key=key, data=bytes(range(256)), last_sample_at=1999.0)])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ControlServer, FakeAnswers]]:
    answers = FakeAnswers()
    server = await serve_control(tmp_path, answers, request_timeout=0.5)
    yield server, answers
    await server.close()


def _raw(path: Path, data: bytes, half_close: bool = True) -> dict[str, object]:
    """Send bytes as any client could, and read the one answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        if data:
            s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    answer: dict[str, object] = json.loads(b"".join(chunks))
    return answer


async def test_answers_status_and_baseline_as_the_models_sent(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    status = await asyncio.to_thread(ask, tmp_path, StatusRequest(), StatusReport)
    assert status == await FakeAnswers().status()
    baseline = await asyncio.to_thread(ask, tmp_path, BaselineRequest(), BaselineReport)
    assert baseline.series[0].data == bytes(range(256))  # binary survives the JSON
    assert baseline.series[0].key.key.labels == (("mount", "/"),)


async def test_the_socket_is_for_root_and_the_agents_group_and_goes_at_close(
        tmp_path: Path) -> None:
    server = await serve_control(tmp_path, FakeAnswers())
    path = tmp_path / SOCKET_NAME
    mode = path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    await server.close()
    assert not path.exists()
    with pytest.raises(AgentNotRunning):
        ask(tmp_path, StatusRequest(), StatusReport)


@pytest.mark.parametrize(("data", "words"), [
    (b"garbage\n", "Invalid JSON"),
    (b"[1, 2]\n", "Input should be an object"),
    (b'{"op": "shutdown"}\n', "op: Input should be 'status' or 'baseline'"),
    (b'{"op": "status", "extra": 1}\n', "extra: Extra inputs are not permitted"),
    (b'{"no": "op"}\n', "op: Field required"),
    (b"\xff\xfe\x00\n", "Invalid JSON"),
    (b"", "EOF while parsing"),
    (b'{"op": "status"' + b" " * MAX_REQUEST + b"}\n", "request longer than 64 KiB"),
], ids=["not-json", "not-an-object", "unknown-op", "unknown-field", "no-op", "binary",
        "empty", "too-long"])
async def test_malformed_requests_get_an_error_and_the_server_keeps_serving(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path, data: bytes,
        words: str) -> None:
    path = tmp_path / SOCKET_NAME
    answer = await asyncio.to_thread(_raw, path, data)
    assert answer["ok"] is False and words in str(answer["error"]), answer
    status = await asyncio.to_thread(ask, tmp_path, StatusRequest(), StatusReport)
    assert status.agent == INFO


async def test_a_client_that_sends_nothing_is_answered_after_the_timeout(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    answer = await asyncio.to_thread(_raw, tmp_path / SOCKET_NAME, b"", False)
    assert answer == {"ok": False, "result": None, "error": "no request within 0.5s"}


async def test_a_failing_answer_is_an_error_answer_not_a_dead_socket(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    _, answers = served
    answers.fail = True
    with pytest.raises(ControlError, match="the agent failed to answer status: RuntimeError"):
        await asyncio.to_thread(ask, tmp_path, StatusRequest(), StatusReport)
    answers.fail = False
    assert (await asyncio.to_thread(ask, tmp_path, StatusRequest(), StatusReport)).agent


async def test_an_answer_of_another_shape_is_a_clear_error(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="does not understand"):
        await asyncio.to_thread(ask, tmp_path, StatusRequest(), BaselineReport)


async def test_a_socket_left_by_a_dead_agent_is_replaced(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / SOCKET_NAME))
    stale.close()  # the file stays, nothing listens: as after kill -9
    with pytest.raises(AgentNotRunning):
        ask(tmp_path, StatusRequest(), StatusReport)
    server = await serve_control(tmp_path, FakeAnswers())
    try:
        assert (await asyncio.to_thread(ask, tmp_path, StatusRequest(), StatusReport)).agent
    finally:
        await server.close()


async def test_a_file_there_that_is_no_socket_is_left_alone_and_named(
        tmp_path: Path) -> None:
    (tmp_path / SOCKET_NAME).write_text("mine")
    with pytest.raises(StateError, match=f"{SOCKET_NAME} exists and is not a socket"):
        await serve_control(tmp_path, FakeAnswers())
    assert (tmp_path / SOCKET_NAME).read_text() == "mine"


async def test_a_state_directory_deeper_than_a_socket_address_still_works(
        tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(os.fsencode(deep / SOCKET_NAME)) > 108
    server = await serve_control(deep, FakeAnswers())
    try:
        assert (deep / SOCKET_NAME).exists()
        assert (await asyncio.to_thread(ask, deep, StatusRequest(), StatusReport)).agent
    finally:
        await server.close()
    assert not (deep / SOCKET_NAME).exists()


def test_no_state_directory_is_no_agent(tmp_path: Path) -> None:
    with pytest.raises(AgentNotRunning):
        ask(tmp_path / "missing", StatusRequest(), StatusReport)


class _SlowStore(Store):
    """A real store whose disk is slow to answer (a busy or failing device)."""

    def pending(self, limit: int = 1000) -> list[OutboxRow]:
        time.sleep(0.5)
        return super().pending(limit)


async def test_answering_status_reads_the_store_off_the_event_loop(tmp_path: Path) -> None:
    from agent.config import load_config
    from agent.control_answers import LiveAnswers
    from agent.latest import LatestRuns

    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\nchecks: []\n")
    config = load_config(path)
    Store.open(config.agent.state_dir).close()
    store = _SlowStore.open(config.agent.state_dir)
    answers = LiveAnswers(lambda: config, {}, {}, latest=LatestRuns(), store=store,
                          clock=SystemClock(), started_at=time.time())
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        report = await answers.status()
    finally:
        task.cancel()
        store.close()
    assert report.queued == [] and ticks >= 10  # the loop kept running meanwhile
