"""Five-field cron expressions (``minute hour day-of-month month day-of-week``).

Supports ``*``, lists (``1,15``), ranges (``1-5``), steps (``*/15``, ``0-30/10``, ``5/20``),
month and weekday names (``jan``-``dec``, ``sun``-``sat``; 0 and 7 are both Sunday) and the
``@hourly`` / ``@daily`` / ``@weekly`` / ``@monthly`` / ``@yearly`` shorthands.

As in Vixie cron and cronie, when both day fields are restricted (neither starts with
``*``) a day matches when EITHER matches: ``0 0 1 * mon`` fires on the 1st and on every
Monday.

Fire times are found on naive wall-clock datetimes; ``next_time`` / ``previous_time`` map
them to epoch seconds in a time zone. A wall-clock time that does not exist (skipped by a
daylight-saving change) is skipped; one that occurs twice fires at its first occurrence.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

MONTH_NAMES = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
DAY_NAMES = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: Longest month of each month (February 29 happens in leap years).
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31,
               11: 30, 12: 31}

#: A satisfiable expression fires within this span (Feb 29 may be 8 years away: 2096-2104).
_SEARCH_SPAN = timedelta(days=366 * 9)
_MINUTE = timedelta(minutes=1)


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; ValueError with a hint when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name like Europe/Berlin "
                         "or UTC)") from None


def _zone_name(name: str) -> str:
    zone(name)
    return name


#: A config value naming a time zone (``Europe/Berlin``), checked when the config loads.
ZoneName = Annotated[str, AfterValidator(_zone_name)]


class CronError(ValueError):
    """A cron expression that cannot be read, or that never fires."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES),
    _Field("day-of-week", 0, 7, DAY_NAMES),
)


def _number(text: str, f: _Field) -> int:
    word = text.strip().lower()
    if f.names is not None and word in f.names:
        return f.names[word]
    if not word.isdigit():
        hint = " or a name like " + ", ".join(list(f.names)[:3]) if f.names else ""
        raise CronError(f"{f.name} field: expected a number{hint}, got {text!r}")
    value = int(word)
    if not f.low <= value <= f.high:
        raise CronError(f"{f.name} field: {value} is out of range {f.low}-{f.high}")
    return value


def _parse_field(text: str, f: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{f.name} field: empty item in {text!r}")
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{f.name} field: step must be a whole number of at least 1, "
                                f"got {step_text!r}")
            step = int(step_text)
        if body == "*":
            low, high = f.low, f.high
        elif "-" in body:
            a, _, b = body.partition("-")
            low, high = _number(a, f), _number(b, f)
            if low > high:
                raise CronError(f"{f.name} field: range {body!r} runs backwards")
        else:
            low = _number(body, f)
            # "5/20" means from 5 to the end in steps of 20, as in cronie.
            high = f.high if slash else low
        values.update(range(low, high + 1, step))
    if f.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed cron expression; ``text`` is what was written."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    #: Whether each day field starts with ``*`` (decides AND versus OR of the two).
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Read an expression; raises CronError naming the field and the problem."""
        if not isinstance(text, str):
            raise CronError(f"expected a cron expression like \"0 3 * * *\", got {text!r}")
        spec = text.strip()
        if spec.startswith("@"):
            if spec.lower() not in MACROS:
                raise CronError(f"unknown shorthand {spec!r} (known: {', '.join(MACROS)})")
            spec = MACROS[spec.lower()]
        parts = spec.split()
        if len(parts) != 5:
            raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), "
                            f"got {len(parts)} in {text.strip()!r}")
        minute, hour, dom, month, dow = (_parse_field(p, f) for p, f in zip(parts, _FIELDS,
                                                                          strict=True))
        expr = cls(text.strip(), tuple(sorted(minute)), tuple(sorted(hour)), dom, month, dow,
                   any_day=parts[2].startswith("*"), any_weekday=parts[4].startswith("*"))
        if expr.any_weekday and not any(d <= _MONTH_DAYS[m] for m in month for d in dom):
            raise CronError(f"{text.strip()!r} never fires: no chosen month has "
                            f"day {min(dom)}")
        return expr

    # -- matching ----------------------------------------------------------------------

    def day_matches(self, dt: datetime) -> bool:
        """Whether the date of ``dt`` is a day the expression fires on."""
        dom = dt.day in self.days
        dow = (dt.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, dt: datetime) -> bool:
        """Whether the expression fires in the minute of ``dt`` (wall clock)."""
        return (dt.month in self.months and self.day_matches(dt)
                and dt.hour in self.hours and dt.minute in self.minutes)

    # -- wall clock --------------------------------------------------------------------

    def next_after(self, dt: datetime) -> datetime:
        """The first fire time strictly after ``dt`` (naive wall clock, whole minutes)."""
        t = dt.replace(second=0, microsecond=0, tzinfo=None) + _MINUTE
        limit = t + _SEARCH_SPAN
        while t <= limit:
            if t.month not in self.months:
                t = (t.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0)
                continue
            if not self.day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            i = bisect.bisect_left(self.minutes, t.minute)
            if i == len(self.minutes):
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            return t.replace(minute=self.minutes[i])
        raise CronError(f"{self.text!r} never fires")  # pragma: no cover - parse refuses

    def last_at_or_before(self, dt: datetime) -> datetime:
        """The last fire time at or before ``dt`` (naive wall clock, whole minutes)."""
        t = dt.replace(second=0, microsecond=0, tzinfo=None)
        limit = t - _SEARCH_SPAN
        while t >= limit:
            if t.month not in self.months:
                t = t.replace(day=1, hour=0, minute=0) - _MINUTE
                continue
            if not self.day_matches(t):
                t = t.replace(hour=0, minute=0) - _MINUTE
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) - _MINUTE
                continue
            i = bisect.bisect_right(self.minutes, t.minute)
            if i == 0:
                t = t.replace(minute=0) - _MINUTE
                continue
            return t.replace(minute=self.minutes[i - 1])
        raise CronError(f"{self.text!r} never fires")  # pragma: no cover - parse refuses

    # -- epoch seconds in a time zone --------------------------------------------------

    def next_time(self, after: float, tz: tzinfo | None = None) -> float:
        """Epoch seconds of the first fire time strictly after ``after``.

        ``tz`` is the zone whose wall clock the expression reads (None: the local zone).
        """
        candidate = self.next_after(_wall(after, tz))
        while True:
            ts = _instant(candidate, tz)
            if ts is not None and ts > after:
                return ts
            candidate = self.next_after(candidate)

    def previous_time(self, at: float, tz: tzinfo | None = None) -> float:
        """Epoch seconds of the last fire time at or before ``at`` (see ``next_time``)."""
        candidate = self.last_at_or_before(_wall(at, tz))
        while True:
            ts = _instant(candidate, tz)
            if ts is not None and ts <= at:
                return ts
            candidate = self.last_at_or_before(candidate - _MINUTE)


def _wall(ts: float, tz: tzinfo | None) -> datetime:
    """The naive wall-clock time of ``ts`` in ``tz`` (None: the local zone)."""
    return datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


def _instant(wall: datetime, tz: tzinfo | None) -> float | None:
    """The instant a naive wall-clock time fires at: None in a DST gap (that time does not
    exist), the first of the two in an overlap (it occurs twice)."""
    aware = wall.replace(fold=0, tzinfo=tz) if tz is not None else wall.replace(fold=0)
    ts = aware.timestamp()
    if _wall(ts, tz) != wall:
        return None
    # In an overlap fold=0 already is the earlier instant; fold=1 is the repeat.
    return ts
