"""The timing rules the alert state machine applies to one alert key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.thresholds.rules import Persistence

if TYPE_CHECKING:
    from agent.config.models import AlertPolicy
    from agent.thresholds.rules import ThresholdRule

#: Holds at once: fire on the first problem finding, resolve on the first OK one.
IMMEDIATE = Persistence()


@dataclass(frozen=True, slots=True)
class Policy:
    """When an alert fires, when it resolves, and whom to remind how often.

    ``fire_after`` / ``recover_after`` are the ``for`` / ``recover_for`` persistences;
    ``repeat_interval`` is the reminder spacing in seconds (0 = never remind);
    ``send_resolved`` says whether a RESOLVED notification is emitted.
    """

    fire_after: Persistence = IMMEDIATE
    recover_after: Persistence = IMMEDIATE
    repeat_interval: float = 0.0
    send_resolved: bool = True

    def __post_init__(self) -> None:
        if self.repeat_interval < 0:
            raise ValueError(f"repeat_interval cannot be negative, got {self.repeat_interval}")

    @classmethod
    def build(cls, rule: ThresholdRule | None, alert: AlertPolicy) -> Policy:
        """The policy for one metric: persistences from its rule, the rest from ``alert``.

        ``rule`` is None for a check's own status, which fires and recovers at once.
        """
        return cls(
            fire_after=rule.fire_after if rule is not None else IMMEDIATE,
            recover_after=rule.recover_after if rule is not None else IMMEDIATE,
            repeat_interval=float(alert.repeat_interval),
            send_resolved=alert.send_resolved,
        )
