"""Outages: what counts as up, down and no data, and where an outage starts and ends."""

from __future__ import annotations

import pytest

from agent.history.outages import Outage, OutageBook, up_of
from agent.model import Status

OK, WARN, CRIT, UNK = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN


@pytest.mark.parametrize(("status", "up"), [(OK, True), (WARN, True), (CRIT, False),
                                            (UNK, None)])
def test_warning_is_up_critical_down_and_unknown_no_data(status: Status,
                                                         up: bool | None) -> None:
    assert up_of(status) is up


#: (statuses, one run a minute from 0, the outages written)
CASES = [
    ("all up is no outage", [OK, WARN, OK], []),
    ("a run of critical is one outage, to the next up run",
     [OK, CRIT, CRIT, OK], [Outage("web", 60, 120, 180)]),
    ("unknown neither starts nor ends one",
     [UNK, CRIT, UNK, CRIT, UNK, OK], [Outage("web", 60, 180, 300)]),
    ("one still going is written as it stands",
     [OK, CRIT, CRIT], [Outage("web", 60, 120, None)]),
    ("two outages", [CRIT, OK, CRIT, WARN],
     [Outage("web", 0, 0, 60), Outage("web", 120, 120, 180)]),
]


@pytest.mark.parametrize(("statuses", "written"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_an_outage_runs_from_the_first_critical_run_to_the_next_up_one(
        statuses: list[Status], written: list[Outage]) -> None:
    book = OutageBook()
    for i, status in enumerate(statuses):
        book.observe("web", up_of(status), i * 60.0)
    assert book.take_changed() == written
    assert book.take_changed() == []


def test_an_outage_going_on_is_written_again_as_it_grows() -> None:
    book = OutageBook()
    book.observe("web", False, 0.0)
    assert book.take_changed() == [Outage("web", 0.0, 0.0)]
    book.observe("web", False, 60.0)
    assert book.take_changed() == [Outage("web", 0.0, 60.0)]
    book.observe("web", True, 120.0)
    assert book.take_changed() == [Outage("web", 0.0, 60.0, 120.0)]
    assert book.going_on("web") is None


def test_an_outage_lasts_until_now_while_it_goes_on() -> None:
    assert Outage("web", 100.0, 160.0).lasted(400.0) == 300.0
    assert Outage("web", 100.0, 160.0, 220.0).lasted(400.0) == 120.0
