"""Sending through the child: one result per target, never an exception, secrets masked."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from agent.model import Status
from agent.notify import sender, sender_child
from agent.notify.message import Message
from agent.notify.protocol import SendResult
from tests.notify.children import gone
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

MSG = Message("CRITICAL web1 disk: used_percent 93.2 > 90", "Host: web1\nkey: k", Status.CRITICAL)


async def test_send_gives_one_result_per_target(receiver: Receiver) -> None:
    targets = [receiver.url("in", auth="user:S3cretPw@"), "log://",
               "notaservice://Tok3nTok3nTok3n"]
    results = await sender.send(targets, MSG, timeout=30)
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].permanent
    assert results[2].error is not None and "Tok3nTok3nTok3n" not in results[2].error
    assert "notaservice://****" in results[2].error
    posted = receiver.wait_for(1)
    assert [p["title"] for p in posted] == [MSG.title]
    assert posted[0]["message"] == MSG.body
    assert [r.path for r in receiver.requests()] == ["/in"]


async def test_unreachable_target_is_a_retryable_failure() -> None:
    results = await sender.send(["json://127.0.0.1:9/x?token=SEKRIT"], MSG, timeout=30)
    assert results == [SendResult(False, results[0].error, False)]
    assert results[0].error and "SEKRIT" not in results[0].error


@pytest.mark.parametrize(("script", "why"), [
    ("import sys; sys.exit(3)", "exited with code 3"),
    ("print('garbage'); print('{\"nope\": 1}')", "2 unreadable line(s)"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "exited with code -9"),
])
async def test_broken_child_yields_retryable_failures(monkeypatch: pytest.MonkeyPatch,
                                                      script: str, why: str) -> None:
    monkeypatch.setattr(sender_child, "child_command", lambda: [sys.executable, "-c", script])
    results = await sender.send(["log://", "json://127.0.0.1:9/x"], MSG, timeout=30)
    assert len(results) == 2
    for r in results:
        assert not r.ok and not r.permanent
        assert r.error is not None and why in r.error


async def test_hung_child_is_killed_and_earlier_answers_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    script = ("import json, sys, time; rid = json.loads(sys.stdin.readline())['id']; "
              "print(json.dumps({'id': rid, 'message': 0, 'target': 0, 'ok': True}), "
              "flush=True); time.sleep(60)  # wk_hung_child_marker")
    monkeypatch.setattr(sender_child, "child_command", lambda: [sys.executable, "-c", script])
    started = time.monotonic()
    results = await sender.send(["log://", "log://"], MSG, timeout=1.5)
    assert time.monotonic() - started < 10
    assert results[0] == SendResult(True)
    assert not results[1].ok and not results[1].permanent
    assert results[1].error is not None and "did not finish within 1.5s" in results[1].error
    # The child is gone, not left behind.
    ps = subprocess.run(["pgrep", "-f", "wk_hung_child_marker"], capture_output=True,
                        check=False)
    assert ps.stdout.strip() == b""


async def test_child_that_cannot_start_yields_retryable_failures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender_child, "child_command", lambda: ["/nonexistent/python"])
    results = await sender.send(["log://"], MSG, timeout=5)
    assert not results[0].ok and not results[0].permanent
    assert results[0].error is not None and "could not start" in results[0].error


async def test_validate_urls_asks_one_child_about_all_urls() -> None:
    verdicts = await sender.validate_urls(
        ["log://", "notaservice://user:Tok3nTok3nTok3n@relay.example.com:2525/",
         "mailto://user:Hunter2Pass@smtp.example.com", "json://127.0.0.1:8080/x"])
    assert [v.error is None for v in verdicts] == [True, False, True, True]
    refused = verdicts[1]
    assert refused.form.shown == "notaservice://user:****@relay.example.com:2525/"
    assert refused.error is not None and "Tok3nTok3nTok3n" not in refused.error
    assert verdicts[2].form.shown == "mailto://user:****@smtp.example.com"
    assert verdicts[2].form.secrets == ("Hunter2Pass",)
    assert verdicts[3].form.shown == "json://127.0.0.1:8080/x"


async def test_urls_the_child_gave_no_answer_for_are_refused_masked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender_child, "child_command", lambda: [sys.executable, "-c", "pass"])
    verdicts = await sender.validate_urls(["opsgenie://Key0123456789abcdef"])
    assert verdicts[0].error == "could not validate: notification sender exited with code 0"
    assert verdicts[0].form.shown == "opsgenie://****"


def test_agent_side_never_imports_apprise() -> None:
    code = ("import sys, agent.notify.dispatcher, agent.notify.sender, agent.notify.routing, "
            "agent.store; print('apprise' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


async def test_the_warm_child_is_reused_across_sends_and_exits_when_idle(
        receiver: Receiver) -> None:
    async with sender.WarmSender(idle=0.5) as warm:
        first = await warm.send_many([receiver.url("a")], [MSG], timeout=30)
        pid = warm.pid
        assert pid is not None
        second = await warm.send_many([receiver.url("b"), "log://"], [MSG, MSG], timeout=30)
        assert [r.ok for row in first + second for r in row] == [True] * 5
        assert warm.pid == pid and warm.started == 1
        assert await gone(pid), "the idle child did not exit"
        assert warm.pid is None
        third = await warm.send_many([receiver.url("c")], [MSG], timeout=30)
        assert third == [[SendResult(True)]]
        assert warm.started == 2 and warm.pid not in (None, pid)
    assert len(receiver.wait_for(4)) == 4


async def test_concurrent_sends_share_one_child(receiver: Receiver) -> None:
    async with sender.WarmSender() as warm:
        rows = await asyncio.gather(*(warm.send_many([receiver.url(f"p{i}")], [MSG], 30)
                                      for i in range(6)))
        assert [row[0][0].ok for row in rows] == [True] * 6
        assert warm.started == 1
    assert sorted(r.path for r in receiver.requests()) == [f"/p{i}" for i in range(6)]


async def test_aclose_stops_the_child() -> None:
    warm = sender.WarmSender()
    assert (await warm.send_many(["log://"], [MSG], 30))[0][0].ok
    pid = warm.pid
    assert pid is not None
    await warm.aclose()
    assert await gone(pid, within=0.5)


async def test_a_child_killed_mid_send_fails_that_send_and_the_next_gets_a_fresh_one(
        receiver: Receiver) -> None:
    receiver.answer(Reply(hang=True))
    async with sender.WarmSender() as warm:
        task = asyncio.create_task(warm.send_many([receiver.url("slow")], [MSG], 60))
        await asyncio.to_thread(receiver.wait_for_requests, 1)
        pid = warm.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        [[result]] = await asyncio.wait_for(task, 20)
        assert not result.ok and not result.permanent
        assert result.error == "notification sender exited with code -9"
        assert await warm.send_many([receiver.url("again")], [MSG], 30) == [[SendResult(True)]]
        assert warm.started == 2


async def test_a_timed_out_request_retires_its_child_without_failing_the_others(
        receiver: Receiver) -> None:
    receiver.routes["/slow"] = Reply(hang=True)
    async with sender.WarmSender() as warm:
        slow = asyncio.create_task(warm.send_many([receiver.url("slow")], [MSG], 2.0))
        await asyncio.to_thread(receiver.wait_for_requests, 1)
        wedged = warm.pid
        assert wedged is not None
        [[late]] = await slow
        assert late == SendResult(False, "notification sender did not finish within 2s")
        assert await gone(wedged)
        assert await warm.send_many([receiver.url("fine")], [MSG], 30) == [[SendResult(True)]]
        assert warm.pid not in (None, wedged)


async def test_nothing_secret_reaches_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    async with sender.WarmSender() as warm:
        results = await warm.send_many(["tgram://Bott0kenSecret/chatid",
                                        "json://127.0.0.1:9/x?token=Tok3nSecret"], [MSG], 30)
    assert [r.ok for r in results[0]] == [False, False]
    err = capfd.readouterr().err
    assert "Bott0kenSecret" not in err and "Tok3nSecret" not in err
