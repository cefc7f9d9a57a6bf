"""The versioned webhook through the dispatcher, posted to a real local receiver that
validates every body against the schema and checks its signature."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.clock import FakeClock
from agent.config.models import Channel
from agent.model import AlertKey, Status
from agent.notify import masking
from agent.notify.backoff import RetryPolicy
from agent.notify.native import NativeSender
from agent.notify.native_urls import native_form
from agent.notify.webhook import signature
from agent.store import Delivery, Store
from tests.notify.queueing import Queue
from tests.servers.http_server import Reply
from tests.servers.webhook_receiver import SchemaReceiver, signature_problem

T0 = 1_714_564_800.0
SECRET = "Wh00kS3cretValue42"
NO_JITTER = RetryPolicy(first=10.0, cap=900.0, give_up_after=86400.0, jitter=0.0)


def event(incident: str = "inc-1", kind: EventKind = EventKind.FIRING, seq: int = 1,
          severity: Status = Status.CRITICAL) -> AlertEvent:
    return AlertEvent(kind, AlertKey("web1", "disk", "used_percent", (("mount", "/"),)),
                      severity, T0, incident, "used_percent 93.2 > 90", value=93.2,
                      threshold="> 90", since=T0 - 60, seq=seq,
                      previous_severity=Status.CRITICAL if severity is Status.OK else None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


@pytest.fixture
def hook() -> Iterator[SchemaReceiver]:
    with SchemaReceiver(secret=SECRET) as r:
        yield r


def channel(url: str, group_wait: float = 0.0) -> dict[str, Channel]:
    masking.remember(url, native_form(url))
    return {"hook": Channel(name="hook", urls=(url,), group_wait=group_wait)}


async def test_each_notification_is_one_signed_valid_document(
        store: Store, hook: SchemaReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "watchkeeper.notify")
    clock = FakeClock(T0)
    queue = Queue(store, NO_JITTER)
    url = hook.webhook_url("in", f"secret={SECRET}&team=ops")
    queue.add(Delivery(event("inc-1"), "hook", 0), Delivery(event("inc-2"), "hook", 0))
    native = NativeSender(clock)
    d = queue.dispatcher(channel(url), clock, native=native.send)
    try:
        assert await d.run_once() == 2
        docs = hook.wait_for(2)
        assert hook.invalid == []
        assert sorted(doc["key"] for doc in docs) == ["inc-1:1", "inc-2:1"]
        (req, _) = hook.requests()
        assert req.target == "/in?team=ops"  # the secret never travels in the URL
        assert req.headers["x-watchkeeper-schema"] == "watchkeeper.alert/v1"
        assert req.headers["x-watchkeeper-key"] in ("inc-1:1", "inc-2:1")
        assert req.headers["x-watchkeeper-timestamp"] == str(int(T0))
        assert signature_problem(req, SECRET, now=T0) is None
        assert signature_problem(req, "another secret") is not None
        assert store.pending_count() == 0
    finally:
        await native.aclose()
    assert SECRET not in caplog.text and "****" in caplog.text


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1714564800.{}", hashlib.sha256).hexdigest()
    assert signature("k", 1714564800, b"{}") == f"sha256={expected}"


async def test_a_grouped_channel_sends_one_document_listing_the_alerts(
        store: Store, hook: SchemaReceiver) -> None:
    clock = FakeClock(T0)
    queue = Queue(store, NO_JITTER)
    hook.secret = None
    queue.add(*(Delivery(event(f"inc-{i}"), "hook", 0) for i in range(3)))
    native = NativeSender(clock)
    d = queue.dispatcher(channel(hook.webhook_url(), group_wait=30.0), clock,
                         native=native.send)
    try:
        assert await d.run_once() == 0  # held for group_wait
        clock.advance(30)
        assert await d.run_once() == 3
        (doc,) = hook.wait_for(1)
        assert hook.invalid == []
        assert [a["incident"] for a in doc["alerts"]] == ["inc-0", "inc-1", "inc-2"]
        assert doc["summary"].startswith("3 alerts on web1")
        assert "x-watchkeeper-signature" not in hook.requests()[0].headers
    finally:
        await native.aclose()


@pytest.mark.parametrize(("reply", "dead", "attempts"), [
    (Reply(400, b"unknown field"), True, 1),
    (Reply(404, b"no such hook"), True, 1),
    (Reply(301, b"", headers=(("Location", "https://elsewhere/"),)), True, 1),
    (Reply(429, b"slow down"), False, 1),
    (Reply(503, b"busy"), False, 1),
    (Reply(drop=True), False, 1),
    (Reply(hang=True), False, 1),
    (Reply(200, body_size=10_000_000, delay=0.0, stall_after=100), False, 1),
], ids=["400", "404", "301", "429", "503", "dropped", "hangs", "stalls-mid-body"])
async def test_a_refusal_is_permanent_and_a_passing_failure_is_retried(
        store: Store, hook: SchemaReceiver, reply: Reply, dead: bool, attempts: int) -> None:
    clock = FakeClock(T0)
    queue = Queue(store, NO_JITTER)
    hook.answer(reply)
    queue.add(Delivery(event(), "hook", 0))
    native = NativeSender(clock)
    d = queue.dispatcher(channel(hook.webhook_url(query=f"secret={SECRET}")), clock,
                         native=native.send, send_timeout=1.0)
    try:
        assert await d.run_once() == 1
        row = store.outbox_row(1)
        assert row is not None
        assert (row.dead, row.attempts, row.sent_at) == (dead, attempts, None)
        assert row.last_error and SECRET not in row.last_error
        if not dead:
            clock.advance(10)
            assert await d.run_once() == 1
            assert len(hook.wait_for(1)) == 1
            sent = store.outbox_row(1)
            assert sent is not None and sent.sent_at is not None
    finally:
        await native.aclose()


async def test_a_receiver_that_is_down_is_retried_and_the_rest_wait(
        store: Store, hook: SchemaReceiver) -> None:
    clock = FakeClock(T0)
    queue = Queue(store, NO_JITTER)
    hook.secret = None
    hook.stop()
    queue.add(Delivery(event("inc-1"), "hook", 0),
              Delivery(event("inc-1", EventKind.RESOLVED, 2, Status.OK), "hook", 0))
    native = NativeSender(clock)
    d = queue.dispatcher(channel(hook.webhook_url()), clock, native=native.send)
    try:
        assert await d.run_once() == 1  # the first of the incident; the resolve waits
        hook.start()
        clock.advance(10)
        assert await d.run_once() == 1
        assert await d.run_once() == 1
        docs = hook.wait_for(2)
        assert [(x["event"], x["status"]) for x in docs] == [("firing", "firing"),
                                                              ("resolved", "resolved")]
        assert hook.invalid == []
    finally:
        await native.aclose()
