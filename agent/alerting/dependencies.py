"""Dependencies: one root problem is one page.

A check may name the checks it ``depends_on`` (its parents: the gateway, the database, the
host's network). While a parent fails, a dependent's new alerts are held back exactly as a
silence holds them (``agent.alerting.silences``): checks keep running and their states
stay true, an alert opened before the parent failed still resolves, and a dependent that
still fails once the parent has recovered is announced then, on its own. The parent's own
messages name the dependents failing with it.

A dependent's alert is also held while a parent has not been checked since the dependent's
problem began (the two often fail in the same moment, and whichever runs first must not
page alone), for at most the parent's interval and timeout; and once the parent has
recovered, until the dependent itself was checked again (it often recovers with it), for
at most the dependent's interval and timeout.

Pure: the states, the last runs and the clock's reading come in as values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from agent.alerting.silences import Silence
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase

_OPEN = (Phase.PENDING, Phase.FIRING)


@dataclass(frozen=True, slots=True)
class Parent:
    """A check others depend on: its name and how long a run of it may take to come."""

    name: str
    interval: float
    timeout: float


def dependents_of(depends_on: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    """For each parent, every check that depends on it, directly or through others."""
    children: dict[str, set[str]] = {}
    for child, parents in depends_on.items():
        for parent in parents:
            children.setdefault(parent, set()).add(child)
    out: dict[str, frozenset[str]] = {}
    for parent, direct in children.items():
        seen: set[str] = set()
        todo = list(direct)
        while todo:
            name = todo.pop()
            if name in seen or name == parent:
                continue
            seen.add(name)
            todo.extend(children.get(name, ()))
        out[parent] = frozenset(seen)
    return out


def cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A chain of checks that depend on themselves (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: being visited, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for parent in depends_on.get(name, ()):
            if state.get(parent) == 1:
                return [*path[path.index(parent):], parent]
            if state.get(parent) is None and (found := visit(parent)) is not None:
                return found
        path.pop()
        state[name] = 2
        return None

    for name in depends_on:
        if name not in state and (found := visit(name)) is not None:
            return found
    return None


def failing(states: Iterable[AlertState]) -> dict[str, float]:
    """Checks with an open (pending or firing) alert, and since when they fail."""
    out: dict[str, float] = {}
    for s in states:
        if s.phase in _OPEN:
            since = s.problem_since if s.problem_since is not None else s.updated_at or 0.0
            out[s.key.check] = min(out.get(s.key.check, since), since)
    return out


def dependency_silences(depends_on: Mapping[str, Sequence[str]], *,
                        parents: Mapping[str, Parent], states: Sequence[AlertState],
                        last_runs: Mapping[str, float], now: float, wall: float,
                        host: str, recovered: Mapping[str, float] | None = None
                        ) -> list[Silence]:
    """The holds dependencies put on alerts at ``now`` (the decision time of the states
    and runs; the silences are on the wall clock, ``wall``, as silences are): one per
    dependent of a failing parent, one per dependent alert whose parent was not checked
    since its problem began (while that check may still come), and one per firing
    dependent alert not judged again since its parent ``recovered`` (the parent's last
    resolve; ``parents`` gives the dependent's own interval and timeout too)."""
    down = failing(states)
    out: list[Silence] = []
    out.extend(_after_recovery(depends_on, parents, states, down, recovered=recovered or {},
                               now=now, wall=wall, host=host))
    for parent, children in dependents_of(depends_on).items():
        if parent in down:
            out.extend(Silence(id=0, check_glob=child, metric=None,
                               starts_at=float("-inf"), ends_at=float("inf"),
                               reason=f"{child} depends on {parent}, which is failing",
                               created_at=wall, host=host, parent=parent)
                       for child in sorted(children))
    for s in states:
        if s.phase not in _OPEN or s.problem_since is None:
            continue
        for name in depends_on.get(s.key.check, ()):
            p = parents.get(name)
            if p is None or name in down or last_runs.get(name, float("-inf")) >= s.problem_since:
                continue
            left = s.problem_since + p.interval + p.timeout - now
            if left > 0:
                out.append(Silence(id=0, check_glob=s.key.check, metric=s.key.metric,
                                   starts_at=float("-inf"), ends_at=wall + left,
                                   reason=f"waiting for {name}'s next check, which it "
                                          "depends on", created_at=wall, host=host,
                                   parent=name))
    return out


def _after_recovery(depends_on: Mapping[str, Sequence[str]], timing: Mapping[str, Parent],
                    states: Sequence[AlertState], down: Mapping[str, float], *,
                    recovered: Mapping[str, float], now: float, wall: float,
                    host: str) -> list[Silence]:
    out: list[Silence] = []
    for s in states:
        if s.phase is not Phase.FIRING:
            continue
        for name in depends_on.get(s.key.check, ()):
            back = recovered.get(name)
            own = timing.get(s.key.check)
            if name in down or back is None or own is None or \
                    (s.updated_at or 0.0) >= back:
                continue
            left = back + own.interval + own.timeout - now
            if left > 0:
                out.append(Silence(id=0, check_glob=s.key.check, metric=s.key.metric,
                                   starts_at=float("-inf"), ends_at=wall + left,
                                   reason=f"{name} recovered: waiting for {s.key.check}'s "
                                          "next check", created_at=wall, host=host,
                                   key=s.key, parent=name))
                break
    return out


def waiting_on(silences: Sequence[Silence]) -> set[str]:
    """The parents whose next check a hold waits for (to run them at once)."""
    return {s.parent for s in silences if s.parent and s.ends_at != float("inf")}


def is_remote(hosts: Sequence[str]) -> bool:
    """Whether any of ``hosts`` lies beyond this machine (not loopback, not a socket)."""
    for host in hosts:
        name = host.strip("[]").lower()
        if not name or name.startswith("/") or name in ("localhost", "localhost."):
            continue
        try:
            if ipaddress.ip_address(name).is_loopback:
                continue
        except ValueError:
            pass
        return True
    return False


def with_network(depends_on: Mapping[str, Sequence[str]], connectivity: str | None,
                 remote: Collection[str]) -> dict[str, tuple[str, ...]]:
    """The dependencies with the host's own: every ``remote`` check depends on the
    ``connectivity`` check (when there is one)."""
    out = {name: tuple(parents) for name, parents in depends_on.items()}
    if connectivity is None:
        return out
    for name in remote:
        parents = out.get(name, ())
        if name != connectivity and connectivity not in parents:
            out[name] = (*parents, connectivity)
    return out


def network_words(events: Sequence[AlertEvent], connectivity: str | None,
                  host: str) -> list[AlertEvent]:
    """The connectivity check's problems, worded as what they mean for the host."""
    if connectivity is None:
        return list(events)
    return [replace(ev, why=f"{host} cannot reach the network: {ev.why}")
            if ev.key.check == connectivity and ev.severity.is_problem
            and ev.kind not in (EventKind.RESOLVED, EventKind.STABLE) else ev
            for ev in events]


def with_dependents(events: Sequence[AlertEvent], depends_on: Mapping[str, Sequence[str]],
                    states: Sequence[AlertState]) -> list[AlertEvent]:
    """The events, a parent's naming the dependents that fail with it."""
    children = dependents_of(depends_on)
    down = failing(states)
    out = []
    for ev in events:
        along = tuple(sorted(c for c in children.get(ev.key.check, ()) if c in down))
        out.append(replace(ev, dependents=along) if along != ev.dependents else ev)
    return out
