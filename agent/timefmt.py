"""Moments written for people, always in UTC: a certificate's dates, a silence's end.

Every day or minute shown anywhere is written here, so the agent, the CLI and the checks
spell the same moment the same way whatever the host's time zone.
"""

from __future__ import annotations

import time


def utc_date(epoch: float) -> str:
    """``2025-03-01``: the UTC day of ``epoch`` (seconds since the epoch)."""
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def utc_minute(epoch: float) -> str:
    """``2025-03-01 14:00 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def utc_second(epoch: float) -> str:
    """``2025-03-01 14:00:05 UTC``: for what happened seconds ago (a fault's start)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def utc_clock(epoch: float) -> str:
    """``14:00 UTC``: the time of day alone, for a moment of a day the reader knows."""
    return time.strftime("%H:%M UTC", time.gmtime(epoch))


def same_utc_day(a: float, b: float) -> bool:
    """Whether two moments fall on the same UTC day."""
    return time.gmtime(a)[:3] == time.gmtime(b)[:3]
