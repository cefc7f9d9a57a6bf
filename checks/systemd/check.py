"""The ``systemd`` check: one unit's state, or how many units have failed on the host."""

from __future__ import annotations

import enum
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import ClassVar

from pydantic import field_validator, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.errors import CheckError
from agent.model import CheckResult, Status
from checks.systemd.show import (
    UNIT_PROPERTIES,
    ActiveState,
    LoadState,
    UnitState,
    parse_failed_units,
    parse_unit_state,
)
from checks.systemd.systemctl import (
    Runner,
    Systemctl,
    call_budget,
    run_program,
    systemd_booted,
    validate_unit_name,
)

#: Summaries name this many failed units and count the rest.
SUMMARY_UNITS = 5


class Expect(enum.Enum):
    """What state the unit should be in."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    #: Anything but failed: a oneshot service run by a timer, say.
    NOT_FAILED = "not-failed"


class SystemdOptions(CheckOptions):
    """Either ``unit`` (one unit, judged against ``expect``) or ``failed_units: true``
    (every failed unit on the host, minus the ``ignore_units`` glob patterns).
    ``systemctl`` is the binary to run (found on PATH unless it is a path)."""

    unit: str | None = None
    failed_units: bool = False
    expect: Expect = Expect.ACTIVE
    ignore_units: tuple[str, ...] = ()
    systemctl: str = "systemctl"

    @field_validator("unit")
    @classmethod
    def _unit_name(cls, value: str | None) -> str | None:
        return None if value is None else validate_unit_name(value)

    @field_validator("systemctl")
    @classmethod
    def _binary(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("systemctl must name a program")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> SystemdOptions:
        if self.unit is not None and self.failed_units:
            raise ValueError("set either unit or failed_units: true, not both")
        if self.unit is None and not self.failed_units:
            raise ValueError("set either unit (one unit, like nginx.service) "
                             "or failed_units: true (every failed unit)")
        if self.unit is not None and self.ignore_units:
            raise ValueError("ignore_units applies only with failed_units: true")
        if self.failed_units and "expect" in self.model_fields_set:
            raise ValueError("expect applies only with unit")
        return self


# What each ActiveState means for each expectation.
_ACTIVE_VERDICT: dict[Expect, dict[ActiveState, Status]] = {
    Expect.ACTIVE: {
        ActiveState.ACTIVE: Status.OK,
        ActiveState.RELOADING: Status.WARNING,
        ActiveState.REFRESHING: Status.WARNING,
        ActiveState.ACTIVATING: Status.WARNING,
        ActiveState.DEACTIVATING: Status.WARNING,
        ActiveState.MAINTENANCE: Status.WARNING,
        ActiveState.INACTIVE: Status.CRITICAL,
        ActiveState.FAILED: Status.CRITICAL,
    },
    Expect.INACTIVE: {
        ActiveState.ACTIVE: Status.CRITICAL,
        ActiveState.RELOADING: Status.CRITICAL,
        ActiveState.REFRESHING: Status.CRITICAL,
        ActiveState.ACTIVATING: Status.WARNING,
        ActiveState.DEACTIVATING: Status.WARNING,
        ActiveState.MAINTENANCE: Status.WARNING,
        ActiveState.INACTIVE: Status.OK,
        ActiveState.FAILED: Status.CRITICAL,
    },
    Expect.NOT_FAILED: {state: Status.OK for state in ActiveState} | {
        ActiveState.FAILED: Status.CRITICAL,
    },
}

#: Sub-states that mean the service just failed and systemd waits to start it again.
_RESTART_PENDING = frozenset({"auto-restart", "auto-restart-queued"})


def judge(state: UnitState, expect: Expect) -> tuple[Status, str]:
    """The status and summary for a unit's state (pure).

    A unit that does not exist or whose configuration cannot be loaded is CRITICAL whatever
    is expected. Otherwise the ActiveState decides (see ``_ACTIVE_VERDICT``): with
    ``expect: active``, active is OK, the transitional states (activating, reloading,
    refreshing, deactivating, maintenance) are WARNING and inactive or failed are CRITICAL.
    A service waiting to be restarted after a failure is at least WARNING.
    """
    unit = state.unit
    if state.load_state is LoadState.NOT_FOUND:
        return Status.CRITICAL, f"unit {unit} not found"
    if state.load_state in (LoadState.BAD_SETTING, LoadState.ERROR):
        why = state.load_error or f"LoadState={state.load_state.value}"
        return Status.CRITICAL, f"unit {unit} cannot be loaded: {why}"
    status = _ACTIVE_VERDICT[expect][state.active_state]
    if state.sub_state in _RESTART_PENDING and status is Status.OK:
        status = Status.WARNING
    if expect is Expect.ACTIVE and state.load_state is LoadState.MASKED \
            and not state.active_state.is_up:
        status = Status.CRITICAL
    summary = describe(state)
    wanted = {Expect.ACTIVE: "active", Expect.INACTIVE: "inactive"}.get(expect)
    if status is Status.CRITICAL and wanted is not None \
            and state.active_state not in (ActiveState.FAILED, ActiveState(wanted)):
        summary += f", expected {wanted}"
    return status, summary


def describe(state: UnitState) -> str:
    """``nginx.service is failed (Result=exit-code, 3 restarts)``."""
    details: list[str] = []
    if state.sub_state and state.sub_state != state.active_state.value:
        details.append(state.sub_state)
    if state.load_state is LoadState.MASKED:
        details.append("masked")
    if state.result and state.result != "success":
        details.append(f"Result={state.result}")
    if state.n_restarts:
        details.append(f"{state.n_restarts} restart{'s' if state.n_restarts != 1 else ''}")
    tail = f" ({', '.join(details)})" if details else ""
    return f"{state.unit} is {state.active_state.value}{tail}"


class SystemdCheck(Check[SystemdOptions]):
    """A systemd unit's state, or the host's failed units.

    With ``unit``: metrics ``active`` (1 while active, reloading or refreshing, else 0) and,
    for services, ``restarts`` (systemd's NRestarts: automatic restarts since the unit was
    last started by hand). With ``failed_units: true``: metric ``failed_units``, CRITICAL
    when any (not ignored) unit has failed. On a host where systemd does not run the check
    is UNKNOWN ("systemd is not running on this host").

    ``runner`` (what starts systemctl and returns its output) and ``booted`` (whether
    systemd runs here) may be injected; by default the real ones are used.
    """

    kind: ClassVar[str] = "systemd"
    Options: ClassVar[type[CheckOptions]] = SystemdOptions
    metrics: ClassVar[frozenset[str]] = frozenset({"active", "restarts", "failed_units"})

    @classmethod
    def where(cls, options: SystemdOptions) -> str | None:
        return f"unit {options.unit}" if options.unit else None

    def __init__(self, name: str, options: SystemdOptions, *, runner: Runner | None = None,
                 booted: Callable[[], bool] | None = None) -> None:
        super().__init__(name, options)
        self.systemctl = Systemctl(binary=options.systemctl, runner=runner or run_program,
                                   booted=booted or systemd_booted)

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Ask systemd once."""
        try:
            if self.options.unit is not None:
                return await self._run_unit(self.options.unit, ctx)
            return await self._run_failed(ctx)
        except CheckError as exc:
            return CheckResult.unknown(str(exc))

    async def _run_unit(self, unit: str, ctx: CheckContext) -> CheckResult:
        text = await self.systemctl("show", unit, f"--property={','.join(UNIT_PROPERTIES)}",
                                    timeout=call_budget(ctx.timeout))
        state = parse_unit_state(text, unit)
        status, summary = judge(state, self.options.expect)
        metrics = {"active": 1.0 if state.active_state.is_up else 0.0}
        if state.n_restarts is not None:
            metrics["restarts"] = float(state.n_restarts)
        if status is Status.OK:
            return CheckResult.ok(summary, metrics=metrics)
        return CheckResult.failed(status, summary, metrics=metrics)

    async def _run_failed(self, ctx: CheckContext) -> CheckResult:
        text = await self.systemctl("list-units", "--state=failed", "--plain", "--no-legend",
                                    timeout=call_budget(ctx.timeout))
        units = parse_failed_units(text)
        counted = [u for u in units
                   if not any(fnmatchcase(u, pat) for pat in self.options.ignore_units)]
        ignored = len(units) - len(counted)
        note = f" ({ignored} ignored)" if ignored else ""
        metrics = {"failed_units": float(len(counted))}
        if not counted:
            return CheckResult.ok(f"no failed units{note}", metrics=metrics)
        names = ", ".join(counted[:SUMMARY_UNITS])
        if len(counted) > SUMMARY_UNITS:
            names += f" and {len(counted) - SUMMARY_UNITS} more"
        plural = "s" if len(counted) != 1 else ""
        return CheckResult.failed(Status.CRITICAL, f"{len(counted)} failed unit{plural}: "
                                  f"{names}{note}", metrics=metrics)
