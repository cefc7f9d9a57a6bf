"""Grouping: alerts of one host that open within a short window are one incident and one
message (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.alerting.holds import HoldRules, holds_at, told
from agent.alerting.host_groups import group_silences, grouped_text, groups, with_grouped
from agent.alerting.judge import Verdict
from agent.alerting.settle import NoteKind, Routing, settle, settle_released
from agent.alerting.silences import HoldCause, Suppressed
from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.config.models import Channel
from agent.model import STATUS_METRIC, AlertKey, Status
from agent.notify.message import render

NOW = 1_700_000_000.0
WINDOW = 30.0
HOST = "web1"
ROUTING = Routing(channels={"ops": Channel(name="ops", urls=("json://127.0.0.1:1/a",))})


def key(check: str, host: str = HOST, metric: str = STATUS_METRIC,
        labels: tuple[tuple[str, str], ...] = ()) -> AlertKey:
    return AlertKey(host, check, metric, labels)


def firing(check: str, fired: float, host: str = HOST, **kw: object) -> AlertState:
    k = key(check, host, **kw)  # type: ignore[arg-type]
    return AlertState(k, Phase.FIRING, Status.CRITICAL, problem_since=fired - 5,
                      fired_at=fired, updated_at=fired, incident=f"i-{k.as_text()}",
                      why=f"{check} is down")


def event(state: AlertState, kind: EventKind = EventKind.FIRING) -> AlertEvent:
    return AlertEvent(kind, state.key, state.severity if kind is not EventKind.RESOLVED
                      else Status.OK, state.fired_at or NOW, state.incident or "", state.why,
                      since=state.problem_since, previous_severity=Status.CRITICAL
                      if kind is EventKind.RESOLVED else None)


@pytest.mark.parametrize(("fired", "expected"), [
    # check -> when it fired (seconds after NOW); expected: first -> others
    ({"web": 0}, {"web": []}),
    ({"web": 0, "api": 10, "db": 29}, {"web": ["api", "db"]}),
    ({"web": 0, "api": 30}, {"web": [], "api": []}),          # the window's end is not in it
    ({"web": 0, "api": 20, "db": 45}, {"web": ["api"], "db": []}),  # not chained on api
    ({"db": 10, "web": 0}, {"web": ["db"]}),                  # the first to fire leads
    ({"api": 5, "web": 5}, {"api": ["web"]}),                 # a tie: by name
])
def test_alerts_firing_within_the_window_of_the_first_join_its_group(
        fired: dict[str, float], expected: dict[str, list[str]]) -> None:
    found = groups([firing(c, NOW + t) for c, t in fired.items()], WINDOW)
    assert {g.first.key.check: [s.key.check for s in g.others] for g in found} == expected


def test_alerts_of_other_hosts_never_share_a_group() -> None:
    found = groups([firing("web", NOW), firing("web", NOW + 1, host="web2")], WINDOW)
    assert [(g.first.key.host, len(g.others)) for g in found] == [("web1", 0), ("web2", 0)]


def test_grouping_off_makes_no_groups_and_no_holds() -> None:
    states = [firing("web", NOW), firing("api", NOW + 1)]
    assert groups(states, 0.0) == []
    assert group_silences(states, window=0.0, now=NOW + 1, wall=NOW + 1) == []


def test_only_firing_alerts_group() -> None:
    pending = AlertState(key("api"), Phase.PENDING, Status.CRITICAL, problem_since=NOW)
    resolved = AlertState(key("db"), Phase.RESOLVED, Status.OK, fired_at=NOW + 1)
    assert [(g.first.key.check, g.others) for g in
            groups([firing("web", NOW), pending, resolved], WINDOW)] == [("web", ())]


def test_excluded_alerts_wait_for_their_parent_not_for_a_group() -> None:
    found = groups([firing("web", NOW), firing("api", NOW + 1)], WINDOW,
                   exclude={key("web")})
    assert [(g.first.key.check, g.others) for g in found] == [("api", ())]


@pytest.mark.parametrize(("now", "expected"), [
    # within the window the first waits until it ends; the others are held while it fires
    (NOW + 10, {"web": ("waiting", NOW + 30), "api": ("grouped", float("inf"))}),
    # once it ended the first goes out; the others stay under it
    (NOW + 30, {"api": ("grouped", float("inf"))}),
])
def test_the_first_waits_for_the_window_and_the_others_are_held_under_it(
        now: float, expected: dict[str, tuple[str, float]]) -> None:
    found = group_silences([firing("web", NOW), firing("api", NOW + 5)], window=WINDOW,
                           now=now, wall=now)
    assert {s.check_glob: (s.reason.split()[0], s.ends_at) for s in found} == expected
    assert all(s.cause is HoldCause.GROUPING and s.group == key("web") for s in found)


def test_a_hold_matches_its_own_alert_only() -> None:
    """Two series of one check (two mounts) are two alerts: the first's wait holds only it."""
    root = firing("disk", NOW, metric="used_percent", labels=(("mount", "/"),))
    var = firing("disk", NOW + 1, metric="used_percent", labels=(("mount", "/var"),))
    holds = {s.key: s for s in group_silences([root, var], window=WINDOW, now=NOW + 40,
                                              wall=NOW + 40)}
    assert list(holds) == [var.key]
    assert holds[var.key].matches(var.key, NOW + 40)
    assert not holds[var.key].matches(root.key, NOW + 40)


def test_the_group_holds_follow_the_wall_clock_not_the_decision_time() -> None:
    found = group_silences([firing("web", NOW)], window=WINDOW, now=NOW + 10, wall=5e9)
    assert [(s.starts_at, s.ends_at) for s in found] == [(float("-inf"), 5e9 + 20)]


def test_a_storm_is_one_message_naming_the_others_and_which_opened_first() -> None:
    web, api, db = firing("web", NOW), firing("api", NOW + 3), firing("db", NOW + 7)
    suppressed: dict[str, Suppressed] = {}
    # Each alert fires in its own turn and is held.
    states: list[AlertState] = []
    for s in (web, api, db):
        states.append(s)
        holds = group_silences(states, window=WINDOW, now=s.fired_at or 0,
                               wall=s.fired_at or 0)
        commit = settle(Verdict(events=[event(s)], states=[s]), holds, suppressed, ROUTING,
                        s.fired_at or 0)
        assert [n.kind for n in commit.notes] == [NoteKind.SILENCED]
        suppressed.update((x.incident, x) for x in commit.suppress)
    # The window ends: the first goes out, the others stay held.
    at = NOW + WINDOW + 1
    holds = group_silences(states, window=WINDOW, now=at, wall=at)
    commit = settle_released(list(suppressed.values()), {s.key: s for s in states}, holds,
                             ROUTING, at, wall=at,
                             annotate=lambda evs: with_grouped(evs, states, WINDOW))
    assert [(d.event.key.check, d.event.grouped) for d in commit.deliveries] == [
        ("web", ("api", "db"))]
    message = render(commit.deliveries[0].event)
    assert "(and 2 more alerts)" in message.title
    assert "Opened with it: 2 more alerts of web1 (api, db), held under this incident; web " \
           "opened first" in message.body


def test_when_the_first_resolves_the_others_still_failing_are_announced_on_their_own() -> None:
    web, api = firing("web", NOW), firing("api", NOW + 3)
    before = [web, api]
    resolved = AlertState(web.key, Phase.RESOLVED, Status.OK, fired_at=None,
                          incident=web.incident)
    after = [resolved, api]
    ev = told([event(web, EventKind.RESOLVED)], HoldRules(HOST, group_window=WINDOW), after,
              [], wall=NOW + 100, before=before)
    assert ev[0].grouped == ("api",)
    assert "Still failing: 1 more alert of web1 that opened with it (api)" in render(ev[0]).body
    # api is now a group of its own whose window is over: nothing holds it.
    assert group_silences(after, window=WINDOW, now=NOW + 100, wall=NOW + 100) == []
    held = Suppressed(event(api), NOW + 3)
    commit = settle_released([held], {s.key: s for s in after}, [], ROUTING, NOW + 100,
                             wall=NOW + 100)
    assert [d.event.key.check for d in commit.deliveries] == ["api"]


def test_a_dependent_of_a_failing_parent_is_held_by_the_dependency_not_grouped() -> None:
    from agent.alerting.dependencies import Parent

    rules = HoldRules(HOST, depends_on={"shop": ("gateway",)},
                      parents={"gateway": Parent("gateway", 10.0, 5.0)}, group_window=WINDOW)
    states = [firing("gateway", NOW), firing("shop", NOW + 2), firing("mail", NOW + 4)]
    found = holds_at(rules, [], states, {"gateway": NOW}, now=NOW + 5, wall=NOW + 5)
    by_key = {s.key.check if s.key else s.check_glob: s.cause for s in found}
    assert by_key == {"gateway": HoldCause.GROUPING, "shop": HoldCause.DEPENDENCY,
                      "mail": HoldCause.GROUPING}
    ev = told([event(states[0])], rules, states, found, wall=NOW + 40)
    assert (ev[0].dependents, ev[0].grouped) == (("shop",), ("mail",))


@pytest.mark.parametrize(("k", "text"), [
    (key("web"), "web"),
    (key("disk", metric="used_percent", labels=(("mount", "/var"),)),
     "disk/used_percent{mount=/var}"),
    (key("ping", labels=(("target", "gw"),)), "ping{target=gw}"),
])
def test_messages_name_grouped_alerts_by_check_metric_and_labels(k: AlertKey,
                                                                 text: str) -> None:
    assert grouped_text(k) == text


def test_a_silenced_alert_neither_leads_a_group_nor_is_named_in_one() -> None:
    """A silenced alert that fires first must not hold the host's other alerts under it
    for the whole silence, and one that fires second must not be named in the page."""
    from agent.alerting.silences import Silence

    silence = Silence(id=1, check_glob="backup", metric=None, starts_at=NOW - 60,
                      ends_at=NOW + 7200, reason="planned", created_at=NOW - 60, host=HOST)
    rules = HoldRules(HOST, group_window=WINDOW)
    backup, web = firing("backup", NOW), firing("web", NOW + 2)
    found = holds_at(rules, [silence], [backup, web], {}, now=NOW + 40, wall=NOW + 40)
    assert not any(h.matches(web.key, NOW + 40) for h in found)
    web, backup = firing("web", NOW), firing("backup", NOW + 2)
    found = holds_at(rules, [silence], [web, backup], {}, now=NOW + 40, wall=NOW + 40)
    ev = told([event(web)], rules, [web, backup], found, wall=NOW + 40)
    assert ev[0].grouped == ()


def _at(check: str, fired: float, severity: Status) -> AlertState:
    return replace(firing(check, NOW + fired), severity=severity)


W, C, U = Status.WARNING, Status.CRITICAL, Status.UNKNOWN


@pytest.mark.parametrize(("fired", "expected"), [
    # check -> (seconds after NOW, severity); expected: first -> others
    ({"web": (0, C), "api": (3, W)}, {"web": ["api"]}),            # less severe: held
    ({"web": (0, W), "api": (3, W)}, {"web": ["api"]}),
    ({"web": (0, W), "api": (3, C)}, {"web": [], "api": []}),      # never under a WARNING
    ({"web": (0, C), "api": (3, U)}, {"web": [], "api": []}),      # UNKNOWN stands apart
    ({"web": (0, U), "api": (3, W)}, {"web": [], "api": []}),
    ({"web": (0, W), "api": (3, C), "db": (5, W), "mail": (6, C)},
     {"web": ["db"], "api": ["mail"]}),                           # each joins its like
])
def test_an_alert_is_held_only_under_a_first_at_least_as_severe(
        fired: dict[str, tuple[float, Status]], expected: dict[str, list[str]]) -> None:
    found = groups([_at(c, t, s) for c, (t, s) in fired.items()], WINDOW)
    assert {g.first.key.check: [s.key.check for s in g.others] for g in found} == expected


def test_a_critical_firing_after_a_warning_pages_on_its_own() -> None:
    """routes {pager, severity: [critical]} + {js}: y WARNING, z CRITICAL 3 s later; the
    pager must hear of z while y stays open."""
    y, z = _at("y", 0, W), _at("z", 3, C)
    found = holds_at(HoldRules(HOST, group_window=WINDOW), [], [y, z], {},
                     now=NOW + 40, wall=NOW + 40, )
    assert not any(h.matches(z.key, NOW + 40) for h in found)
    ev = told([event(y)], HoldRules(HOST, group_window=WINDOW), [y, z], found,
              wall=NOW + 40, now=NOW + 40)
    assert ev[0].grouped == ()


@pytest.mark.parametrize(("joined", "states", "held"), [
    # the recorded group holds while its first fires and the member is no worse
    ({"i-web1/api/status": "i-web1/web/status"}, {"web": C, "api": C}, {"api"}),
    # the member got worse than its first: it leaves the group
    ({"i-web1/api/status": "i-web1/web/status"}, {"web": W, "api": C}, set()),
    # it left (released, announced): never held again, even when it is no worse again
    ({"i-web1/api/status": None}, {"web": C, "api": W}, set()),
    # its first resolved: the others are in no group, not regrouped under api
    ({"i-web1/api/status": "i-web1/web/status", "i-web1/db/status": "i-web1/web/status"},
     {"api": C, "db": C}, set()),
])
def test_a_group_is_kept_as_recorded_and_a_member_that_left_is_never_regrouped(
        joined: dict[str, str | None], states: dict[str, Status], held: set[str]) -> None:
    times = {"web": 0, "api": 3, "db": 7}
    found = group_silences([_at(c, times[c], s) for c, s in states.items()], window=WINDOW,
                           now=NOW + 100, wall=NOW + 100, joined=joined)
    assert {h.check_glob for h in found} == held


def test_the_first_resolving_releases_the_others_each_announced_on_its_own() -> None:
    """README: its resolve names those still failing, which are then announced on their
    own (not regrouped under the next earliest, whose message would name the others)."""
    web, api, db = firing("web", NOW), firing("api", NOW + 3), firing("db", NOW + 7)
    joined: dict[str, str | None] = {api.incident or "": web.incident,
                                     db.incident or "": web.incident}
    rules = HoldRules(HOST, group_window=WINDOW, joined=joined)
    resolved = AlertState(web.key, Phase.RESOLVED, Status.OK, fired_at=NOW,
                          incident=web.incident)
    ev = told([event(web, EventKind.RESOLVED)], rules, [resolved, api, db], [],
              wall=NOW + 100, now=NOW + 100, before=[web, api, db])
    assert ev[0].grouped == ("api", "db")
    after = [resolved, api, db]
    holds = holds_at(rules, [], after, {}, now=NOW + 100, wall=NOW + 100)
    assert holds == []
    held = [Suppressed(event(api), NOW + 3), Suppressed(event(db), NOW + 7)]
    commit = settle_released(held, {s.key: s for s in after}, holds, ROUTING, NOW + 100,
                             wall=NOW + 100,
                             annotate=lambda evs: told(evs, rules, after, holds,
                                                       wall=NOW + 100, now=NOW + 100))
    assert [(d.event.key.check, d.event.grouped) for d in commit.deliveries] == [
        ("api", ()), ("db", ())]


def test_an_alert_whose_silence_ends_names_no_alert_announced_on_its_own_before() -> None:
    """s silenced fires first, x 2 s later goes out alone; when s's silence ends its page
    must not say "(and 1 more alert)" naming x."""
    s, x = firing("s", NOW), firing("x", NOW + 2)
    rules = HoldRules(HOST, group_window=WINDOW, joined={})
    later = NOW + 3600
    holds = holds_at(rules, [], [s, x], {}, now=later, wall=later)
    assert not any(h.matches(x.key, later) for h in holds)
    ev = told([event(s)], rules, [s, x], holds, wall=later, now=later)
    assert ev[0].grouped == ()
    # While the window is open, a newcomer not yet recorded still joins.
    holds = holds_at(rules, [], [s, x], {}, now=NOW + 2, wall=NOW + 2)
    assert any(h.matches(x.key, NOW + 2) and h.group == s.key for h in holds)
