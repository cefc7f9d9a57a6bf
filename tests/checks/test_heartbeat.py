"""Heartbeats: the pure judgement (tables with a fake ``now``) and the check on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.clock import FakeClock
from agent.cron import CronExpr
from agent.heartbeats import (
    HeartbeatRules,
    Ping,
    PingKind,
    Run,
    Schedule,
    completed_runs,
    judge,
)
from agent.model import Status
from agent.store import Store
from checks.heartbeat import FIRST_SEEN, HeartbeatCheck, HeartbeatOptions

H = 3600.0
D = 86400.0
M = 60.0
#: 2024-05-10 00:00 UTC, a Friday.
T0 = datetime(2024, 5, 10, tzinfo=UTC).timestamp()


def start(at: float) -> Ping:
    return Ping(PingKind.START, at)


def ok(at: float) -> Ping:
    return Ping(PingKind.SUCCESS, at)


def fail(at: float, code: int | None = None) -> Ping:
    return Ping(PingKind.FAIL, at, code)


def daily(grace: float = H, **kw: Any) -> HeartbeatRules:
    return HeartbeatRules(Schedule(period=D), grace, **kw)


def cron(expr: str, grace: float, tz: str = "UTC") -> HeartbeatRules:
    return HeartbeatRules(Schedule(cron=CronExpr.parse(expr), tz=ZoneInfo(tz), tz_name=tz),
                          grace)


# --- late, early, failure ------------------------------------------------------------------

@pytest.mark.parametrize(("pings", "now", "status", "words"), [
    pytest.param([], T0 + H, Status.OK, "no ping yet; next due in 23h", id="fresh-install"),
    pytest.param([], T0 + D + 59 * M, Status.OK, "no ping yet", id="fresh-within-grace"),
    pytest.param([], T0 + D + H + 1, Status.CRITICAL,
                 "no ping since the check was set up 1d 1h ago (expected every 1d, grace 1h)",
                 id="fresh-never-pinged-late"),
    pytest.param([ok(T0 + 2 * H)], T0 + 2 * H + D + 30 * M, Status.OK, "last success 1d ago",
                 id="within-grace"),
    pytest.param([ok(T0 + 2 * H)], T0 + 2 * H + D + H + 1, Status.CRITICAL,
                 "no ping for 1d 1h (expected every 1d, grace 1h)", id="late"),
    pytest.param([ok(T0), ok(T0 + 3 * H)], T0 + D + 30 * M, Status.OK, "next due in 2h 30m",
                 id="early-ping-restarts-the-period"),
    pytest.param([ok(T0), fail(T0 + H, 3)], T0 + 2 * H, Status.CRITICAL,
                 "job reported failure (exit code 3)", id="failure-with-exit-code"),
    pytest.param([ok(T0), fail(T0 + H)], T0 + 2 * H, Status.CRITICAL, "job reported failure",
                 id="failure"),
    pytest.param([Ping.from_exit_code(0, T0 + H)], T0 + 2 * H, Status.OK, "last success 1h ago",
                 id="exit-code-0-is-success"),
    pytest.param([fail(T0, 1), ok(T0 + H)], T0 + 2 * H, Status.OK, "last success",
                 id="success-clears-failure"),
    pytest.param([fail(T0, 2)], T0 + D + H + 1, Status.CRITICAL,
                 "job reported failure (exit code 2); no ping for 1d 1h", id="failed-and-late"),
    pytest.param([ok(T0), start(T0 + D)], T0 + D + 30 * M, Status.OK, "running for 30m",
                 id="running"),
    pytest.param([ok(T0), start(T0 + D)], T0 + D + H + 1, Status.CRITICAL,
                 "job started 1h ago and has not finished", id="started-never-finished"),
    pytest.param([start(T0 + H)], T0 + D + H + 1, Status.CRITICAL,
                 "job started 1d ago and has not finished", id="first-run-hung"),
])
def test_period_judgement(pings: list[Ping], now: float, status: Status, words: str) -> None:
    verdict = judge(daily(), pings, T0, now)
    assert verdict.status is status, verdict.summary
    assert words in verdict.summary
    assert verdict.late is any(w in words for w in ("not finished", "no ping for",
                                                    "no ping since"))


@pytest.mark.parametrize(("rules", "pings", "now", "late"), [
    # Daily at 03:00 UTC, grace 1h. A fresh check is due at the next 03:00.
    pytest.param(cron("0 3 * * *", H), [], T0 + 3.5 * H, False, id="daily-fresh-in-grace"),
    pytest.param(cron("0 3 * * *", H), [], T0 + 4 * H + 1, True, id="daily-fresh-late"),
    pytest.param(cron("0 3 * * *", H), [ok(T0 + 3 * H + 20 * M)], T0 + D + 3 * H + 59 * M,
                 False, id="daily-next-day-in-grace"),
    pytest.param(cron("0 3 * * *", H), [ok(T0 + 3 * H + 20 * M)], T0 + D + 4 * H + 1, True,
                 id="daily-next-day-late"),
    pytest.param(cron("0 3 * * *", H), [ok(T0 + 3 * H - 10)], T0 + 4 * H + 30 * M, False,
                 id="daily-ping-seconds-early-counts-for-that-run"),
    pytest.param(cron("0 3 * * *", H), [ok(T0 + 2 * H)], T0 + 4 * H + 1, True,
                 id="daily-ping-an-hour-early-does-not"),
    # Every 15 minutes, grace 5m.
    pytest.param(cron("*/15 * * * *", 5 * M), [ok(T0 + 10 * H + 2 * M)], T0 + 10 * H + 19 * M,
                 False, id="quarter-hourly-in-grace"),
    pytest.param(cron("*/15 * * * *", 5 * M), [ok(T0 + 10 * H + 2 * M)],
                 T0 + 10 * H + 20 * M + 1, True, id="quarter-hourly-late"),
    pytest.param(cron("*/15 * * * *", 5 * M), [ok(T0 + 10 * H + 14 * M)],
                 T0 + 10 * H + 20 * M + 1, True, id="quarter-hourly-ping-late-in-run"),
    pytest.param(cron("*/15 * * * *", 5 * M), [ok(T0 + 10 * H + 15 * M - 10)],
                 T0 + 10 * H + 34 * M, False, id="quarter-hourly-ping-seconds-early"),
    # Weekdays only: Friday's run is followed by Monday's.
    pytest.param(cron("0 9 * * mon-fri", H), [ok(T0 + 9 * H)], T0 + 2 * D + 12 * H, False,
                 id="weekdays-weekend-is-quiet"),
    pytest.param(cron("0 9 * * mon-fri", H), [ok(T0 + 9 * H)], T0 + 3 * D + 10 * H + 1, True,
                 id="weekdays-monday-late"),
    # 03:00 in Berlin is 01:00 UTC in May.
    pytest.param(cron("0 3 * * *", H, "Europe/Berlin"), [], T0 + 2 * H + 1, True,
                 id="berlin-late-by-utc-02:00"),
    pytest.param(cron("0 3 * * *", H, "Europe/Berlin"), [], T0 + 2 * H - 1, False,
                 id="berlin-in-grace"),
])
def test_cron_judgement(rules: HeartbeatRules, pings: list[Ping], now: float,
                        late: bool) -> None:
    verdict = judge(rules, pings, T0, now)
    assert verdict.late is late, verdict.summary
    assert verdict.status is (Status.CRITICAL if late else Status.OK)


def test_cron_late_message_names_the_schedule_and_zone() -> None:
    verdict = judge(cron("0 3 * * *", H, "Europe/Berlin"), [ok(T0)], T0, T0 + 2 * D)
    assert verdict.summary == ('no ping for 2d (expected at "0 3 * * *" Europe/Berlin, '
                               "grace 1h)")


def test_due_time_follows_the_last_completion() -> None:
    verdict = judge(daily(), [ok(T0), start(T0 + 5 * H)], T0, T0 + 6 * H)
    assert verdict.due_at == T0 + D


# --- durations -----------------------------------------------------------------------------

def history(durations: list[float], *, every: float = D, origin: float = T0) -> list[Ping]:
    """Runs that started at ``origin + i * every`` and took the given durations."""
    out: list[Ping] = []
    for i, d in enumerate(durations):
        out += [start(origin + i * every), ok(origin + i * every + d)]
    return out


@pytest.mark.parametrize(("durations", "kw", "status", "words"), [
    pytest.param([600] * 5 + [600], {}, Status.OK, "ran 10m", id="usual"),
    pytest.param([600] * 5 + [201], {}, Status.OK, "ran 3m", id="just-inside-low"),
    pytest.param([600] * 5 + [100], {}, Status.WARNING,
                 "job ran 1m 40s, far shorter than usual (10m; expected 3m 20s to 30m)",
                 id="far-shorter"),
    pytest.param([600] * 5 + [2000], {}, Status.WARNING, "far longer than usual",
                 id="far-longer"),
    pytest.param([600] * 4 + [2000], {}, Status.OK, "ran 33m", id="too-few-runs-to-judge"),
    pytest.param([600] * 5 + [1300], {"duration_factor": 2.0}, Status.WARNING,
                 "expected 5m to 20m", id="factor-option"),
    pytest.param([600] * 3 + [60, 6000] + [600], {"duration_min_runs": 5}, Status.OK,
                 "ran 10m", id="median-ignores-outliers"),
    pytest.param([60] * 30 + [600] * 20 + [600], {}, Status.OK, "ran 10m",
                 id="only-the-last-20-count"),
])
def test_duration_outliers(durations: list[float], kw: dict[str, Any], status: Status,
                           words: str) -> None:
    pings = history(durations)
    now = pings[-1].at + H
    verdict = judge(daily(**kw), pings, T0, now)
    assert verdict.status is status, verdict.summary
    assert words in verdict.summary
    assert verdict.duration == durations[-1]


def test_a_run_in_progress_for_far_longer_than_usual_warns() -> None:
    pings = [*history([600] * 5), start(T0 + 5 * D)]
    verdict = judge(daily(), pings, T0, T0 + 5 * D + 2000)
    assert verdict.status is Status.WARNING
    assert "job running for 33m, far longer than usual (10m)" in verdict.summary
    assert judge(daily(), pings, T0, T0 + 5 * D + 1700).status is Status.OK


def test_failed_runs_and_runs_without_start_have_no_duration() -> None:
    pings = [start(T0), fail(T0 + 60, 1), ok(T0 + D)]
    assert completed_runs(pings) == []
    verdict = judge(daily(), pings, T0, T0 + D + 1)
    assert verdict.duration is None
    assert judge(daily(), [start(T0), fail(T0 + 60, 1)], T0, T0 + 120).duration is None


def test_a_repeated_start_pairs_the_latest_with_the_success() -> None:
    assert completed_runs([start(T0), start(T0 + 100), ok(T0 + 160)]) == [Run(T0 + 100, T0 + 160)]


@pytest.mark.parametrize(("pings", "since"), [
    ([], 5 * H),  # from when the check was set up
    ([ok(T0 + H)], 4 * H),
    ([ok(T0 + H), start(T0 + 4 * H)], H),  # a start counts as a ping
])
def test_since_last_ping_counts_from_any_ping(pings: list[Ping], since: float) -> None:
    assert judge(daily(), pings, T0, T0 + 5 * H).since_last_ping == since


# --- the check, on a real store ------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def make_check(name: str = "nightly", **options: Any) -> HeartbeatCheck:
    if "cron" not in options:
        options.setdefault("period", "1d")
    return HeartbeatCheck(name, HeartbeatOptions.model_validate(options))


def context(store: Store | None, clock: FakeClock, name: str = "nightly") -> CheckContext:
    return CheckContext(name, "testhost", 5.0, clock=clock, heartbeats=store)


def test_the_entry_point_names_this_class() -> None:
    assert load_kind("heartbeat") is HeartbeatCheck


async def test_fresh_check_remembers_when_it_was_set_up_and_is_not_late(store: Store) -> None:
    clock = FakeClock(T0)
    check, ctx = make_check(grace="1h"), context(store, clock)
    result = await check.run(ctx)
    assert result.status is Status.OK
    assert ctx.memory[FIRST_SEEN] == T0
    clock.advance(D + H - 1)
    assert (await check.run(ctx)).status is Status.OK
    clock.advance(2)
    late = await check.run(ctx)
    assert late.status is Status.CRITICAL
    assert late.metrics["since_last_ping_seconds"] == D + H + 1
    assert ctx.memory[FIRST_SEEN] == T0


async def test_stored_pings_are_judged_and_survive_reopening(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    with Store.open(tmp_path) as s:
        s.record_ping("nightly", start(T0 - 600))
        s.record_ping("nightly", ok(T0 - 60))
        s.record_ping("other", fail(T0 - 30, 9))
    with Store.open(tmp_path) as s:
        result = await make_check().run(context(s, clock))
        assert result.status is Status.OK, result.summary
        assert result.metrics == {"since_last_ping_seconds": 60.0, "duration_seconds": 540.0}
        s.record_ping("nightly", fail(T0, 4))
        failed = await make_check().run(context(s, clock))
    assert failed.status is Status.CRITICAL
    assert failed.summary == "job reported failure (exit code 4)"
    assert failed.metrics == {"since_last_ping_seconds": 0.0}


def test_the_store_keeps_only_the_newest_pings(store: Store) -> None:
    for i in range(12):
        store.record_ping("nightly", ok(T0 + i), keep=5)
    store.record_ping("other", ok(T0))
    assert [p.at for p in store.heartbeat_pings("nightly")] == [T0 + i for i in range(7, 12)]
    assert [p.at for p in store.heartbeat_pings("nightly", limit=2)] == [T0 + 10, T0 + 11]
    assert store.heartbeat_pings("other") == [ok(T0)]
    assert store.heartbeat_pings("unknown") == []


async def test_without_a_ping_store_the_check_cannot_judge() -> None:
    result = await make_check().run(context(None, FakeClock(T0)))
    assert result.status is Status.UNKNOWN
    assert "running agent" in result.summary


@pytest.mark.parametrize(("options", "message"), [
    ({}, "set period (like 1d) or cron"),
    ({"period": "1d", "cron": "0 3 * * *"}, "not both"),
    ({"period": "1d", "timezone": "UTC"}, "timezone applies only with cron"),
    ({"cron": "0 3 * *"}, "expected 5 fields"),
    ({"cron": "0 25 * * *"}, "hour field: 25 is out of range"),
    ({"cron": "0 3 * * *", "timezone": "Europe/Berln"}, "unknown time zone 'Europe/Berln'"),
    ({"period": "soon"}, "expected a duration"),
    ({"period": 0}, "must be longer than 0s"),
    ({"period": "1d", "duration_factor": 1}, "greater than 1"),
    ({"period": "1d", "duration_history": 3}, "duration_min_runs (5) cannot exceed"),
    ({"period": "1d", "perod": "1d"}, "Extra inputs"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HeartbeatOptions.model_validate(options)


async def test_cron_options_build_a_zoned_schedule(store: Store) -> None:
    check = make_check(cron="0 3 * * *", timezone="Europe/Berlin", grace="30m")
    assert check.rules.schedule.tz == ZoneInfo("Europe/Berlin")
    clock = FakeClock(T0)  # 02:00 in Berlin
    ctx = context(store, clock)
    assert (await check.run(ctx)).status is Status.OK
    clock.advance(H + 30 * M + 1)  # 03:30 in Berlin, plus a second
    result = await check.run(ctx)
    assert result.status is Status.CRITICAL
    assert 'expected at "0 3 * * *" Europe/Berlin, grace 30m' in result.summary
