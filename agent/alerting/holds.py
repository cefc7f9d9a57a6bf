"""Everything that holds alerts back at a moment, and what messages say of what is held.

One place puts together the four kinds of hold (``agent.alerting.silences``): silences a
person gave, maintenance windows, dependencies (a failing parent, or one whose next check
is still to come) and grouping (alerts of one host that open together). A dependent waits
for its parent rather than for a group. Pure: the situation comes in as values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.alerting.dependencies import (
    Parent,
    dependency_silences,
    network_words,
    with_dependents,
)
from agent.alerting.host_groups import group_silences, held_otherwise, with_grouped
from agent.alerting.maintenance import Window, window_silences
from agent.alerting.silences import Silence
from agent.alerting.state import AlertEvent, AlertState


@dataclass(frozen=True, slots=True)
class HoldRules:
    """What the config says about holding alerts back."""

    host: str
    maintenance: Sequence[Window] = ()
    tags: Mapping[str, tuple[str, ...]] | None = None
    depends_on: Mapping[str, Sequence[str]] | None = None
    parents: Mapping[str, Parent] | None = None
    connectivity: str | None = None
    group_window: float = 0.0
    #: When each check last recovered (its latest incident's resolve).
    recovered: Mapping[str, float] | None = None
    #: The groups the incident log recorded: each grouped alert's incident, the incident
    #: it joined (None: it left its group). None: groups by firing time alone.
    joined: Mapping[str, str | None] | None = None


def holds_at(rules: HoldRules, silences: Sequence[Silence], states: Sequence[AlertState],
             last_runs: Mapping[str, float], *, now: float, wall: float) -> list[Silence]:
    """Every hold at ``now`` (silences and windows read at ``wall``): ``silences`` (the
    active ones a person gave), the windows, the dependencies and the groups."""
    windows = window_silences(rules.maintenance, wall, rules.tags or {}, rules.host)
    depends = dependency_silences(rules.depends_on or {}, parents=rules.parents or {},
                                  states=states, last_runs=last_runs, now=now, wall=wall,
                                  host=rules.host, recovered=rules.recovered)
    # An alert a person's silence, a window or a parent holds belongs to no group: it
    # must neither be named in another's message nor hold others under it while it waits.
    grouped = group_silences(states, window=rules.group_window, now=now, wall=wall,
                             exclude=held_otherwise(states, [*silences, *windows, *depends],
                                                    wall), joined=rules.joined)
    return [*silences, *windows, *depends, *grouped]


def told(events: Sequence[AlertEvent], rules: HoldRules, states: Sequence[AlertState],
         holds: Sequence[Silence], *, wall: float, now: float | None = None,
         before: Sequence[AlertState] = ()) -> list[AlertEvent]:
    """The events with what their messages say of others: a parent's names the dependents
    failing with it, a group's first alert names the others of its group (a RESOLVED:
    those of the group ``before`` it resolved), and the connectivity check's problems say
    what they mean for the host. ``now`` is the decision time (whether a group's window
    is still open)."""
    out = list(events)
    if rules.depends_on:
        out = network_words(with_dependents(out, rules.depends_on, states),
                            rules.connectivity, rules.host)
    if rules.group_window > 0:
        depends = [h for h in holds if h.group is None]
        out = with_grouped(out, states, rules.group_window,
                           exclude=held_otherwise([*states, *before], depends, wall),
                           before=before, now=now, joined=rules.joined)
    return out
