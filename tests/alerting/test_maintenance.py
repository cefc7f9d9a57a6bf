"""Maintenance windows: when they hold, whom they cover, and how the config declares them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.alerting.maintenance import Window, window_silences
from agent.config import parse_config
from agent.config.maintenance_section import MaintenanceEntry
from agent.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, tz: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def window(**kw: Any) -> Window:
    return MaintenanceEntry.model_validate({"name": "w", "checks": ["db"], **kw}).window()


@pytest.mark.parametrize(("spec", "moment", "holds"), [
    ({"cron": "0 2 * * sun", "duration": "2h", "timezone": "Europe/Berlin"},
     "2026-11-29 03:59", True),
    ({"cron": "0 2 * * sun", "duration": "2h", "timezone": "Europe/Berlin"},
     "2026-11-29 04:00", False),
    ({"cron": "0 2 * * sun", "duration": "2h", "timezone": "Europe/Berlin"},
     "2026-11-30 02:30", False),
    # weekdays + from/to, passing midnight: Tuesday 22:00 to Wednesday 01:30.
    ({"weekdays": ["tue"], "from": "22:00", "to": "01:30", "timezone": "Europe/Berlin"},
     "2026-12-01 23:00", True),
    ({"weekdays": ["tue"], "from": "22:00", "to": "01:30", "timezone": "Europe/Berlin"},
     "2026-12-02 01:29", True),
    ({"weekdays": ["tue"], "from": "22:00", "to": "01:30", "timezone": "Europe/Berlin"},
     "2026-12-02 01:31", False),
    ({"weekdays": ["Tuesday"], "from": "22:00", "to": "01:30", "timezone": "Europe/Berlin"},
     "2026-12-01 21:59", False),
], ids=["sunday-inside", "sunday-end-excluded", "monday", "tuesday-night",
        "past-midnight", "after", "before"])
def test_a_window_holds_in_its_own_time_zone(spec: dict[str, Any], moment: str,
                                             holds: bool) -> None:
    assert (window(**spec).current(at(moment)) is not None) is holds


def test_upcoming_lists_the_current_then_the_next_occurrences() -> None:
    w = window(cron="0 2 * * sun", duration="2h", timezone="Europe/Berlin")
    found = w.upcoming(at("2026-11-29 03:00"), 3)
    assert [s for s, _ in found] == [at("2026-11-29 02:00"), at("2026-12-06 02:00"),
                                     at("2026-12-13 02:00")]
    assert all(e - s == 7200 for s, e in found)


def test_a_holding_window_silences_each_check_it_covers_by_name_glob_or_tag() -> None:
    w = window(cron="* * * * *", duration="1h", checks=["db", "backup-*"], tags=["web"],
               reason="patching")
    checks = {"db": (), "backup-nightly": (), "shop": ("web",), "cpu": ("infra",)}
    found = window_silences([w], at("2026-12-01 12:00"), checks, "h1")
    assert sorted(s.check_glob for s in found) == ["backup-nightly", "db", "shop"]
    assert {(s.window, s.reason, s.host, s.label) for s in found} == {
        ("w", "patching", "h1", "maintenance window w")}


@pytest.mark.parametrize(("entry", "words"), [
    ({"name": "w", "checks": ["db"]}, "give either cron and duration"),
    ({"name": "w", "checks": ["db"], "cron": "0 2 * * *"}, "cron and duration go together"),
    ({"name": "w", "checks": ["db"], "weekdays": ["mon"], "from": "22:00"},
     "weekdays, from and to go together"),
    ({"name": "w", "checks": ["db"], "weekdays": ["mon"], "from": "25:00", "to": "01:00"},
     "time of day"),
    ({"name": "w", "checks": ["db"], "weekdays": ["funday"], "from": "1:00", "to": "2:00"},
     "is not a weekday"),
    ({"name": "w", "cron": "0 2 * * *", "duration": "1h"}, "name the checks"),
    ({"name": "w", "checks": ["db"], "cron": "0 2 * * *", "duration": "1h",
      "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"name": "w", "checks": ["nope"], "cron": "0 2 * * *", "duration": "1h"},
     "no check is named 'nope'"),
    ({"name": "w", "checks": ["zz-*"], "cron": "0 2 * * *", "duration": "1h"},
     "'zz-*' matches no configured check"),
    ({"name": "w", "checks": ["db"], "cron": "61 2 * * *", "duration": "1h"}, "minute"),
], ids=["no-time", "cron-alone", "days-without-to", "bad-clock", "bad-day", "covers-nothing",
        "bad-zone", "unknown-check", "glob-matches-nothing", "bad-cron"])
def test_a_bad_window_is_a_config_error_naming_it(entry: dict[str, Any], words: str) -> None:
    text = "checks:\n  - name: db\n    kind: cpu\nmaintenance:\n  - " + \
        "\n    ".join(f"{k}: {v!r}" if not isinstance(v, list) else f"{k}: {v}"
                      for k, v in entry.items()).replace("'", '"') + "\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="c.yaml")
    assert any(words.replace("'", '"') in str(i) or words in str(i)
               for i in caught.value.issues), caught.value.issues
    assert all(str(i).startswith("c.yaml:") for i in caught.value.issues)


def test_two_windows_of_one_name_are_refused() -> None:
    text = ("checks:\n  - name: db\n    kind: cpu\nmaintenance:\n"
            "  - {name: w, checks: [db], cron: '0 2 * * *', duration: 1h}\n"
            "  - {name: w, checks: [db], cron: '0 3 * * *', duration: 1h}\n")
    with pytest.raises(ConfigError, match="a second window named 'w'"):
        parse_config(text, source="c.yaml")
