"""Remediation: a command run when an alert fires (or resolves), with a record.

``on_firing`` / ``on_resolved`` on a check name an argv (no shell), a timeout and at most
how many runs an hour per alert. The command gets the alert in its environment
(``WATCHKEEPER_CHECK``, ``WATCHKEEPER_SEVERITY``, ...); its outcome (exit code, time,
the last of its output) goes in the incident's timeline and in the next notification of
the incident; after an ``on_firing`` command the check runs again at once, so that next
notification says whether it fixed it ("OK again 4s after it").

Pure here: what may run, with what environment, and how an outcome reads. The running is
``agent.action_runner``.
"""

from __future__ import annotations

import shlex
from collections import deque
from dataclasses import dataclass, field

from agent.alerting.state import AlertEvent
from agent.model import AlertKey
from agent.units import format_duration

#: Output kept of a run (the tail: where a failing command says why).
OUTPUT_KEPT = 4096
#: Shown in a message, from the end of the output.
OUTPUT_SHOWN = 300


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one run of an action went."""

    command: tuple[str, ...]
    started_at: float
    duration: float
    exit_code: int | None
    output: str = ""
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def text(self) -> str:
        """``ran `systemctl restart nginx`: exit 0 after 1.2s (output: ...)``."""
        shown = shlex.join(self.command)
        if self.error is not None:
            return f"could not run `{shown}`: {self.error}"
        how = (f"timed out after {format_duration(self.duration)}" if self.timed_out
               else f"exit {self.exit_code} after {format_duration(self.duration)}")
        tail = " ".join(self.output.split())[-OUTPUT_SHOWN:]
        return f"ran `{shown}`: {how}" + (f" (output: {tail})" if tail else "")


def environment(event: AlertEvent) -> dict[str, str]:
    """What the command is told of the alert."""
    key = event.key
    env = {
        "WATCHKEEPER_EVENT": event.kind.value, "WATCHKEEPER_HOST": key.host,
        "WATCHKEEPER_CHECK": key.check, "WATCHKEEPER_METRIC": key.metric,
        "WATCHKEEPER_SEVERITY": event.severity.value, "WATCHKEEPER_INCIDENT": event.incident,
        "WATCHKEEPER_WHY": event.why,
    }
    if event.value is not None:
        env["WATCHKEEPER_VALUE"] = repr(event.value)
    env.update({f"WATCHKEEPER_LABEL_{k.upper()}": v for k, v in key.labels
                if k.replace("_", "").isalnum()})
    return env


@dataclass
class Budget:
    """At most ``per_hour`` runs of one alert's action in any hour."""

    _runs: dict[AlertKey, deque[float]] = field(default_factory=dict)

    def take(self, key: AlertKey, now: float, per_hour: int) -> bool:
        """Whether the action of ``key`` may run at ``now`` (counted when it may)."""
        runs = self._runs.setdefault(key, deque())
        while runs and runs[0] <= now - 3600:
            runs.popleft()
        if len(runs) >= per_hour:
            return False
        runs.append(now)
        return True


def after_fix(outcome: Outcome, fixed_at: float) -> str:
    """What a resolve says of the action run before it."""
    return f"{outcome.text()}; OK again {format_duration(max(fixed_at - outcome.started_at, 0))}" \
        " after it"
