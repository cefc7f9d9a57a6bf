"""Grouping: alerts of one host that open within a short window are one incident and one
message, without any declared dependency.

The first alert to fire opens a group and waits ``window`` (30 s by default, as
Alertmanager's ``group_wait``) for others; every alert of the host that fires before the
window ends joins it. When the window ends the first alert is announced, its message
listing the others (and saying it opened first); the others are held under it, exactly as
a silence holds them: their checks keep running, their states stay true, and one still
failing when the first one resolves is announced then, on its own.

The groups are derived from the alert states alone (which alerts fire, and since when),
so a restart or a reload finds the same groups. Pure: states and times come in as values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from agent.alerting.silences import Silence
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import STATUS_METRIC, AlertKey, label_text, series_name
from agent.units import format_duration


@dataclass(frozen=True, slots=True)
class Group:
    """The first alert of a group and the others that joined it, in the order they fired."""

    first: AlertState
    others: tuple[AlertState, ...]


def groups(states: Iterable[AlertState], window: float,
           exclude: Collection[AlertKey] = ()) -> list[Group]:
    """The groups of the firing alerts of ``states``: each alert that fires less than
    ``window`` after a group's first one joins that group; any other starts its own.
    Alerts in ``exclude`` (held for another reason, as a dependent is) belong to none."""
    if window <= 0:
        return []
    firing = sorted((s for s in states if s.phase is Phase.FIRING and s.fired_at is not None
                     and s.key not in exclude),
                    key=lambda s: (s.fired_at or 0.0, s.key.as_text()))
    out: list[Group] = []
    first: AlertState | None = None
    others: list[AlertState] = []
    for s in firing:
        if first is not None and first.key.host == s.key.host and \
                (s.fired_at or 0.0) < (first.fired_at or 0.0) + window:
            others.append(s)
            continue
        if first is not None:
            out.append(Group(first, tuple(others)))
        first, others = s, []
    if first is not None:
        out.append(Group(first, tuple(others)))
    return out


def held_otherwise(states: Iterable[AlertState], holds: Sequence[Silence],
                   wall: float) -> frozenset[AlertKey]:
    """The alerts of ``states`` that ``holds`` (a dependency's) hold at ``wall``: they
    wait for their parent, not for a group."""
    return frozenset(s.key for s in states if any(h.matches(s.key, wall) for h in holds))


def group_silences(states: Iterable[AlertState], *, window: float, now: float, wall: float,
                   exclude: Collection[AlertKey] = ()) -> list[Silence]:
    """The holds grouping puts on alerts at ``now`` (silences are on the wall clock,
    ``wall``): the first alert of a group waits until its window ends, and every other
    alert of a group is held while the first one fires."""
    out: list[Silence] = []
    for g in groups(states, window, exclude):
        first = g.first.key
        ends = (g.first.fired_at or now) + window - now
        if ends > 0:
            out.append(_hold(first, first, wall, wall + ends,
                             f"waiting {format_duration(window)} for other alerts of "
                             f"{first.host} to group them"))
        out.extend(_hold(s.key, first, wall, float("inf"),
                         f"grouped under {first.as_text()}, which opened first")
                   for s in g.others)
    return out


def _hold(key: AlertKey, first: AlertKey, wall: float, ends_at: float, reason: str) -> Silence:
    return Silence(id=0, check_glob=key.check, metric=key.metric, starts_at=float("-inf"),
                   ends_at=ends_at, reason=reason, created_at=wall, host=key.host, key=key,
                   group=first)


def grouped_text(key: AlertKey) -> str:
    """How a message names an alert of its group: the check, the metric unless it is the
    check's status, and the labels (the host is the group's)."""
    if key.metric != STATUS_METRIC:
        return f"{key.check}/{series_name(key.metric, key.labels)}"
    labels = label_text(key.labels)
    return key.check + (f"{{{labels}}}" if labels else "")


def with_grouped(events: Sequence[AlertEvent], states: Iterable[AlertState], window: float,
                 exclude: Collection[AlertKey] = (),
                 before: Iterable[AlertState] | None = None) -> list[AlertEvent]:
    """The events, each of a group's first alert naming the others still in its group.
    A RESOLVED names those of the group as it was ``before`` (the states before it
    resolved): they are still failing, and are announced on their own next."""
    if window <= 0:
        return list(events)
    now_groups = {g.first.key: g for g in groups(states, window, exclude) if g.others}
    old_groups: dict[AlertKey, Group] | None = None
    out = []
    for ev in events:
        found = now_groups
        if ev.kind is EventKind.RESOLVED:
            if old_groups is None:
                old_groups = {g.first.key: g for g in groups(before or (), window, exclude)
                              if g.others}
            found = old_groups
        g = found.get(ev.key)
        along = tuple(grouped_text(s.key) for s in g.others) if g is not None else ()
        out.append(replace(ev, grouped=along) if along != ev.grouped else ev)
    return out
