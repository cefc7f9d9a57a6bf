"""Posting to Prometheus Alertmanager (API v2), and keeping its open alerts open.

Every member of an HA cluster is a target of its own (one URL each in the channel): each
is posted everything, and the cluster deduplicates, as it does for Prometheus. Each
target's posts go one at a time, so a refresh read before a resolve can never land after
it and open the alert again. Each target remembers the label set it last posted for each
alert, so an alert whose severity changed between events (while it flapped) has its old
label set ended rather than left to time out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agent.alerting.state import AlertEvent
from agent.notify.am_alerts import AlertContext, alerts_for, ended
from agent.notify.http_post import post_json
from agent.notify.native_urls import AlertmanagerTarget
from agent.notify.payload import rfc3339
from agent.notify.protocol import SendResult

if TYPE_CHECKING:
    import httpx

#: An alert's identity but its severity, as a hashable value.
_Series = tuple[tuple[str, str], ...]


def _series(alert: dict[str, Any]) -> _Series:
    return tuple(sorted((k, v) for k, v in alert["labels"].items() if k != "severity"))


class AlertmanagerPoster:
    """Posts to Alertmanager targets, one post at a time per target."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        #: Per target URL: the last open alert posted for each series.
        self._open: dict[str, dict[_Series, dict[str, Any]]] = {}

    def _lock(self, url: str) -> asyncio.Lock:
        found = self._locks.get(url)
        if found is None:
            found = self._locks[url] = asyncio.Lock()
        return found

    async def send(self, client: httpx.AsyncClient, url: str, target: AlertmanagerTarget, *,
                   events: Callable[[], Sequence[AlertEvent]], ctx: AlertContext,
                   wall: Callable[[], float], timeout: float) -> SendResult | None:
        """Post the alerts of ``events()`` (read once this target's turn has come) to
        ``target``; None when there was nothing to post."""
        async with self._lock(url):
            now = wall()
            alerts = [a for e in events() for a in alerts_for(e, ctx, now, target.ends_after)]
            if not alerts:
                return None
            alerts = self._with_replaced(url, alerts, now)
            result = await post_json(client, target.alerts_url, json.dumps(alerts).encode(),
                                     auth=target.auth, timeout=timeout)
            if result.ok:
                self._remember(url, alerts, now)
            return result

    def _with_replaced(self, url: str, alerts: list[dict[str, Any]],
                       now: float) -> list[dict[str, Any]]:
        """``alerts`` and, for each open one whose series was last posted with other
        labels (another severity), that label set ended now."""
        known = self._open.get(url, {})
        posted = [a["labels"] for a in alerts]
        extra: list[dict[str, Any]] = []
        for alert in alerts:
            before = known.get(_series(alert))
            if before is not None and before["labels"] != alert["labels"] \
                    and before["labels"] not in posted:
                extra.append(ended(before, now))
                posted.append(before["labels"])
        return alerts + extra

    def _remember(self, url: str, alerts: list[dict[str, Any]], now: float) -> None:
        known = self._open.setdefault(url, {})
        stamp = rfc3339(now)
        for alert in alerts:
            series = _series(alert)
            if alert["endsAt"] > stamp:
                known[series] = alert
            elif known.get(series, {}).get("labels") == alert["labels"]:
                del known[series]

    def forget(self, keep: set[str]) -> None:
        """Drop what is remembered of targets no longer configured."""
        for url in [u for u in self._open if u not in keep]:
            del self._open[url]
            self._locks.pop(url, None)
