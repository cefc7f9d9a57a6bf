"""``maintenance:``: recurring windows of planned work (see ``agent.alerting.maintenance``).

::

    maintenance:
      - name: backups
        cron: "0 2 * * sun"        # when it starts ...
        duration: 2h               # ... and how long it lasts
        timezone: Europe/Berlin    # default: the host's
        checks: [backup-*, db]     # names or globs, and/or
        tags: [db]
        reason: weekly full backup
      - name: patch-night
        weekdays: [tue, thu]       # or: on these days, from .. to (may pass midnight)
        from: "22:00"
        to: "01:30"
        tags: [web]
"""

from __future__ import annotations

import re
from collections.abc import Collection
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.alerting.maintenance import Window
from agent.config.report import Reporter
from agent.config.yaml_lines import YamlPath
from agent.cron import DAY_NAMES, CronError, CronExpr, ZoneName, zone
from agent.durations import PositiveDuration

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_GLOB_CHARS = "*?["


def _minutes(text: str) -> int:
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(f"expected a time of day like 22:00, got {text!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


class MaintenanceEntry(BaseModel):
    """One entry of ``maintenance:`` as written."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=255)
    cron: str | None = None
    duration: PositiveDuration | None = None
    weekdays: tuple[str, ...] = ()
    start: str | None = Field(default=None, alias="from")
    end: str | None = Field(default=None, alias="to")
    timezone: ZoneName | None = None
    checks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    reason: str = Field(default="", max_length=2000)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                CronExpr.parse(v)
            except CronError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.strip().lower()[:3] for d in v)
        for given, day in zip(v, days, strict=True):
            if day not in DAY_NAMES:
                raise ValueError(f"{given!r} is not a weekday (mon, tue, ... sun)")
        return days

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str | None) -> str | None:
        if v is not None:
            _minutes(v)
        return v

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceEntry:
        by_cron = self.cron is not None or self.duration is not None
        by_days = bool(self.weekdays) or self.start is not None or self.end is not None
        if by_cron == by_days:
            raise ValueError("give either cron and duration, or weekdays with from and to")
        if by_cron and (self.cron is None or self.duration is None):
            raise ValueError("cron and duration go together")
        if by_days and not (self.weekdays and self.start and self.end):
            raise ValueError("weekdays, from and to go together")
        if by_days and self.start == self.end:
            raise ValueError("from and to are the same time: the window would last 0 s")
        if not self.checks and not self.tags:
            raise ValueError("name the checks (names or globs) or tags it covers")
        return self

    def window(self) -> Window:
        """The window this entry declares."""
        if self.cron is not None and self.duration is not None:
            starts, duration = CronExpr.parse(self.cron), float(self.duration)
        else:
            assert self.start is not None and self.end is not None
            begin, finish = _minutes(self.start), _minutes(self.end)
            starts = CronExpr.parse(f"{begin % 60} {begin // 60} * * {','.join(self.weekdays)}")
            duration = float(((finish - begin) % (24 * 60)) * 60)
        return Window(name=self.name, starts=starts, duration=duration,
                      tz=zone(self.timezone) if self.timezone else None,
                      checks=self.checks, tags=self.tags, reason=self.reason.strip())


def parse_maintenance(data: Any, check_names: Collection[str],
                      report: Reporter) -> list[Window]:
    """``maintenance:`` -> windows; names are unique, and a check named without a glob
    must exist."""
    path: YamlPath = ("maintenance",)
    if data is None:
        return []
    if not isinstance(data, list):
        report.add(path, f"expected a list of windows, got {report.show(path, data)}")
        return []
    known = frozenset(check_names)
    windows: list[Window] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        wpath: YamlPath = (*path, index)
        parsed = report.validate(MaintenanceEntry, entry, wpath)
        if parsed is None:
            continue
        if parsed.name in seen:
            report.add((*wpath, "name"), f"a second window named {parsed.name!r}")
            continue
        seen.add(parsed.name)
        unknown = [c for c in parsed.checks
                   if not any(ch in c for ch in _GLOB_CHARS) and c not in known]
        unmatched = [c for c in parsed.checks if any(ch in c for ch in _GLOB_CHARS)
                     and not any(fnmatchcase(k, c) for k in known)]
        for name in unknown:
            report.add((*wpath, "checks"), f"no check is named {name!r}")
        for glob in unmatched:
            report.add((*wpath, "checks"), f"{glob!r} matches no configured check")
        if not unknown and not unmatched:
            windows.append(parsed.window())
    return windows
