"""The values that flow from a check to the alerting: status, samples, results, findings."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agent.textsafe import visible

Labels = tuple[tuple[str, str], ...]


class Status(enum.Enum):
    """Outcome of a check or a threshold. OK < WARNING < CRITICAL; UNKNOWN stands apart."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def exit_code(self) -> int:
        """The Nagios plugin exit code for this status."""
        return _EXIT_CODES[self]

    @property
    def rank(self) -> int:
        """How bad: OK 0, WARNING 1, UNKNOWN 2, CRITICAL 3 (used to pick the worst)."""
        return _RANKS[self]

    @property
    def is_problem(self) -> bool:
        return self is not Status.OK

    @staticmethod
    def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
        """The worst of several statuses (CRITICAL beats UNKNOWN beats WARNING); OK if none."""
        return max(statuses, key=lambda s: s.rank, default=Status.OK)

    @classmethod
    def from_exit_code(cls, code: int) -> Status:
        """Map a Nagios plugin exit code to a status; anything unexpected is UNKNOWN."""
        return {0: cls.OK, 1: cls.WARNING, 2: cls.CRITICAL}.get(code, cls.UNKNOWN)


_EXIT_CODES = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}
_RANKS = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


def make_labels(labels: Mapping[str, str] | None = None) -> Labels:
    """Labels as a sorted tuple of pairs, so that equal label sets compare and hash equal."""
    if not labels:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


def label_text(labels: Labels) -> str:
    """``device=sda1,mount=/var``, or the empty string for no labels."""
    return ",".join(f"{k}={v}" for k, v in labels)


def series_name(metric: str, labels: Labels = ()) -> str:
    """``used_percent{mount=/var}``, or the bare metric without labels: the one way a
    series is written (logs, messages, tables, stored keys)."""
    text = label_text(labels)
    return f"{metric}{{{text}}}" if text else metric


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value of one metric (snake_case name with its unit, e.g. ``used_percent``).

    ``labels`` tell apart several series of the same metric in one check (the mount point of
    a disk, say).
    """

    metric: str
    value: float
    labels: Labels = ()

    @property
    def series(self) -> str:
        """``used_percent{mount=/var}``: this sample's series as people read it."""
        return series_name(self.metric, self.labels)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one run of a check measured. A check only measures; it never alerts.

    ``status`` is the check's own verdict (a refused connection is CRITICAL, a crash is
    UNKNOWN); thresholds on the samples are judged later, outside the check.
    """

    status: Status
    summary: str
    samples: tuple[Sample, ...] = ()
    error: str | None = None

    @classmethod
    def ok(cls, summary: str, metrics: Mapping[str, float] | None = None,
           samples: tuple[Sample, ...] | list[Sample] = ()) -> CheckResult:
        """An OK result from a plain ``{metric: value}`` mapping and/or labelled samples."""
        return cls(Status.OK, summary, _samples(metrics, samples))

    @classmethod
    def failed(cls, status: Status, summary: str, error: str | None = None,
               metrics: Mapping[str, float] | None = None,
               samples: tuple[Sample, ...] | list[Sample] = ()) -> CheckResult:
        """A result whose own status is a problem (``summary`` says exactly what)."""
        return cls(status, summary, _samples(metrics, samples), error)

    @classmethod
    def unknown(cls, summary: str, error: str | None = None) -> CheckResult:
        """The check could not measure: it raised, overran its timeout or returned nonsense."""
        return cls(Status.UNKNOWN, summary, (), error if error is not None else summary)

    @property
    def metrics(self) -> dict[str, float]:
        """Unlabelled samples as a ``{metric: value}`` dict (labelled ones are left out)."""
        return {s.metric: s.value for s in self.samples if not s.labels}

    def problems(self) -> list[str]:
        """Why this result is malformed (empty when it is sound)."""
        found: list[str] = []
        if not isinstance(self.status, Status):
            found.append(f"status {self.status!r} is not a Status")
        if not isinstance(self.summary, str):
            found.append("summary is not text")
        for s in self.samples:
            if not isinstance(s, Sample):
                found.append(f"{s!r} is not a Sample")
            elif isinstance(s.value, bool) or not isinstance(s.value, int | float):
                found.append(f"metric {s.metric} has a non-numeric value {s.value!r}")
            elif not math.isfinite(s.value):
                found.append(f"metric {s.metric} is {s.value}")
        return found


    def printable(self) -> CheckResult:
        """This result with every character of its summary, error, metric names and
        labels that a terminal, the journal, the store or /metrics cannot take as it is
        (an escape sequence, a NUL, a file name's stray bytes) written out (``\\x1b``):
        whatever a check, built in or not, put there (checks escape their own text)."""
        error = self.error
        if self.summary.isprintable() and (error is None or _lines_printable(error)) \
                and all(_printable(s) for s in self.samples):
            return self
        samples = tuple(s if _printable(s) else Sample(
            visible(s.metric), s.value, tuple((visible(k), visible(v)) for k, v in s.labels))
            for s in self.samples)
        if error is not None:  # an error may take lines (a plugin's stderr): they stay
            error = "\n".join(visible(line) for line in error.split("\n"))
        return CheckResult(self.status, visible(self.summary), samples, error)


    def scrubbed(self, scrub: Callable[[str], str]) -> CheckResult:
        """This result with ``scrub`` (the log's scrubber of configured secrets) applied to
        its summary, error, metric names and labels: a plugin or server that echoes a
        token puts it nowhere (store, notifications, API)."""
        summary = scrub(self.summary)
        error = None if self.error is None else scrub(self.error)
        samples = tuple(Sample(m, s.value, tuple((scrub(k), scrub(v)) for k, v in s.labels))
                        if (m := scrub(s.metric)) != s.metric or any(
                            scrub(k) != k or scrub(v) != v for k, v in s.labels) else s
                        for s in self.samples)
        if (summary, error, samples) == (self.summary, self.error, self.samples):
            return self
        return CheckResult(self.status, summary, samples, error)


def _lines_printable(text: str) -> bool:
    return all(line.isprintable() for line in text.split("\n"))


def _printable(s: Sample) -> bool:
    return s.metric.isprintable() and all(k.isprintable() and v.isprintable()
                                          for k, v in s.labels)


def _samples(metrics: Mapping[str, float] | None,
             samples: tuple[Sample, ...] | list[Sample]) -> tuple[Sample, ...]:
    out = [Sample(k, float(v)) for k, v in (metrics or {}).items()]
    out.extend(samples)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class AlertKey:
    """Identity of one alert: host + check + metric (+ labels). Stable across restarts."""

    host: str
    check: str
    metric: str
    labels: Labels = ()
    # Keys are looked up several times per sample: hash once.
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.host, self.check, self.metric,
                                                self.labels)))

    def __hash__(self) -> int:
        return self._hash

    @property
    def series(self) -> str:
        """``used_percent{mount=/var}``: the alert's series as people read it."""
        return series_name(self.metric, self.labels)

    def as_text(self) -> str:
        """``host/check/metric{k=v,...}``: the stored primary key and what users see."""
        return f"{self.host}/{self.check}/{self.series}"


#: The pseudo-metric under which a check's own status (refused, timed out, crashed) alerts.
STATUS_METRIC = "status"


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one metric series (or on a check's own status) at one moment.

    ``status`` is what the value says now, before any ``for`` duration is applied; ``why``
    is a short human reason ("used_percent 93.1 > 90"); ``value`` and ``threshold`` are
    kept for the message.
    """

    key: AlertKey
    status: Status
    why: str
    value: float | None = None
    threshold: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
