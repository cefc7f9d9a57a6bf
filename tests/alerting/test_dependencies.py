"""Dependencies: while a parent fails, its dependents' new alerts wait (pure)."""

from __future__ import annotations

import pytest

from agent.alerting.dependencies import (
    Parent,
    cycle,
    dependency_silences,
    dependents_of,
    is_remote,
    network_words,
    waiting_on,
    with_dependents,
    with_network,
)
from agent.alerting.judge import Verdict
from agent.alerting.settle import NoteKind, Routing, settle
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.config.models import Channel
from agent.model import STATUS_METRIC, AlertKey, Status

NOW = 1_700_000_000.0
HOST = "web1"
DEPENDS = {"shop": ("gateway",), "api": ("gateway",), "cart": ("shop",)}
PARENTS = {"gateway": Parent("gateway", 10.0, 5.0), "shop": Parent("shop", 10.0, 5.0)}
ROUTING = Routing(channels={"ops": Channel(name="ops", urls=("json://127.0.0.1:1/a",))})


def key(check: str) -> AlertKey:
    return AlertKey(HOST, check, STATUS_METRIC)


def firing(check: str, since: float = NOW - 30) -> AlertState:
    return AlertState(key(check), Phase.FIRING, Status.CRITICAL, problem_since=since,
                      updated_at=since, incident=f"i-{check}")


def holds(states: list[AlertState], last_runs: dict[str, float]) -> dict[str, str]:
    found = dependency_silences(DEPENDS, parents=PARENTS, states=states, last_runs=last_runs,
                                now=NOW, wall=NOW, host=HOST)
    return {s.check_glob: s.reason for s in found}


def test_dependents_are_found_through_chains() -> None:
    assert dependents_of(DEPENDS) == {"gateway": frozenset({"shop", "api", "cart"}),
                                      "shop": frozenset({"cart"})}


@pytest.mark.parametrize(("graph", "found"), [
    ({"a": ["b"], "b": ["c"]}, None),
    ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
    ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c", "a"]),
    ({"x": ["y"], "a": ["b"], "b": ["b2"], "b2": ["a"]}, ["a", "b", "b2", "a"]),
])
def test_a_circle_of_dependencies_is_found(graph: dict[str, list[str]],
                                           found: list[str] | None) -> None:
    assert cycle(graph) == found


def test_a_failing_parent_holds_every_dependent() -> None:
    found = holds([firing("gateway")], {"gateway": NOW})
    assert sorted(found) == ["api", "cart", "shop"]
    assert found["shop"] == "shop depends on gateway, which is failing"


def test_a_dependent_waits_for_its_parents_next_check_for_at_most_its_interval() -> None:
    child = firing("api", since=NOW - 3)
    assert holds([child], {"gateway": NOW - 8}) == {
        "api": "waiting for gateway's next check, which it depends on"}
    assert holds([child], {"gateway": NOW - 1}) == {}  # checked since: OK, announce
    late = firing("api", since=NOW - 16)  # the parent's interval and timeout are over
    assert holds([late], {"gateway": NOW - 20}) == {}


def test_waiting_holds_name_the_parent_to_run_now() -> None:
    found = dependency_silences(DEPENDS, parents=PARENTS, states=[firing("shop", NOW - 1)],
                                last_runs={"gateway": NOW - 9}, now=NOW, wall=NOW,
                                host=HOST)
    assert waiting_on(found) == {"gateway"}


def event(check: str, kind: EventKind = EventKind.FIRING) -> AlertEvent:
    return AlertEvent(kind, key(check), Status.CRITICAL, NOW, f"i-{check}", "down")


def test_a_dependents_firing_is_held_and_its_resolve_dropped_while_the_parent_fails() -> None:
    silences = dependency_silences(DEPENDS, parents=PARENTS, states=[firing("gateway")],
                                   last_runs={}, now=NOW, wall=NOW, host=HOST)
    held = settle(Verdict(events=[event("shop")]), silences, {}, ROUTING, NOW)
    assert held.deliveries == [] and [n.kind for n in held.notes] == [NoteKind.SILENCED]
    assert held.notes[0].text(NOW).endswith("held back: shop depends on gateway, which is "
                                            "failing")
    suppressed = {s.incident: s for s in held.suppress}
    gone = settle(Verdict(events=[event("shop", EventKind.RESOLVED)]), silences, suppressed,
                  ROUTING, NOW)
    assert gone.deliveries == []


def test_an_alert_opened_before_the_parent_failed_still_resolves() -> None:
    silences = dependency_silences(DEPENDS, parents=PARENTS, states=[firing("gateway")],
                                   last_runs={}, now=NOW, wall=NOW, host=HOST)
    done = settle(Verdict(events=[event("shop", EventKind.RESOLVED)]), silences, {}, ROUTING,
                  NOW)
    assert len(done.deliveries) == 1


def test_the_parents_messages_name_the_dependents_failing_with_it() -> None:
    states = [firing("gateway"), firing("shop"), firing("cart")]
    (ev,) = with_dependents([event("gateway", EventKind.REMINDER)], DEPENDS, states)
    assert ev.dependents == ("cart", "shop")
    (other,) = with_dependents([event("api")], DEPENDS, states)
    assert other.dependents == ()


@pytest.mark.parametrize(("hosts", "remote"), [
    (("127.0.0.1",), False), (("::1",), False), (("[::1]",), False), (("localhost",), False),
    (("/run/postgresql",), False), (("shop.example.com",), True), (("192.168.1.1",), True),
    (("127.0.0.1", "10.0.0.1"), True), ((), False), (("resolv.conf",), True),
])
def test_a_check_is_remote_when_it_reaches_beyond_this_machine(hosts: tuple[str, ...],
                                                               remote: bool) -> None:
    assert is_remote(hosts) is remote


def test_the_connectivity_check_is_a_parent_of_every_remote_check() -> None:
    deps = with_network({"shop": ("db",)}, "gateway", ["shop", "api", "gateway"])
    assert deps == {"shop": ("db", "gateway"), "api": ("gateway",)}
    assert with_network({"shop": ("db",)}, None, ["shop"]) == {"shop": ("db",)}


def test_the_connectivity_checks_problem_is_worded_for_the_host() -> None:
    (ev,) = network_words([event("gateway")], "gateway", "web1")
    assert ev.why == "web1 cannot reach the network: down"
    (other,) = network_words([event("shop")], "gateway", "web1")
    assert other.why == "down"


def _recovered_holds(child: AlertState, recovered_at: float, now: float) -> list[str]:
    timing = {**PARENTS, "api": Parent("api", 10.0, 5.0)}
    found = dependency_silences(DEPENDS, parents=timing, states=[child],
                                last_runs={"gateway": recovered_at}, now=now, wall=now,
                                host=HOST, recovered={"gateway": recovered_at})
    return [s.reason for s in found]


@pytest.mark.parametrize(("judged", "now", "held"), [
    (NOW - 20, NOW + 1, True),    # not judged since the parent recovered: wait for it
    (NOW + 2, NOW + 3, False),    # judged since, still failing: announce it
    (NOW - 20, NOW + 16, False),  # its own interval and timeout are over: announce it
])
def test_once_the_parent_recovers_a_dependent_waits_for_its_own_next_check(
        judged: float, now: float, held: bool) -> None:
    child = AlertState(key("api"), Phase.FIRING, Status.CRITICAL, problem_since=NOW - 30,
                       fired_at=NOW - 30, updated_at=judged, incident="i-api")
    reasons = _recovered_holds(child, NOW, now)
    assert reasons == (["gateway recovered: waiting for api's next check"] if held else [])
