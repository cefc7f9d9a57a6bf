"""Alert values to and from the store's columns and JSON, old forms included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.alerting.state import AlertEvent, AlertState, EventKind, Phase
from agent.model import AlertKey, Status
from agent.store.codec import (
    STATE_COLUMNS,
    event_from_json,
    event_to_json,
    state_from_row,
    state_to_row,
)

T0 = 1_700_000_000.0
KEY = AlertKey("web1", "disk", "used_percent", (("mount", "/var"),))
FIRING = AlertState(KEY, Phase.FIRING, Status.CRITICAL, problem_since=T0 - 60, fired_at=T0,
                    updated_at=T0, incident="abc-1700000000.3", why="93 > 90", episode=3,
                    emitted=5)


def row_of(state: AlertState) -> dict[str, Any]:
    return dict(zip(STATE_COLUMNS, state_to_row(state), strict=True))


def test_state_round_trips_with_its_episode_and_event_counts() -> None:
    assert state_from_row(row_of(FIRING)) == FIRING


@pytest.mark.parametrize("old", [
    pytest.param(lambda row: {k: v for k, v in row.items()
                              if k not in ("episode", "emitted")}, id="no-columns"),
    pytest.param(lambda row: {**row, "episode": None, "emitted": None}, id="nulls"),
])
def test_a_state_stored_before_counting_reads_with_nothing_counted(old: Any) -> None:
    state = state_from_row(old(row_of(FIRING)))
    assert (state.episode, state.emitted) == (0, 0)
    assert state.incident == FIRING.incident and state.phase is Phase.FIRING


def test_event_round_trips_with_its_number() -> None:
    event = AlertEvent(EventKind.REMINDER, KEY, Status.CRITICAL, T0, "abc-1.2", "x", seq=4)
    back = event_from_json(event_to_json(event))
    assert back == event and back.dedup_key == "abc-1.2:4"


def test_an_event_stored_before_numbering_keeps_the_key_it_was_queued_with() -> None:
    event = AlertEvent(EventKind.FIRING, KEY, Status.CRITICAL, T0 + 0.7, "abc-1", "x", seq=1)
    data = json.loads(event_to_json(event))
    del data["seq"]
    back = event_from_json(json.dumps(data))
    assert back.seq == 0 and back.dedup_key == f"abc-1:firing:{int(T0)}"
