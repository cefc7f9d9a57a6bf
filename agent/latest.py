"""The latest run of every check, kept in memory for the agent's ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from agent.model import CheckResult, Status


@dataclass(frozen=True, slots=True)
class LatestRun:
    """One check's latest run: what it measured, its judged status, when it finished and
    how long it took."""

    check: str
    kind: str
    result: CheckResult
    #: Epoch seconds from the agent's clock.
    finished_at: float
    #: Seconds the check itself ran (waiting for a free slot not included).
    duration: float
    #: The judged status: the check's own outcome and its thresholds together (what the
    #: log line, /metrics, ``status`` and ``check`` all show).
    status: Status


class LatestRuns:
    """The latest run per check name; iterates in name order, so pages built from it are
    stable between scrapes."""

    def __init__(self) -> None:
        self._runs: dict[str, LatestRun] = {}

    def record(self, run: LatestRun) -> None:
        """Keep ``run`` as its check's latest, replacing the one before."""
        self._runs[run.check] = run

    def get(self, check: str) -> LatestRun | None:
        return self._runs.get(check)

    def __iter__(self) -> Iterator[LatestRun]:
        return iter([self._runs[name] for name in sorted(self._runs)])

    def __len__(self) -> int:
        return len(self._runs)
