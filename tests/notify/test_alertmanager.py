"""Alertmanager targets through the dispatcher and the refresh, against a real
Alertmanager (and a real two-member cluster) on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.clock import SystemClock
from agent.config.loader import parse_config
from agent.config.models import Channel
from agent.model import AlertKey, Status
from agent.notify.backoff import RetryPolicy
from agent.notify.native import NativeSender
from agent.store import Delivery, Store
from tests.config.config_support import resolve_fake
from tests.notify.queueing import Queue
from tests.servers import alertmanager
from tests.servers.alertmanager import Alertmanager
from tests.servers.http_server import Reply
from tests.servers.receiver import Receiver

NO_JITTER = RetryPolicy(first=10.0, cap=900.0, give_up_after=86400.0, jitter=0.0)
KEY = AlertKey("web1", "disks", "used_percent", (("mount", "/var"),))


def event(kind: EventKind = EventKind.FIRING, severity: Status = Status.CRITICAL,
          seq: int = 1, previous: Status | None = None, *, key: AlertKey = KEY,
          since: float | None = None) -> AlertEvent:
    now = time.time()
    return AlertEvent(kind, key, severity, now, "inc-1", "used_percent 93.2 > 90",
                      value=93.2, threshold="> 90", since=since or now - 60, seq=seq,
                      previous_severity=previous, tags=("team=ops", "infra"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    with alertmanager.running(tmp_path) as found:
        yield found


def channels(*urls: str) -> dict[str, Channel]:
    return {"am": Channel(name="am", urls=urls)}


class Rig:
    """A dispatcher over a real store, sending to Alertmanager targets."""

    def __init__(self, store: Store, urls: tuple[str, ...]) -> None:
        self.clock = SystemClock()
        self.queue = Queue(store, NO_JITTER)
        self.native = NativeSender(self.clock)
        self.dispatcher = self.queue.dispatcher(channels(*urls), self.clock,
                                                native=self.native.send)

    async def deliver(self, *events: AlertEvent, target: int = 0) -> int:
        self.queue.add(*(Delivery(e, "am", target) for e in events))
        return await self.dispatcher.run_once()


def labels(alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [a["labels"] for a in alerts]


async def test_a_firing_alert_shows_with_its_labels_and_a_resolve_ends_it(
        store: Store, am: Alertmanager) -> None:
    rig = Rig(store, (am.url(),))
    try:
        assert await rig.deliver(event()) == 1
        (alert,) = am.wait_for(lambda a: len(a) == 1)
        assert alert["labels"] == {
            "alertname": "disks", "host": "web1", "check": "disks",
            "metric": "used_percent", "severity": "critical", "mount": "/var",
            "team": "ops", "tags": "infra"}
        assert alert["annotations"]["description"] == "used_percent 93.2 > 90"
        assert alert["annotations"]["incident"] == "inc-1"
        assert alert["generatorURL"] == "watchkeeper://web1/disks"
        assert alert["status"]["state"] == "active"
        assert store.pending_count() == 0

        assert await rig.deliver(event(EventKind.RESOLVED, Status.OK, 2,
                                       Status.CRITICAL)) == 1
        am.wait_for(lambda a: a == [], what="no open alert")
    finally:
        await rig.native.aclose()


async def test_an_escalation_leaves_one_alert_at_the_new_severity(
        store: Store, am: Alertmanager) -> None:
    rig = Rig(store, (am.url(),))
    try:
        await rig.deliver(event(severity=Status.WARNING))
        am.wait_for(lambda a: [x["labels"]["severity"] for x in a] == ["warning"])
        await rig.deliver(event(EventKind.ESCALATED, Status.CRITICAL, 2, Status.WARNING))
        am.wait_for(lambda a: [x["labels"]["severity"] for x in a] == ["critical"],
                    what="only the critical alert")
    finally:
        await rig.native.aclose()


async def test_a_refresh_keeps_an_open_alert_open_and_ends_a_replaced_severity(
        store: Store, am: Alertmanager) -> None:
    url = am.url(query="resend=1s")
    rig = Rig(store, (url,))
    config = parse_config(f"channels:\n  am: '{url}'\n", resolve_kind=resolve_fake)
    rig.native.config = lambda: config
    try:
        start = time.time() - 60
        await rig.deliver(event(since=start))
        (first,) = am.wait_for(lambda a: len(a) == 1)
        time.sleep(1.1)
        # While flapping, its severity changed without an event: the refresh tells.
        opened = [event(EventKind.FIRING, Status.WARNING, since=start)]
        native = rig.native
        wait = await native.refresh_due(lambda u: opened if u == url else [])
        assert 0 < wait <= 1.0
        (now,) = am.wait_for(lambda a: [x["labels"]["severity"] for x in a] == ["warning"])
        assert now["endsAt"] > first["endsAt"]
        assert now["startsAt"] == first["startsAt"]
        # Not due again yet: nothing is posted.
        assert await native.refresh_due(lambda u: []) <= 1.0
    finally:
        await rig.native.aclose()


async def test_a_path_alertmanager_does_not_serve_is_a_permanent_error(
        store: Store, am: Alertmanager) -> None:
    rig = Rig(store, (f"alertmanager://127.0.0.1:{am.port}/no/such/prefix",))
    try:
        assert await rig.deliver(event()) == 1
        row = store.outbox_row(1)
        assert row is not None and row.dead and row.attempts == 1
        assert row.last_error is not None and "HTTP 404" in row.last_error
    finally:
        await rig.native.aclose()


async def test_an_alertmanager_that_is_down_is_retried(store: Store, tmp_path: Path) -> None:
    from tests.ports import free_port

    rig = Rig(store, (f"alertmanager://127.0.0.1:{free_port()}",))
    try:
        assert await rig.deliver(event()) == 1
        row = store.outbox_row(1)
        assert row is not None and not row.dead and row.sent_at is None
    finally:
        await rig.native.aclose()


async def test_both_members_of_a_cluster_hold_the_same_one_alert(
        store: Store, tmp_path: Path) -> None:
    with alertmanager.cluster(tmp_path) as (am1, am2):
        rig = Rig(store, (am1.url(), am2.url()))
        try:
            ev = event()
            rig.queue.add(Delivery(ev, "am", 0), Delivery(ev, "am", 1))
            assert await rig.dispatcher.run_once() == 2
            for member in (am1, am2):
                (alert,) = member.wait_for(lambda a: len(a) == 1)
                assert alert["labels"]["host"] == "web1"
            assert am1.alerts()[0]["fingerprint"] == am2.alerts()[0]["fingerprint"]
        finally:
            await rig.native.aclose()


async def test_a_refresh_that_fails_is_logged_once_and_its_recovery_too(
        receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    from agent.clock import FakeClock

    caplog.set_level(logging.INFO, "watchkeeper.notify")
    receiver.answer(*[Reply(503, b"busy")] * 3)
    url = f"alertmanager://127.0.0.1:{receiver.port}?resend=1s"
    config = parse_config(f"channels:\n  am: '{url}'\n", resolve_kind=resolve_fake)
    clock = FakeClock(time.time())
    native = NativeSender(clock, lambda: config)
    opened = [event()]
    try:
        for _ in range(4):
            assert await native.refresh_due(lambda u: opened) == 1.0
            clock.advance(1.0)
        said = [r.getMessage() for r in caplog.records]
        failed = [m for m in said if "again failed" in m]
        assert len(failed) == 1 and "HTTP 503" in failed[0] and url in failed[0]
        assert [m for m in said if "works again" in m] == [
            f"posting open alerts to {url} works again"]
        assert [r.path for r in receiver.requests()] == ["/api/v2/alerts"] * 4
    finally:
        await native.aclose()


async def test_the_agent_makes_its_sender_only_once_a_config_names_alertmanager(
        receiver: Receiver) -> None:
    import asyncio

    from agent.clock import FakeClock
    from agent.notify.native_slot import IDLE_CHECK, NativeSlot

    clock = FakeClock(time.time())
    url = f"alertmanager://127.0.0.1:{receiver.port}"
    without = parse_config("channels:\n  log: 'log://'\n", resolve_kind=resolve_fake)
    config = without
    slot = NativeSlot(clock, lambda: config)
    refresh = asyncio.create_task(slot.keep_alive(lambda u: [event()]))
    try:
        await clock.run_for(3 * IDLE_CHECK)
        assert slot._sender is None and receiver.requests() == []
        # A reload adds a target: its open alerts are posted within one look.
        config = parse_config(f"channels:\n  am: '{url}'\n", resolve_kind=resolve_fake)
        await clock.run_for(IDLE_CHECK)
        for _ in range(300):
            if receiver.requests():
                break
            await asyncio.sleep(0.01)
        assert [r.path for r in receiver.requests()] == ["/api/v2/alerts"]
    finally:
        refresh.cancel()
        await slot.aclose()
