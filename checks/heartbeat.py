"""The ``heartbeat`` check: is a cron or backup job pinging on time, and succeeding?

Jobs push pings to the agent (``watchkeeper ping NAME`` or ``/ping/NAME`` on the agent's
HTTP listener, which stores them); this check reads them and judges them with
``agent.heartbeats``. The heartbeat's name is the check's name.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from agent.check import Capability, Check, CheckContext, CheckOptions
from agent.cron import CronExpr, ZoneName, zone
from agent.durations import Duration
from agent.heartbeats import HeartbeatRules, Schedule, judge
from agent.model import CheckResult, Status

#: ``memory`` key: when this check first ran (a heartbeat never pinged counts from then).
FIRST_SEEN = "first_seen"


class HeartbeatOptions(CheckOptions):
    """Either ``period`` (a ping at least this often) or ``cron`` (a ping after each fire
    time of a 5-field cron expression, read in ``timezone``, default the host's zone).
    ``grace`` is how late a ping may be. Run durations outside ``[median / duration_factor,
    median * duration_factor]`` of the last ``duration_history`` runs warn, once
    ``duration_min_runs`` runs are known."""

    period: Duration | None = None
    cron: str | None = None
    timezone: ZoneName | None = None
    grace: Duration = 3600.0
    duration_factor: float = Field(default=3.0, gt=1.0)
    duration_history: int = Field(default=20, ge=1, le=90)
    duration_min_runs: int = Field(default=5, ge=1)

    @field_validator("period")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("must be longer than 0s")
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            CronExpr.parse(v)  # a CronError is a ValueError naming the field and problem
        return v

    @model_validator(mode="after")
    def _one_schedule(self) -> HeartbeatOptions:
        if self.period is not None and self.cron is not None:
            raise ValueError("set either period or cron, not both")
        if self.period is None and self.cron is None:
            raise ValueError('set period (like 1d) or cron (like "0 3 * * *")')
        if self.timezone is not None and self.cron is None:
            raise ValueError("timezone applies only with cron")
        if self.duration_min_runs > self.duration_history:
            raise ValueError(f"duration_min_runs ({self.duration_min_runs}) cannot exceed "
                             f"duration_history ({self.duration_history})")
        return self

    def rules(self) -> HeartbeatRules:
        """The judgement rules these options describe."""
        if self.cron is not None:
            tz = zone(self.timezone) if self.timezone is not None else None
            schedule = Schedule(cron=CronExpr.parse(self.cron), tz=tz, tz_name=self.timezone)
        else:
            schedule = Schedule(period=self.period)
        return HeartbeatRules(schedule, self.grace, self.duration_factor,
                              self.duration_history, self.duration_min_runs)


class HeartbeatCheck(Check[HeartbeatOptions]):
    """Late pings and reported failures are CRITICAL; odd run durations are WARNING.

    Metrics: ``since_last_ping_seconds`` (since the check was set up, before the first
    ping) and ``duration_seconds`` (the last run, start to success, when it sent a start).
    """

    kind: ClassVar[str] = "heartbeat"
    Options: ClassVar[type[CheckOptions]] = HeartbeatOptions
    metrics: ClassVar[frozenset[str]] = frozenset({"since_last_ping_seconds",
                                                   "duration_seconds"})
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.PINGS})

    def __init__(self, name: str, options: HeartbeatOptions) -> None:
        super().__init__(name, options)
        self.rules = options.rules()

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Judge the stored pings of this heartbeat at the clock's ``now``."""
        if ctx.heartbeats is None:
            return CheckResult.unknown("pings are kept by the running agent (watchkeeper run); "
                                       "they cannot be read here")
        now = ctx.clock.now()
        first_seen = ctx.memory.get(FIRST_SEEN)
        if isinstance(first_seen, bool) or not isinstance(first_seen, int | float):
            first_seen = now
            ctx.memory[FIRST_SEEN] = now
        pings = ctx.heartbeats.heartbeat_pings(self.name)
        verdict = judge(self.rules, pings, float(first_seen), now)
        metrics = {"since_last_ping_seconds": verdict.since_last_ping}
        if verdict.duration is not None:
            metrics["duration_seconds"] = verdict.duration
        if verdict.status is Status.OK:
            return CheckResult.ok(verdict.summary, metrics)
        return CheckResult.failed(verdict.status, verdict.summary, metrics=metrics)
