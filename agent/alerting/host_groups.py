"""Grouping: alerts of one host that open within a short window are one incident and one
message, without any declared dependency.

The first alert to fire opens a group and waits ``window`` (30 s by default, as
Alertmanager's ``group_wait``) for others; every alert of the host that fires before the
window ends joins it. When the window ends the first alert is announced, its message
listing the others (and saying it opened first); the others are held under it, exactly as
a silence holds them: their checks keep running, their states stay true, and one still
failing when the first one resolves is announced then, on its own.

An alert is held only under a first alert at least as severe (``holds_under``): one that
is, or becomes, more severe than its first leaves the group and is announced on its own,
so it reaches every channel its severity is routed to.

A group is formed by firing time (which alerts fire, and since when) and kept as the
incident log recorded it when each alert joined: once the window is over nobody joins,
and an alert that left its group (its first resolved, or it became worse) is in none
again, never regrouped under the next one. The incident log is stored, so a restart or a
reload finds the same groups. Pure: states, records and times come in as values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from agent.alerting.silences import Silence
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import STATUS_METRIC, AlertKey, Status, label_text, series_name
from agent.units import format_duration


@dataclass(frozen=True, slots=True)
class Group:
    """The first alert of a group and the others that joined it, in the order they fired."""

    first: AlertState
    others: tuple[AlertState, ...]


def holds_under(first: Status, other: Status) -> bool:
    """Whether an alert of severity ``other`` may be held under a first one of ``first``:
    of the same severity, or a WARNING under a CRITICAL. Never under a less severe one,
    whose message goes to fewer channels (a CRITICAL held under a WARNING would never
    reach a critical-only pager); UNKNOWN stands apart, as it does in routes."""
    return other is first or (other is Status.WARNING and first is Status.CRITICAL)


def groups(states: Iterable[AlertState], window: float,
           exclude: Collection[AlertKey] = (), *, now: float | None = None,
           joined: Mapping[str, str | None] | None = None) -> list[Group]:
    """The groups of the firing alerts of ``states``: each alert that fires less than
    ``window`` after a group's first one, and is no more severe (``holds_under``), joins
    that group; any other starts its own. Alerts in ``exclude`` (held for another reason,
    as a dependent is) belong to none.

    ``joined`` is what the incident log recorded: the incident each alert's incident
    joined when it fired (by incident id; None: it was released from its group and
    announced on its own). A recorded alert stays in its group while its first fires
    with it and it is no more severe, and belongs to no group once it left it: it is
    never regrouped under another. With ``joined`` given, an alert not recorded joins a
    group only while the group's window is open at ``now``; without it (None), groups
    are made by firing time alone.
    """
    if window <= 0:
        return []
    firing = sorted((s for s in states if s.phase is Phase.FIRING and s.fired_at is not None
                     and s.key not in exclude),
                    key=lambda s: (s.fired_at or 0.0, s.key.as_text()))
    by_incident = {s.incident: s for s in firing if s.incident}
    recorded: dict[AlertKey, AlertState] = {}  # a recorded member -> the first it joined
    left: set[AlertKey] = set()  # recorded, out of its group: in none
    for s in firing:
        if joined is None or not s.incident or s.incident not in joined:
            continue
        head_id = joined[s.incident]
        head = by_incident.get(head_id) if head_id else None
        if head is None or head.key == s.key or head.incident in joined or \
                not holds_under(head.severity, s.severity):
            left.add(s.key)
        else:
            recorded[s.key] = head
    heads = {h.key for h in recorded.values()}
    out: list[Group] = []
    members: dict[AlertKey, list[AlertState]] = {}
    for s in firing:
        if s.key in left:
            continue
        if s.key in recorded:
            members.setdefault(recorded[s.key].key, []).append(s)
            continue
        fired = s.fired_at or 0.0
        home = None if s.key in heads else next((
                    g.first for g in out if g.first.key.host == s.key.host
                     and g.first.key not in recorded
                     and fired < (g.first.fired_at or 0.0) + window
                     and (joined is None or now is None
                          or now < (g.first.fired_at or 0.0) + window)
                     and holds_under(g.first.severity, s.severity)), None)
        if home is not None:
            members.setdefault(home.key, []).append(s)
            continue
        out.append(Group(s, ()))
    return [Group(g.first, tuple(sorted(members.get(g.first.key, ()),
                                        key=lambda s: (s.fired_at or 0.0, s.key.as_text()))))
            for g in out]


def held_otherwise(states: Iterable[AlertState], holds: Sequence[Silence],
                   wall: float) -> frozenset[AlertKey]:
    """The alerts of ``states`` that ``holds`` (a dependency's) hold at ``wall``: they
    wait for their parent, not for a group."""
    return frozenset(s.key for s in states if any(h.matches(s.key, wall) for h in holds))


def group_silences(states: Iterable[AlertState], *, window: float, now: float, wall: float,
                   exclude: Collection[AlertKey] = (),
                   joined: Mapping[str, str | None] | None = None) -> list[Silence]:
    """The holds grouping puts on alerts at ``now`` (silences are on the wall clock,
    ``wall``): the first alert of a group waits until its window ends, and every other
    alert of a group is held while the first one fires."""
    out: list[Silence] = []
    for g in groups(states, window, exclude, now=now, joined=joined):
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
                 before: Iterable[AlertState] | None = None, *, now: float | None = None,
                 joined: Mapping[str, str | None] | None = None) -> list[AlertEvent]:
    """The events, each of a group's first alert naming the others still in its group.
    A RESOLVED names those of the group as it was ``before`` (the states before it
    resolved): they are still failing, and are announced on their own next."""
    if window <= 0:
        return list(events)
    now_groups = {g.first.key: g for g in groups(states, window, exclude, now=now,
                                                 joined=joined) if g.others}
    old_groups: dict[AlertKey, Group] | None = None
    out = []
    for ev in events:
        found = now_groups
        if ev.kind is EventKind.RESOLVED:
            if old_groups is None:
                old_groups = {g.first.key: g for g in groups(before or (), window, exclude,
                                                             now=now, joined=joined)
                              if g.others}
            found = old_groups
        g = found.get(ev.key)
        along = tuple(grouped_text(s.key) for s in g.others) if g is not None else ()
        out.append(replace(ev, grouped=along) if along != ev.grouped else ev)
    return out
