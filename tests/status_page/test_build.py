"""What the status page tells, decided from states, incidents and a known history."""

from __future__ import annotations

import datetime

import pytest

from agent import logs
from agent.alerting.state import AlertState, Phase
from agent.incidents.record import Incident
from agent.model import AlertKey, Status
from agent.status_page.build import (
    HIDDEN_NAME,
    MAX_INCIDENTS,
    build_page,
    current_state,
    day_state,
    uptime_text,
)
from agent.status_page.model import PageState
from agent.status_page.sources import NoHistory, Snapshot
from tests.status_page.history_fake import FakeHistory

#: 2025-12-01 14:40 UTC.
NOW = 1_764_600_000.0
DAY = 86400.0


def state(check: str, phase: Phase, severity: Status = Status.OK, why: str = "", *,
          metric: str = "status", host: str = "shop1") -> AlertState:
    return AlertState(key=AlertKey(host, check, metric), phase=phase, severity=severity, why=why)


def incident(n: int, check: str, *, opened: float, lasted: float | None,
             worst: Status = Status.CRITICAL, why: str = "connection refused") -> Incident:
    return Incident(id=f"i{n:03d}", host="shop1", check=check, metric="status",
                    key=f"shop1/{check}/status", opened_at=opened, first_bad_at=opened - 60,
                    severity=worst, worst=worst, why=why,
                    resolved_at=opened + lasted if lasted is not None else None)


def snapshot(*states: AlertState, incidents: tuple[Incident, ...] = (),
             public: tuple[str, ...] = ("web", "api"), private: tuple[str, ...] = ("db",),
             ran: frozenset[str] | None = frozenset({"web", "api"})) -> Snapshot:
    return Snapshot(public=public, private=private, host="shop1", states=states,
                    incidents=incidents, ran=ran)


@pytest.mark.parametrize(("fraction", "text"), [
    (None, "-"),
    (1.0, "100%"),
    (0.99999, "99.99%"),    # cut, not rounded: never 100% after an outage
    (0.9999, "99.99%"),     # not 99.98 from float noise
    (0.99949, "99.94%"),
    (0.5, "50.00%"),
    (0.0, "0.00%"),
    (1.2, "100%"),          # a history that overshoots is capped
    (-0.1, "0.00%"),
    (float("nan"), "-"),
])
def test_uptime_is_written_cut_to_two_decimals(fraction: float | None, text: str) -> None:
    assert uptime_text(fraction) == text


@pytest.mark.parametrize(("fraction", "expected"), [
    (None, PageState.NO_DATA),
    (1.0, PageState.UP),
    (0.9999, PageState.DEGRADED),   # a minute down is a mark on the bar
    (0.95, PageState.DEGRADED),
    (0.9499, PageState.DOWN),
    (0.0, PageState.DOWN),
])
def test_a_day_is_up_only_when_up_all_day(fraction: float | None, expected: PageState) -> None:
    assert day_state(fraction) is expected


@pytest.mark.parametrize(("states", "ran", "expected"), [
    ([], False, PageState.NO_DATA),
    ([], True, PageState.UP),
    ([state("web", Phase.OK)], True, PageState.UP),
    ([state("web", Phase.RESOLVED)], True, PageState.UP),
    ([state("web", Phase.PENDING, Status.CRITICAL)], True, PageState.UP),  # not decided yet
    ([state("web", Phase.FIRING, Status.WARNING)], True, PageState.DEGRADED),
    ([state("web", Phase.FIRING, Status.CRITICAL)], True, PageState.DOWN),
    ([state("web", Phase.FIRING, Status.UNKNOWN)], True, PageState.UNKNOWN),
    ([state("web", Phase.FIRING, Status.WARNING, metric="response_ms"),
      state("web", Phase.FIRING, Status.CRITICAL)], True, PageState.DOWN),
    ([state("web", Phase.FIRING, Status.UNKNOWN),
      state("web", Phase.FIRING, Status.WARNING, metric="response_ms")], True,
     PageState.DEGRADED),
])
def test_a_check_is_as_bad_as_its_worst_firing_alert(states: list[AlertState], ran: bool,
                                                     expected: PageState) -> None:
    assert current_state(states, ran)[0] is expected


def test_the_page_shows_states_and_uptimes_of_a_known_history() -> None:
    history = FakeHistory(
        uptimes={"web": {DAY: 1.0, 30 * DAY: 0.9993, 90 * DAY: 0.998},
                 "api": {DAY: 0.5}},
        days={"web": [1.0] * 88 + [0.97, 0.5], "api": [None] * 89 + [0.5]},
        response={"web": [100.0, 120.0, None, 140.0]})
    page = build_page(snapshot(state("api", Phase.FIRING, Status.CRITICAL, "HTTP 503")),
                      history, NOW, title="Acme")
    web, api = page.checks
    assert (page.title, page.state, page.headline) == ("Acme", PageState.DOWN,
                                                       "Some systems down")
    assert (web.name, web.state, [u.text for u in web.uptime]) == (
        "web", PageState.UP, ["100%", "99.93%", "99.80%"])
    assert (api.state, api.note, [u.text for u in api.uptime]) == (
        PageState.DOWN, "HTTP 503", ["50.00%", "-", "-"])
    assert len(web.days) == 90
    assert (web.days[0].date, web.days[-1].date) == ("2025-09-03", "2025-12-01")
    assert [d.state for d in web.days[-3:]] == [PageState.UP, PageState.DEGRADED,
                                                PageState.DOWN]
    assert web.days[-1].label == "2025-12-01: 50.00% up"
    assert api.days[0].label == "2025-09-03: no data"
    assert web.sparkline is not None and api.sparkline is None
    assert web.sparkline.values[-4:] == (100.0, 120.0, None, 140.0)
    assert web.sparkline.caption == "avg 120ms · latest 140ms"


def test_the_days_follow_the_calendar_of_the_time_zone_given() -> None:
    # 14:40 UTC on 1 December is already 2 December in Auckland (UTC+13).
    auckland = datetime.timezone(datetime.timedelta(hours=13))
    page = build_page(snapshot(), NoHistory(), NOW, tz=auckland)
    assert page.checks[0].days[-1].date == "2025-12-02"


@pytest.mark.parametrize(("states", "ran", "headline"), [
    ((), frozenset({"web", "api"}), "All systems operational"),
    ((), frozenset(), "No data yet"),
    ((state("web", Phase.FIRING, Status.WARNING),), frozenset({"web", "api"}),
     "Some systems degraded"),
    ((state("web", Phase.FIRING, Status.CRITICAL),), frozenset({"web", "api"}),
     "Some systems down"),
    ((state("web", Phase.FIRING, Status.CRITICAL), state("api", Phase.FIRING,
                                                          Status.CRITICAL)),
     frozenset({"web", "api"}), "All systems down"),
])
def test_the_headline_says_the_worst(states: tuple[AlertState, ...], ran: frozenset[str],
                                     headline: str) -> None:
    assert build_page(snapshot(*states, ran=ran), NoHistory(), NOW).headline == headline


def test_without_knowing_what_ran_a_check_with_history_or_a_state_is_up() -> None:
    history = FakeHistory(uptimes={"web": {DAY: 1.0}})
    page = build_page(snapshot(state("api", Phase.RESOLVED), ran=None), history, NOW)
    assert [c.state for c in page.checks] == [PageState.UP, PageState.UP]
    page = build_page(snapshot(ran=None), NoHistory(), NOW)
    assert [c.state for c in page.checks] == [PageState.NO_DATA, PageState.NO_DATA]


def test_another_hosts_states_do_not_count() -> None:
    other = state("web", Phase.FIRING, Status.CRITICAL, host="old-name")
    assert build_page(snapshot(other), NoHistory(), NOW).checks[0].state is PageState.UP


def test_incidents_listed_are_the_public_ones_open_or_of_the_last_30_days() -> None:
    incidents = (
        incident(1, "web", opened=NOW - 40 * DAY, lasted=600),         # too old
        incident(2, "web", opened=NOW - 20 * DAY, lasted=1800, worst=Status.WARNING),
        incident(3, "db", opened=NOW - DAY, lasted=60),                # not public
        incident(4, "api", opened=NOW - 3600, lasted=None),            # open
        incident(5, "web", opened=NOW - 2 * DAY, lasted=90),
        incident(6, "api", opened=NOW - 90 * DAY, lasted=None),        # open for long
    )
    page = build_page(snapshot(incidents=incidents), NoHistory(), NOW)
    assert [i.id for i in page.incidents] == ["i004", "i006", "i005", "i002"]
    open_one, _, short, warned = page.incidents
    assert (open_one.open, open_one.title, open_one.duration, open_one.duration_text) == (
        True, "Outage", 3660.0, "1h 1m")
    assert (short.open, short.duration_text, short.resolved_text) == (False, "2m 30s",
                                                                      "14:41 UTC")
    assert short.started_text == "2025-11-29 14:39 UTC"
    assert (warned.state, warned.title, warned.duration_text) == (
        PageState.DEGRADED, "Degraded performance", "31m")


def test_a_long_list_of_incidents_is_cut_to_the_latest() -> None:
    many = tuple(incident(n, "web", opened=NOW - n * 3600, lasted=60) for n in range(1, 60))
    ids = [i.id for i in build_page(snapshot(incidents=many), NoHistory(), NOW).incidents]
    assert ids == [f"i{n:03d}" for n in range(1, MAX_INCIDENTS + 1)]


@pytest.mark.parametrize(("why", "shown"), [
    ("waits on db", f"waits on {HIDDEN_NAME}"),
    ("401 for s3cr3t-status-zz9", "401 for ****"),  # a secret of the config
    ("db: connection refused", f"{HIDDEN_NAME}: connection refused"),
    ("dbx is slow", "dbx is slow"),              # another word, not the name
    ("my-db is slow", "my-db is slow"),
    ("db.example.com refused", "db.example.com refused"),
    ("", ""),
])
def test_names_of_checks_not_shown_and_secrets_are_taken_out_of_reasons(why: str,
                                                                        shown: str) -> None:
    logs.scrubber.add(["s3cr3t-status-zz9"])
    page = build_page(snapshot(state("web", Phase.FIRING, Status.CRITICAL, why),
                               incidents=(incident(1, "web", opened=NOW, lasted=None,
                                                   why=why),)), NoHistory(), NOW)
    assert (page.checks[0].note, page.incidents[0].why) == (shown, shown)


class _Sloppy(NoHistory):
    """A history answering a set number of days, whatever is asked."""

    def __init__(self, answered: int) -> None:
        self.answered = answered

    def daily_up(self, check: str, days: int, until: float,
                 tz: datetime.tzinfo) -> list[float | None]:
        return [1.0] * self.answered


@pytest.mark.parametrize("answered", [0, 3, 200])
def test_a_history_answering_too_few_or_too_many_days_still_gives_90(answered: int) -> None:
    days = build_page(snapshot(), _Sloppy(answered), NOW).checks[0].days
    assert len(days) == 90
    assert sum(d.state is PageState.UP for d in days) == min(answered, 90)
    assert days[-1].date == "2025-12-01"
