"""Heartbeats (pushed pings from cron and backup jobs) and the judgement of them.

A job pings when it starts (optional), and when it ends: success, or failure with its
exit code. The judgement is pure: it takes the pings in arrival order, when the check was
first set up, and ``now``. It finds three kinds of problem:

- late: no completion ping by the next due time plus ``grace`` (CRITICAL). The due time
  follows the last completion (or, before any, the time the check was first set up, so a
  fresh install does not alert at once): ``period`` after it, or the next ``cron`` fire
  (a ping a few seconds before a fire time counts for it). An early ping is no problem:
  it only moves the next due time;
- failure: the last completion was a failure (CRITICAL) until a success arrives;
- duration: the last run (start to success) took far shorter or longer than the median of
  the runs before it, or a run in progress already takes far longer (WARNING).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Protocol

from agent.cron import CronExpr
from agent.model import Status
from agent.units import format_duration

#: Pings kept per heartbeat (enough for the duration history and a little more).
PINGS_KEPT = 200

#: A cron job's ping that comes up to this much before a fire time (clock skew between
#: hosts, a job that runs a second early) counts for that fire time.
CRON_EARLY_TOLERANCE = 30.0


class PingKind(enum.Enum):
    """What a ping says about the job."""

    START = "start"
    SUCCESS = "success"
    FAIL = "fail"

    @property
    def completes(self) -> bool:
        """Whether the ping ends a run (success or failure)."""
        return self is not PingKind.START


@dataclass(frozen=True, slots=True)
class Ping:
    """One ping as received: its kind, when (epoch seconds) and the exit code if given."""

    kind: PingKind
    at: float
    exit_code: int | None = None

    @classmethod
    def from_exit_code(cls, code: int, at: float) -> Ping:
        """``/ping/NAME/<code>``: 0 is a success, anything else a failure."""
        return cls(PingKind.SUCCESS if code == 0 else PingKind.FAIL, at, code)


class PingLog(Protocol):
    """Where a heartbeat check reads its pings (the agent's store)."""

    def heartbeat_pings(self, name: str, limit: int = PINGS_KEPT) -> list[Ping]:
        """The newest ``limit`` pings of ``name``, oldest first (in arrival order)."""
        ...


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job is expected: every ``period`` seconds, or at a ``cron`` expression's
    fire times read in ``tz`` (None: the local zone; ``tz_name`` is for messages)."""

    period: float | None = None
    cron: CronExpr | None = None
    tz: tzinfo | None = None
    tz_name: str | None = None

    def __post_init__(self) -> None:
        if (self.period is None) == (self.cron is None):
            raise ValueError("a schedule has either a period or a cron expression")
        if self.period is not None and self.period <= 0:
            raise ValueError("a period must be longer than 0s")

    def next_due(self, after: float) -> float:
        """When the next completion is expected, given the last one at ``after``."""
        if self.cron is not None:
            return self.cron.next_time(after + CRON_EARLY_TOLERANCE, self.tz)
        assert self.period is not None
        return after + self.period

    def describe(self) -> str:
        """``every 1d`` or ``at "0 3 * * *" Europe/Berlin``."""
        if self.cron is not None:
            zone = f" {self.tz_name}" if self.tz_name else ""
            return f'at "{self.cron.text}"{zone}'
        assert self.period is not None
        return f"every {format_duration(self.period)}"


@dataclass(frozen=True, slots=True)
class HeartbeatRules:
    """How one heartbeat is judged.

    A run whose duration lies outside ``[median / duration_factor, median *
    duration_factor]`` of the last ``duration_history`` runs is an outlier, once at least
    ``duration_min_runs`` runs are known.
    """

    schedule: Schedule
    grace: float
    duration_factor: float = 3.0
    duration_history: int = 20
    duration_min_runs: int = 5


@dataclass(frozen=True, slots=True)
class Run:
    """One finished, successful run: from its start ping to its success ping."""

    started: float
    finished: float

    @property
    def duration(self) -> float:
        return max(self.finished - self.started, 0.0)


@dataclass(frozen=True, slots=True)
class HeartbeatVerdict:
    """The judgement of a heartbeat at one moment.

    ``since_last_ping`` counts from the last ping of any kind (from when the check was set
    up, before the first ping). ``due_at`` is when the next completion is expected;
    ``late`` once ``due_at + grace`` has passed. ``duration`` is the last run's, when it
    was a success with a start ping; ``usual_duration`` the median it is judged against.
    """

    status: Status
    summary: str
    since_last_ping: float
    due_at: float
    late: bool = False
    failed: bool = False
    duration: float | None = None
    usual_duration: float | None = None


def completed_runs(pings: Sequence[Ping]) -> list[Run]:
    """Successful runs that had a start ping, oldest first.

    A success pairs with the latest start since the previous completion; a failure ends
    a run without a duration (durations are of successful runs only).
    """
    runs: list[Run] = []
    started: float | None = None
    for p in pings:
        if p.kind is PingKind.START:
            started = p.at
        elif p.kind is PingKind.SUCCESS:
            if started is not None:
                runs.append(Run(started, p.at))
            started = None
        else:
            started = None
    return runs


def usual_range(durations: Sequence[float], factor: float) -> tuple[float, float, float]:
    """(median, lowest usual, highest usual) of some run durations."""
    import statistics  # only for a heartbeat check that times its runs

    median = statistics.median(durations)
    return median, median / factor, median * factor


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the pings say, read once."""

    last_any: Ping | None
    last_done: Ping | None
    running_since: float | None
    runs: list[Run]
    last_run: Run | None


def _facts(pings: Sequence[Ping]) -> _Facts:
    last_any = pings[-1] if pings else None
    last_done = next((p for p in reversed(pings) if p.kind.completes), None)
    running = last_any.at if last_any is not None and last_any.kind is PingKind.START else None
    runs = completed_runs(pings)
    # The last completion produced the last run when it was a success with a start.
    ended_with_run = (last_done is not None and last_done.kind is PingKind.SUCCESS
                      and bool(runs) and runs[-1].finished == last_done.at)
    return _Facts(last_any, last_done, running, runs, runs[-1] if ended_with_run else None)


def judge(rules: HeartbeatRules, pings: Sequence[Ping], first_seen: float,
          now: float) -> HeartbeatVerdict:
    """Judge a heartbeat at ``now`` from its pings (in arrival order)."""
    facts = _facts(pings)
    last_done = facts.last_done
    reference = last_done.at if last_done is not None else first_seen
    due = rules.schedule.next_due(reference)
    late = now > due + rules.grace
    expectation = f"expected {rules.schedule.describe()}, grace {format_duration(rules.grace)}"

    critical: list[str] = []
    failed = last_done is not None and last_done.kind is PingKind.FAIL
    if last_done is not None and failed:
        code = f" (exit code {last_done.exit_code})" if last_done.exit_code is not None else ""
        critical.append(f"job reported failure{code}")
    if late:
        critical.append(_late_text(now, facts, first_seen, expectation))
    warnings, usual = _duration_problems(rules, facts, now, late)
    duration = facts.last_run.duration if facts.last_run is not None else None

    last_at = facts.last_any.at if facts.last_any is not None else first_seen
    since = max(now - last_at, 0.0)
    if critical or warnings:
        status = Status.CRITICAL if critical else Status.WARNING
        summary = "; ".join([*critical, *warnings])
    else:
        status = Status.OK
        summary = _ok_text(now, facts, due, expectation)
    return HeartbeatVerdict(status, summary, since, due, late=late, failed=failed,
                            duration=duration, usual_duration=usual)


def _duration_problems(rules: HeartbeatRules, facts: _Facts, now: float,
                       late: bool) -> tuple[list[str], float | None]:
    """Warnings about run durations, and the usual duration the last run was judged by."""
    warnings: list[str] = []
    usual: float | None = None
    history = rules.duration_history
    if facts.last_run is not None:
        duration = facts.last_run.duration
        before = [r.duration for r in facts.runs[:-1]][-history:]
        if len(before) >= rules.duration_min_runs:
            usual, low, high = usual_range(before, rules.duration_factor)
            if not low <= duration <= high:
                word = "shorter" if duration < low else "longer"
                warnings.append(f"job ran {_dur(duration)}, far {word} than usual "
                                f"({_dur(usual)}; expected {_dur(low)} to {_dur(high)})")
    if facts.running_since is not None and not late:
        recent = [r.duration for r in facts.runs][-history:]
        if len(recent) >= rules.duration_min_runs:
            median, _, high = usual_range(recent, rules.duration_factor)
            if now - facts.running_since > high:
                warnings.append(f"job running for {_dur(now - facts.running_since)}, far "
                                f"longer than usual ({_dur(median)})")
    return warnings, usual


def _late_text(now: float, facts: _Facts, first_seen: float, expectation: str) -> str:
    if facts.running_since is not None:
        return (f"job started {_ago(now - facts.running_since)} and has not finished "
                f"({expectation})")
    if facts.last_done is None:
        return (f"no ping since the check was set up {_ago(now - first_seen)} "
                f"({expectation})")
    return f"no ping for {_dur(now - facts.last_done.at)} ({expectation})"


def _ok_text(now: float, facts: _Facts, due: float, expectation: str) -> str:
    parts: list[str] = []
    if facts.last_done is None:
        parts.append("no ping yet")
    else:
        ran = f", ran {_dur(facts.last_run.duration)}" if facts.last_run is not None else ""
        parts.append(f"last success {_ago(now - facts.last_done.at)}{ran}")
    if facts.running_since is not None:
        parts.append(f"running for {_dur(now - facts.running_since)}")
    next_text = f"due in {_dur(due - now)}" if due > now else "due now"
    parts.append(f"next {next_text} ({expectation})")
    return "; ".join(parts)


def _dur(seconds: float) -> str:
    return format_duration(seconds)


def _ago(seconds: float) -> str:
    return f"{format_duration(seconds)} ago"
