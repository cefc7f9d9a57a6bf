"""The control socket: one JSON request and one answer per connection, whatever comes in."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.clock import SystemClock
from agent.control import (
    MAX_REQUEST,
    SOCKET_NAME,
    Acked,
    AckRequest,
    AgentNotRunning,
    BaselineRequest,
    ControlError,
    ControlServer,
    RequestRefusedError,
    SilenceAdded,
    SilenceAddRequest,
    SilenceRemoved,
    SilenceRemoveRequest,
    StatusRequest,
    UnackRequest,
    ask,
    serve_control,
)
from agent.errors import StateError
from agent.reports import AgentInfo, BaselineReport, SeriesKey, SeriesState, StatusReport

INFO = AgentInfo(pid=4242, host="h1", version="1", started_at=1000.0, config_file="/c.yaml")


class FakeAnswers:
    def __init__(self) -> None:
        self.fail = False
        self.added: list[SilenceAddRequest] = []

    async def status(self) -> StatusReport:
        if self.fail:
            raise RuntimeError("a bug")
        return StatusReport(agent=INFO, as_of=2000.0, alerts=[], queued=[], queued_total=0,
                            dead=0, silences=[])

    async def baseline(self) -> BaselineReport:
        key = SeriesKey(host="h1", check="disk", metric="used_percent", labels={"mount": "/"})
        return BaselineReport(agent=INFO, as_of=2000.0, series=[
            SeriesState(key=key, data=bytes(range(256)), last_sample_at=1999.0)])

    async def add_silence(self, request: SilenceAddRequest) -> SilenceAdded:
        self.added.append(request)
        return SilenceAdded(id=7, starts_at=1000.0, ends_at=1000.0 + request.duration)

    async def remove_silence(self, request: SilenceRemoveRequest) -> SilenceRemoved:
        return SilenceRemoved(removed=request.id == 7)

    async def ack(self, request: AckRequest | UnackRequest) -> Acked:
        if request.incident != "inc-1":
            raise RequestRefusedError(f"no open incident {request.incident!r}")
        return Acked(incident="inc-1", alert="h1/disk/used_percent",
                     acked_by=None if isinstance(request, UnackRequest) else request.by)


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


async def test_silences_are_added_and_removed_through_the_socket(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    _, answers = served
    added = await asyncio.to_thread(ask, tmp_path, SilenceAddRequest(
        check="db-*", metric=None, duration=3600, reason="reboot"), SilenceAdded)
    assert (added.id, added.ends_at) == (7, 4600.0)
    assert answers.added[0].check == "db-*" and answers.added[0].reason == "reboot"
    removed = await asyncio.to_thread(ask, tmp_path, SilenceRemoveRequest(id=7),
                                      SilenceRemoved)
    assert removed.removed
    assert not (await asyncio.to_thread(ask, tmp_path, SilenceRemoveRequest(id=8),
                                        SilenceRemoved)).removed


async def test_an_ack_is_answered_and_a_refusal_comes_back_in_the_agents_words(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path) -> None:
    done = await asyncio.to_thread(ask, tmp_path, AckRequest(incident="inc-1", by="alice"),
                                   Acked)
    assert done.acked_by == "alice"
    with pytest.raises(ControlError, match="no open incident 'inc-9'"):
        await asyncio.to_thread(ask, tmp_path, UnackRequest(incident="inc-9", by="bob"),
                                Acked)


@pytest.mark.parametrize("request_line", [
    b'{"op": "silence_add", "check": "x", "duration": 1}',
    b'{"op": "silence_add", "check": "", "duration": 3600}',
    b'{"op": "silence_add", "check": "x", "duration": 1e300}',
    b'{"op": "silence_remove", "id": 0}',
    b'{"op": "silence_add", "check": "x", "duration": 3600, "reason": "a\\nb"}',
    b'{"op": "silence_add", "check": "x", "duration": 3600, "reason": "\\u001b[2J"}',
], ids=["too-short", "no-check", "too-long", "no-id", "reason-newline", "reason-escape"])
async def test_a_silence_request_out_of_bounds_is_refused(
        served: tuple[ControlServer, FakeAnswers], tmp_path: Path,
        request_line: bytes) -> None:
    _, answers = served
    answer = await asyncio.to_thread(_raw, tmp_path / SOCKET_NAME, request_line + b"\n")
    assert answer["ok"] is False and "malformed request" in str(answer["error"])
    assert answers.added == []


@pytest.mark.parametrize(("data", "words"), [
    (b"garbage\n", "Invalid JSON"),
    (b"[1, 2]\n", "Input should be an object"),
    (b'{"op": "shutdown"}\n', "op: Input should be 'status', 'baseline', 'silence_add', "
                              "'silence_remove', 'ack' or 'unack'"),
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


async def test_status_answers_from_memory_with_no_store_at_all(tmp_path: Path) -> None:
    from agent.alerting.state import AlertEvent, EventKind
    from agent.config import load_config
    from agent.control_answers import LiveAnswers
    from agent.latest import LatestRuns
    from agent.live_state import LiveQueue, SilenceBook
    from agent.model import AlertKey, Status
    from agent.notify.outbox import Outbox
    from agent.store import Delivery

    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path / 'state'}\n"
                    "channels:\n  ops: ['json://127.0.0.1:9/x']\nchecks: []\n")
    config = load_config(path)
    clock = SystemClock()
    box = Outbox()
    event = AlertEvent(EventKind.FIRING, AlertKey("h1", "disk", "used_percent"),
                       Status.CRITICAL, clock.now(), "inc-1", "full")
    box.add([Delivery(event, "ops", 0)])
    book = SilenceBook([], "h1")
    book.add("db-*", None, starts_at=clock.now() - 1, ends_at=clock.now() + 60, reason="x",
             created_at=clock.now())
    answers = LiveAnswers(lambda: config, {}, {}, latest=LatestRuns(), store=None,
                          queue=LiveQueue(box, book, clock, lambda: 3), clock=clock,
                          started_at=clock.now(),
                          problems=lambda: ["cannot write the state database: full"])
    report = await answers.status()
    assert [q.alert for q in report.queued] == ["h1/disk/used_percent"]
    assert report.queued_total == 1 and report.dead == 3
    assert [s.check_glob for s in report.silences] == ["db-*"]
    assert report.agent is not None
    assert report.agent.problems == ["cannot write the state database: full"]
