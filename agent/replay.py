"""Replay a recorded series through the real thresholds and alert machine, on its own clock.

``replay(rows, settings, metric)`` takes ``(timestamp text, value)`` rows (a CSV trace as
in the NAB files: ``timestamp,value``), judges every value through the agent's own
``Judge`` (the same thresholds, state machine and policy) with the row's time as ``now``,
and yields every notification it would have sent. The
returned ``Replay`` is an iterator of ``ReplayEvent``; its ``summary`` is complete once the
iterator is exhausted.

Timestamps: ``YYYY-MM-DD HH:MM:SS`` (the NAB form), any ISO 8601 form, or epoch seconds.
Times without a zone are taken as UTC, and hours and weekdays are reckoned in UTC too, so
the ``why`` texts speak of the times as written in the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent.alerting.judge import Judge
from agent.alerting.policy import IMMEDIATE, Policy
from agent.alerting.state import EventKind
from agent.config.models import AlertPolicy, CheckConfig
from agent.errors import WatchkeeperError
from agent.model import AlertKey, Status

if TYPE_CHECKING:
    import _csv
from agent.thresholds.adaptive import AdaptiveSettings
from agent.thresholds.forecast import ForecastSettings
from agent.thresholds.rules import ThresholdRule
from agent.units import format_duration, format_value

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: ``(row, timestamp text, value, judged status)`` of every row, for who wants them all.
SampleHook = Callable[[int, str, float, Status], None]
_DEFAULT_ADAPTIVE = AdaptiveSettings()


class ReplayError(WatchkeeperError):
    """A trace cannot be replayed: unreadable file, bad row (the message says where)."""


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """What to judge a trace with. ``adaptive`` None turns learned thresholds off.

    ``rule`` is the static rule (its ``for``/``recover_for`` also shape the alert policy
    unless ``policy`` is given). ``policy`` defaults to: persistences from ``rule``, no
    reminders, resolve notices on. ``utc_offset`` is the zone of hours and weekdays.
    """

    adaptive: AdaptiveSettings | None = _DEFAULT_ADAPTIVE
    rule: ThresholdRule | None = None
    forecast: ForecastSettings | None = None
    policy: Policy | None = None
    utc_offset: float = 0.0
    #: Step the alert machine on every sample. The default skips the samples that find
    #: everything quiet and leave it so, which the machine would not change anything for.
    exact: bool = False

    def as_check(self, metric: str) -> CheckConfig:
        """The check these settings describe: one metric judged by one rule, the policy's
        persistences on the rule, its reminders and resolves on the check."""
        policy = self.effective_policy()
        base = self.rule or ThresholdRule(metric)
        rule = replace(base, metric=metric, adaptive=self.adaptive, forecast=self.forecast,
                       fire_after=policy.fire_after, recover_after=policy.recover_after)
        alerting = AlertPolicy(repeat_interval=policy.repeat_interval,
                               send_resolved=policy.send_resolved)
        return CheckConfig(name="replay", kind="replay", interval=60.0, timeout=10.0,
                           policy=alerting, thresholds={metric: rule})

    def effective_policy(self) -> Policy:
        """The alert policy the replay applies."""
        if self.policy is not None:
            return self.policy
        if self.rule is not None:
            return Policy(fire_after=self.rule.fire_after, recover_after=self.rule.recover_after)
        return Policy(IMMEDIATE, IMMEDIATE)


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One notification the agent would have sent while this trace was recorded."""

    #: The row's timestamp exactly as written in the trace.
    at: str
    event: EventKind
    severity: Status
    why: str
    value: float
    #: 1-based index of the row among the data rows.
    row: int
    #: The metric the value is of (its name gives the unit the value is written in).
    metric: str = "value"

    @property
    def shown(self) -> str:
        """The value as every value is written: ``0.328``, ``245ms``, ``5.37 GiB``."""
        return format_value(self.metric, self.value)

    def as_text(self) -> str:
        """One line for a terminal: ``2014-02-26 14:05:00  firing      warning   0.328  why``."""
        return (f"{self.at}  {self.event.value:<11} {self.severity.value:<9} "
                f"{self.shown:<9} {self.why}")


@dataclass(slots=True)
class ReplaySummary:
    """Counts of one replay (final once the replay's iterator is exhausted)."""

    samples: int = 0
    #: Rows whose value was not a finite number.
    skipped: int = 0
    #: New alerts (FIRING events).
    alerts: int = 0
    events: int = 0
    first_at: str | None = None
    last_at: str | None = None
    span_seconds: float = 0.0

    @property
    def days(self) -> float:
        return self.span_seconds / 86400.0

    @property
    def alerts_per_day(self) -> float:
        """New alerts per day of trace (a trace under an hour counts as an hour)."""
        return self.alerts / (max(self.span_seconds, 3600.0) / 86400.0)

    def as_text(self) -> str:
        """``4032 samples over 14 days: 5 alerts (0.36 a day), 10 notifications``."""
        skipped = f" ({self.skipped} not numbers)" if self.skipped else ""
        return (f"{self.samples} samples{skipped} over {format_duration(self.span_seconds)}: "
                f"{self.alerts} alert{'s' if self.alerts != 1 else ''} "
                f"({self.alerts_per_day:.2f} a day), {self.events} notification"
                f"{'s' if self.events != 1 else ''}")


class TimeParser:
    """Timestamp text -> epoch seconds, fast for the common ``YYYY-MM-DD HH:MM:SS``.

    The days and the times of day seen are remembered (at most ``_KEEP`` of each): a
    trace repeats both, and parsing them was most of a replayed sample's cost."""

    __slots__ = ("_days", "_times")
    _KEEP = 4096

    def __init__(self) -> None:
        self._days: dict[str, float] = {}
        self._times: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        if len(text) == 19 and text[10] in " T" and text[13] == ":" and text[16] == ":":
            day = self._days.get(text[:10])
            if day is None:
                day = self._day(text[:10])
            clock = self._times.get(text[11:])
            if clock is None:
                clock = self._clock(text[11:])
            if clock >= 0:
                return day + clock
        return _parse_other(text)

    def _clock(self, text: str) -> float:
        """Seconds since midnight of ``HH:MM:SS``; -1 when it is not one."""
        hh, mm, ss = text[0:2], text[3:5], text[6:8]
        seconds = -1.0
        if hh.isdigit() and mm.isdigit() and ss.isdigit():
            h, m, s = int(hh), int(mm), int(ss)
            if h < 24 and m < 60 and s < 60:
                seconds = h * 3600.0 + m * 60 + s
        if len(self._times) >= self._KEEP:
            self._times.clear()
        self._times[text] = seconds
        return seconds

    def _day(self, text: str) -> float:
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"cannot read {text!r} as a date") from None
        if len(self._days) >= self._KEEP:
            self._days.clear()
        seconds = (date - _EPOCH.date()).days * 86400.0
        self._days[text] = seconds
        return seconds


def _parse_other(text: str) -> float:
    t = text.strip()
    try:
        seconds = float(t)
    except ValueError:
        try:
            seconds = _iso(t)
        except ValueError:
            seconds = math.nan
    if not math.isfinite(seconds):
        raise ValueError(f"cannot read {text!r} as a time (expected YYYY-MM-DD HH:MM:SS, "
                         "ISO 8601 or epoch seconds)")
    return seconds


def _iso(text: str) -> float:
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return (stamp - _EPOCH).total_seconds()


class CsvRows:
    """The ``(timestamp, value)`` rows of a ``timestamp,value`` CSV file, streamed.

    Bad rows raise ReplayError naming ``file:line``. ``where()`` is the position of the
    last row read (replay uses it in its own errors).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._line = 0

    def where(self) -> str:
        return f"{self.path}:{self._line}"

    def __iter__(self) -> Iterator[tuple[str, float]]:
        try:
            # utf-8-sig: a spreadsheet's byte-order mark is not part of the header.
            fh = open(self.path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ReplayError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        with fh:
            reader = csv.reader(fh)
            try:
                yield from self._rows(reader)
            except UnicodeDecodeError:
                # The text layer decodes ahead of the rows read: find the line itself.
                raise ReplayError(f"{self.path}:{_bad_utf8_line(self.path)}: not UTF-8 "
                                  "text") from None
            except csv.Error as exc:
                # The reader stops inside the row it could not read: that row's line.
                raise ReplayError(f"{self.path}:{max(reader.line_num, 1)}: {exc}") from None

    def _rows(self, reader: _csv.Reader) -> Iterator[tuple[str, float]]:
        header = next(reader, None)
        self._line = reader.line_num
        if header is None:
            raise ReplayError(f"{self.path}: the file is empty (expected a timestamp,value "
                              "header)")
        cols = [h.strip().lower() for h in header]
        if len(cols) < 2 or cols[0] != "timestamp" or cols[1] != "value":
            raise ReplayError(f"{self.where()}: expected the header timestamp,value, "
                              f"got {','.join(header)!r}")
        for row in reader:
            self._line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < 2:
                raise ReplayError(f"{self.where()}: expected timestamp,value, got {row[0]!r}")
            text = row[1].strip()
            try:
                value = float(text)
            except ValueError:
                raise ReplayError(f"{self.where()}: value {text!r} is not a number") from None
            yield row[0].strip(), value


def _bad_utf8_line(path: str, piece: int = 1 << 16) -> int | str:
    """The line of ``path`` where its first byte that is not UTF-8 text is, read in
    pieces (a line may be longer than memory should hold); "?" when the file changed."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 1
    try:
        with open(path, "rb") as fh:
            while data := fh.read(piece):
                try:
                    decoder.decode(data)
                except UnicodeDecodeError as exc:
                    # exc.object: the bytes the decoder held back, then this piece.
                    return lines + bytes(exc.object[:exc.start]).count(b"\n")
                lines += data.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return lines
    except OSError:
        pass
    return "?"


class Replay(Iterator[ReplayEvent]):
    """The events of one replay, in order; ``summary`` counts them (and the rows)."""

    def __init__(self, rows: Iterable[tuple[str, float]], settings: ReplaySettings,
                 metric: str, on_sample: SampleHook | None = None) -> None:
        self.settings = settings
        #: Called with ``(row, timestamp text, value, judged status)`` for every row.
        self.on_sample = on_sample
        self.metric = metric
        self.summary = ReplaySummary()
        self._rows = rows
        self._events = self._run()

    def __next__(self) -> ReplayEvent:
        return next(self._events)

    def _where(self, row: int) -> str:
        rows = self._rows
        return rows.where() if isinstance(rows, CsvRows) else f"row {row}"

    def _run(self) -> Iterator[ReplayEvent]:
        s, metric, summary, on_sample = self.settings, self.metric, self.summary, self.on_sample
        check = s.as_check(metric)
        rule = check.thresholds[metric]
        judge = Judge("replay", utc_offset=s.utc_offset, exact=s.exact)
        key = AlertKey(judge.host, check.name, metric)
        judge_row, apply = judge.series_judge(check, key, rule), judge.apply
        ok = Status.OK
        parse = TimeParser()
        isfinite = math.isfinite
        first_t = last_t = math.nan
        row = 0
        text = ""
        for row, (text, value) in enumerate(self._rows, 1):
            try:
                t = parse(text)
            except ValueError as exc:
                raise ReplayError(f"{self._where(row)}: {exc}") from None
            if row == 1:
                first_t = t
                summary.first_at = text
            last_t = t
            if not isfinite(value):
                # Learned thresholds pass over it; a static limit calls it UNKNOWN.
                summary.skipped += 1
            verdict = judge_row(value, t)
            if on_sample is not None:
                on_sample(row, text, value, ok if verdict is None else verdict.status)
            if verdict is None:
                continue
            if verdict.states:
                apply(verdict)
            for e in verdict.events:
                summary.events += 1
                if e.kind is EventKind.FIRING:
                    summary.alerts += 1
                yield ReplayEvent(text, e.kind, e.severity, e.why, value, row, metric)
        summary.samples = row
        if row:
            summary.last_at = text
            summary.span_seconds = max(0.0, last_t - first_t)


def replay(rows: Iterable[tuple[str, float]],
           settings: ReplaySettings | AdaptiveSettings | None = None,
           metric: str = "value", on_sample: SampleHook | None = None) -> Replay:
    """Replay ``(timestamp, value)`` rows; iterate the result for the events.

    ``settings`` may be just the adaptive settings (no static rule, no forecast) or None
    for the defaults. Raises ReplayError (naming the row, or ``file:line`` for CsvRows)
    on a timestamp that cannot be read.
    """
    if settings is None:
        settings = ReplaySettings()
    elif isinstance(settings, AdaptiveSettings):
        settings = ReplaySettings(adaptive=settings)
    return Replay(rows, settings, metric, on_sample)


def replay_csv(path: str | Path, settings: ReplaySettings | AdaptiveSettings | None = None,
               metric: str = "value", on_sample: SampleHook | None = None) -> Replay:
    """``replay`` over a ``timestamp,value`` CSV file; errors name ``file:line``."""
    return replay(CsvRows(path), settings, metric, on_sample)
