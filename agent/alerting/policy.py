"""The timing rules the alert state machine applies to one alert key.

This module and the state machine depend on nothing but ``agent.model``: thresholds
(which produce findings) use ``Persistence`` in their rules; the machine (which consumes
findings) applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Persistence:
    """How long a condition must hold: a duration in seconds and/or a number of samples."""

    seconds: float = 0.0
    samples: int = 0

    @property
    def immediate(self) -> bool:
        return self.seconds <= 0 and self.samples <= 1


#: Holds at once: fire on the first problem finding, resolve on the first OK one.
IMMEDIATE = Persistence()


class Persistences(Protocol):
    """The ``for`` / ``recover_for`` of a threshold rule (``ThresholdRule`` has them)."""

    @property
    def fire_after(self) -> Persistence: ...

    @property
    def recover_after(self) -> Persistence: ...


class Notifying(Protocol):
    """A check's reminder and resolve settings (the config's ``AlertPolicy`` has them)."""

    @property
    def repeat_interval(self) -> float: ...

    @property
    def send_resolved(self) -> bool: ...

    @property
    def flap_window(self) -> int: ...

    @property
    def flap_changes(self) -> int: ...


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
    #: Flapping: at least ``flap_changes`` changes of state in the last ``flap_window``
    #: evaluations (0 changes: never flapping); it ends after a whole window unchanged.
    flap_window: int = 21
    flap_changes: int = 5

    def __post_init__(self) -> None:
        if self.repeat_interval < 0:
            raise ValueError(f"repeat_interval cannot be negative, got {self.repeat_interval}")

    @classmethod
    def build(cls, rule: Persistences | None, alert: Notifying) -> Policy:
        """The policy for one metric: persistences from its rule, the rest from ``alert``.

        ``rule`` is None for a check's own status, which fires and recovers at once.
        """
        return cls(
            fire_after=rule.fire_after if rule is not None else IMMEDIATE,
            recover_after=rule.recover_after if rule is not None else IMMEDIATE,
            repeat_interval=float(alert.repeat_interval),
            send_resolved=alert.send_resolved,
            flap_window=alert.flap_window,
            flap_changes=alert.flap_changes,
        )
