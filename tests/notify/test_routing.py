"""Routing: the union of the channels of every matching route."""

from __future__ import annotations

import pytest

from agent.alerting.state import AlertEvent, EventKind
from agent.config.models import Channel, Route
from agent.model import AlertKey, Status
from agent.notify.routing import deliveries, route
from agent.store import Delivery

CHANNELS = {name: Channel(name=name, urls=tuple(f"log://{name}{i}" for i in range(n)))
            for name, n in [("ops", 1), ("sms", 2), ("pager", 1), ("chat", 1)]}


def ev(severity: Status = Status.CRITICAL, kind: EventKind = EventKind.FIRING,
       check: str = "disk", previous: Status | None = None) -> AlertEvent:
    return AlertEvent(kind, AlertKey("web1", check, "used_percent"), severity, 0.0, "inc",
                      "why", previous_severity=previous)


R_CRIT_SMS = Route(channels=("sms",), severity=(Status.CRITICAL,))
R_PROD_PAGER = Route(channels=("pager", "ops"), tags=("prod",))
R_SHOP_CHAT = Route(channels=("chat",), checks=("shop",))
R_ALL_OPS = Route(channels=("ops",))
R_WARN_PROD_DISK = Route(channels=("chat",), severity=(Status.WARNING,), tags=("prod",),
                         checks=("disk",))


@pytest.mark.parametrize(("event", "tags", "routes", "expected"), [
    (ev(), (), (), ["ops", "sms", "pager", "chat"]),
    (ev(), (), (R_CRIT_SMS,), ["sms"]),
    (ev(Status.WARNING), (), (R_CRIT_SMS,), []),
    (ev(), ("prod",), (R_CRIT_SMS, R_PROD_PAGER), ["sms", "pager", "ops"]),
    (ev(), ("staging",), (R_PROD_PAGER,), []),
    (ev(check="shop"), (), (R_SHOP_CHAT, R_ALL_OPS), ["chat", "ops"]),
    (ev(), (), (R_SHOP_CHAT,), []),
    (ev(), ("prod",), (R_PROD_PAGER, R_ALL_OPS), ["pager", "ops"]),
    (ev(Status.WARNING), ("prod", "db"), (R_WARN_PROD_DISK,), ["chat"]),
    (ev(Status.WARNING), ("db",), (R_WARN_PROD_DISK,), []),
    (ev(Status.CRITICAL), ("prod",), (R_WARN_PROD_DISK,), []),
    # RESOLVED goes where the alert went: by the severity it had.
    (ev(Status.CRITICAL, EventKind.RESOLVED), (), (R_CRIT_SMS,), ["sms"]),
    (ev(Status.OK, EventKind.RESOLVED, previous=Status.CRITICAL), (), (R_CRIT_SMS,), ["sms"]),
    (ev(Status.OK, EventKind.RESOLVED, previous=Status.WARNING), (), (R_CRIT_SMS,), []),
    (ev(), (), (Route(channels=("gone", "ops")),), ["ops"]),
], ids=[
    "no-routes-every-channel", "severity-matches", "severity-differs", "union-in-order",
    "tags-no-overlap", "check-matches", "check-differs", "dedup", "all-conditions-hold",
    "one-condition-fails", "severity-fails", "resolved-with-severity",
    "resolved-with-previous", "resolved-previous-differs", "unknown-channel-skipped",
])
def test_route(event: AlertEvent, tags: tuple[str, ...], routes: tuple[Route, ...],
               expected: list[str]) -> None:
    assert route(event, tags, routes, CHANNELS) == expected


def test_event_tags_count_like_check_tags() -> None:
    event = AlertEvent(EventKind.FIRING, AlertKey("h", "c", "m"), Status.CRITICAL, 0.0, "i",
                       "w", tags=("prod",))
    assert route(event, (), (R_PROD_PAGER,), CHANNELS) == ["pager", "ops"]


def test_deliveries_one_per_url_of_each_routed_channel() -> None:
    event = ev()
    assert deliveries(event, (), (R_CRIT_SMS, R_ALL_OPS), CHANNELS) == [
        Delivery(event, "sms", 0), Delivery(event, "sms", 1), Delivery(event, "ops", 0)]
