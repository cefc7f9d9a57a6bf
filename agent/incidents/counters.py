"""Counts of what incident management did since the agent started, for ``/metrics``.

Counters only grow (Prometheus computes rates and increases from them); ``open`` is a
gauge of the incidents open now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.alerting.settle import Note, NoteKind
from agent.alerting.state import EventKind


def hold_reason(note: Note) -> str:
    """Why an alert was held back: ``silence``, ``maintenance``, ``dependency`` or
    ``grouping``."""
    return "silence" if note.silence is None else note.silence.cause.value


@dataclass
class IncidentCounters:
    """Per check: incidents opened, alerts held back (and why), flapping spells,
    acknowledgements, escalation steps and actions run."""

    opened: Counter[str] = field(default_factory=Counter)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)
    flapping: Counter[str] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)
    escalations: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)

    def decided(self, notes: Sequence[Note]) -> None:
        """Count what one commit decided."""
        for note in notes:
            ev = note.event
            check = ev.key.check
            if ev.kind is EventKind.FIRING and note.kind is NoteKind.QUEUED:
                self.opened[check] += 1
            elif ev.kind is EventKind.FIRING and note.kind is NoteKind.SILENCED:
                self.opened[check] += 1
                self.held[(check, hold_reason(note))] += 1
            elif ev.kind is EventKind.FLAPPING and note.kind is NoteKind.QUEUED:
                self.flapping[check] += 1
