"""Which channels an event goes to: the union of every matching route's channels."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent
from agent.notify.message import effective_severity
from agent.store.records import Delivery

if TYPE_CHECKING:
    from agent.config.models import Channel, Route


def route_matches(route: Route, event: AlertEvent, check_tags: Collection[str]) -> bool:
    """Whether every condition the route gives holds for the event (absent ones match)."""
    if route.severity and effective_severity(event) not in route.severity:
        return False
    if route.tags and not (set(route.tags) & set(check_tags)):
        return False
    return not (route.checks and event.key.check not in route.checks)


def route(event: AlertEvent, check_tags: Iterable[str], routes: Sequence[Route],
          channels: Mapping[str, Channel] | Collection[str]) -> list[str]:
    """Names of the channels ``event`` goes to, without repeats, in the routes' order.

    With no routes configured, every channel. ``check_tags`` are the check's tags (the
    event's own tags count too). A route naming a channel that does not exist adds
    nothing: config validation reports such routes.
    """
    known = list(channels)
    if not routes:
        return known
    tags = set(check_tags) | set(event.tags)
    out: list[str] = []
    for r in routes:
        if route_matches(r, event, tags):
            out.extend(c for c in r.channels if c in known and c not in out)
    return out


def deliveries(event: AlertEvent, check_tags: Iterable[str], routes: Sequence[Route],
               channels: Mapping[str, Channel]) -> list[Delivery]:
    """One delivery per URL of every channel the event is routed to."""
    return [Delivery(event, name, target)
            for name in route(event, check_tags, routes, channels)
            for target in range(len(channels[name].urls))]
