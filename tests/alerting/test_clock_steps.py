"""A wall-clock step of an hour either way neither drops, delays nor hastens a decision.

Each case runs one timeline of results through the judge and the settle stage on a
FakeClock (decisions at ``clock.now()``, silences read at ``clock.wall()``), once as it is
and once with the wall clock stepped, and compares: the same events at the same elapsed
times, each queued under its own key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from agent.alerting.judge import Judge
from agent.alerting.settle import NoteKind, Routing, settle
from agent.alerting.silences import Silence, Suppressed
from agent.alerting.state import EventKind
from agent.clock import FakeClock
from agent.config.models import AlertPolicy, Channel, CheckConfig, Route
from agent.model import CheckResult
from agent.thresholds.rules import ThresholdRule, parse_comparison, parse_persistence

HOUR = 3600.0
HOST = "web1"
FIRING, ESCALATED = EventKind.FIRING, EventKind.ESCALATED
REMINDER, RESOLVED = EventKind.REMINDER, EventKind.RESOLVED
ROUTING = Routing(routes=(Route(channels=("ops",)),),
                  channels={"ops": Channel(name="ops", urls=("json://127.0.0.1:1/a",))})


def disk_check(for_: str = "30m", recover_for: str | None = "10m",
               repeat: str = "1h", flap_changes: int = 5) -> CheckConfig:
    metric = "used_percent"
    rule = ThresholdRule(metric, warn=parse_comparison("> 80", metric),
                         crit=parse_comparison("> 90", metric),
                         fire_after=parse_persistence(for_),
                         recover_after=parse_persistence(recover_for))
    return CheckConfig(name="disk", kind="disk", interval=60, timeout=10,
                       policy=AlertPolicy.model_validate({"repeat_interval": repeat,
                                                          "flap_changes": flap_changes}),
                       thresholds={metric: rule})


Values = Callable[[float], float]


def episode(t: float) -> float:
    """A warning from 0 s, critical from 3000 s, OK from 6720 s: with ``for: 30m``,
    ``repeat_interval: 1h`` and ``recover_for: 10m`` that is FIRING at 1800 s, ESCALATED
    at 3000 s, REMINDER at 6600 s and RESOLVED at 7320 s."""
    return 85.0 if t < 3000 else (95.0 if t < 6720 else 10.0)


def flapping(t: float) -> float:
    """Critical and OK by turns, a minute each."""
    return 95.0 if (t // 60) % 2 == 0 else 10.0


@dataclass
class Seen:
    """What one run decided: (elapsed, kind) per event, and what the store would keep."""

    events: list[tuple[float, EventKind]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    queued: set[tuple[str, str, int]] = field(default_factory=set)
    logged_queued: int = 0
    silenced: int = 0


def run(check: CheckConfig, values: Values, steps: dict[float, float], until: float,
        silence_after: float | None = None) -> Seen:
    """One result every 60 s from 0 to ``until``; ``steps[t]`` steps the wall clock just
    before the result at ``t``. ``silence_after``: a person silences the check for 2 h,
    on the wall clock, just before the result at that time."""
    clock = FakeClock()
    judge = Judge(HOST)
    seen = Seen()
    silences: list[Silence] = []
    suppressed: dict[str, Suppressed] = {}
    t = 0.0
    while t <= until:
        if t in steps:
            clock.step(steps[t])
        if t == silence_after:
            wall = clock.wall()
            silences.append(Silence(1, "disk", None, wall, wall + 2 * HOUR, "", wall, HOST))
        now = clock.now()
        verdict = judge.judge(check, CheckResult.ok("disk", {"used_percent": values(t)}), now)
        commit = settle(verdict, silences, suppressed, ROUTING, now, wall=clock.wall())
        # The store queues a delivery once per (key, channel, target): ON CONFLICT.
        fresh = [(d.event.dedup_key, d.channel, d.target) not in seen.queued
                 for d in commit.deliveries]
        seen.queued.update((d.event.dedup_key, d.channel, d.target)
                           for d in commit.deliveries)
        commit.stored(fresh)
        judge.apply(verdict)
        for incident in commit.forget:
            del suppressed[incident]
        suppressed.update((held.incident, held) for held in commit.suppress)
        seen.events += [(clock.monotonic(), e.kind) for e in verdict.events]
        seen.keys += [e.dedup_key for e in verdict.events]
        seen.logged_queued += sum(n.deliveries for n in commit.notes
                                  if n.kind is NoteKind.QUEUED)
        seen.silenced += sum(1 for n in commit.notes if n.kind is NoteKind.SILENCED)
        clock.advance(60)
        t += 60
    return seen


EPISODE = [(1800.0, FIRING), (3000.0, ESCALATED), (6600.0, REMINDER), (7320.0, RESOLVED)]


@pytest.mark.parametrize("steps", [
    pytest.param({60.0: HOUR}, id="+1h-just-after-the-problem-began"),
    pytest.param({60.0: -HOUR}, id="-1h-just-after-the-problem-began"),
    pytest.param({1740.0: HOUR}, id="+1h-a-minute-before-for-is-met"),
    pytest.param({1860.0: -HOUR}, id="-1h-just-after-firing"),
    pytest.param({3060.0: HOUR}, id="+1h-before-a-reminder"),
    pytest.param({3060.0: -HOUR}, id="-1h-before-a-reminder"),
    pytest.param({6780.0: HOUR}, id="+1h-while-recovering"),
    pytest.param({6780.0: -HOUR}, id="-1h-while-recovering"),
    pytest.param({600.0: HOUR, 1200.0: -HOUR, 2400.0: -HOUR, 5000.0: HOUR},
                 id="back-and-forth"),
])
def test_a_step_changes_no_decision(steps: dict[float, float]) -> None:
    expected = run(disk_check(), episode, {}, until=7800.0)
    assert expected.events == EPISODE
    stepped = run(disk_check(), episode, steps, until=7800.0)
    assert stepped.events == EPISODE  # nothing dropped, delayed or early
    assert len(set(stepped.keys)) == len(stepped.keys)
    assert stepped.logged_queued == len(stepped.queued) == len(stepped.events)


@pytest.mark.parametrize("step", [HOUR, -HOUR], ids=["+1h", "-1h"])
def test_for_30m_after_a_step_still_waits_30_minutes_of_elapsed_time(step: float) -> None:
    assert run(disk_check(), episode, {60.0: step}, until=1740.0).events == []
    assert run(disk_check(), episode, {60.0: step}, until=1800.0).events == [(1800.0, FIRING)]


def test_firings_in_one_wall_second_after_backward_steps_are_each_queued() -> None:
    # No ``for``: a FIRING every other minute. Each step back an hour makes the wall clock
    # show seconds it has shown before; every FIRING is still queued, and logged as such.
    # Every flip announced: flapping detection would (rightly) quiet them.
    check = disk_check(for_="0s", recover_for=None, flap_changes=0)
    seen = run(check, flapping, {t: -HOUR for t in (600.0, 1200.0, 1800.0)}, until=2400.0)
    assert sum(1 for _, kind in seen.events if kind is FIRING) == 21
    assert len(set(seen.keys)) == len(seen.keys) == len(seen.events)
    assert seen.logged_queued == len(seen.queued) == len(seen.events)


@pytest.mark.parametrize("step", [HOUR, -HOUR], ids=["+1h", "-1h"])
def test_a_silence_given_after_a_step_holds_from_when_it_was_given(step: float) -> None:
    # The person reads the stepped wall clock; the silence holds on that clock: from when
    # it was given, for the 2 h they asked (to 8400 s), over the whole episode.
    seen = run(disk_check(), episode, {60.0: step}, until=7800.0, silence_after=1200.0)
    assert seen.events == EPISODE
    assert seen.silenced == 3 and seen.queued == set()  # its RESOLVED is dropped
