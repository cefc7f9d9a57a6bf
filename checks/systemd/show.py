"""Parsing what ``systemctl show`` and ``systemctl list-units`` print (pure, no I/O).

``systemctl show UNIT --property=A,B`` prints one ``Key=Value`` line per property, in the
order of systemd's D-Bus interfaces (not the order asked for); properties the unit type
lacks (``NRestarts`` on a timer) are left out. A unit that does not exist is still shown,
with ``LoadState=not-found``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeVar

from agent.errors import CheckError
from agent.textsafe import shortened

#: The properties the systemd check asks for.
UNIT_PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts", "UnitFileState",
    "LoadError",
)

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_UNIT = re.compile(r"[A-Za-z0-9:_.\\@-]+\.[a-z]+")
_BULLETS = frozenset({"\u25cf", "*", "\u00d7"})  # bullet, asterisk, cross: unit marks
_E = TypeVar("_E", bound=enum.Enum)


class ShowParseError(CheckError):
    """systemctl printed something that is not what ``show`` prints."""


class ActiveState(enum.Enum):
    """A unit's high-level state (org.freedesktop.systemd1(5), ``ActiveState``)."""

    ACTIVE = "active"
    RELOADING = "reloading"
    INACTIVE = "inactive"
    FAILED = "failed"
    ACTIVATING = "activating"
    DEACTIVATING = "deactivating"
    MAINTENANCE = "maintenance"
    REFRESHING = "refreshing"

    @property
    def is_up(self) -> bool:
        """Running: active, or active and reloading/refreshing its configuration."""
        return self in (ActiveState.ACTIVE, ActiveState.RELOADING, ActiveState.REFRESHING)


class LoadState(enum.Enum):
    """Whether systemd could load the unit's configuration (``LoadState``)."""

    STUB = "stub"
    LOADED = "loaded"
    NOT_FOUND = "not-found"
    BAD_SETTING = "bad-setting"
    ERROR = "error"
    MERGED = "merged"
    MASKED = "masked"


@dataclass(frozen=True, slots=True)
class UnitState:
    """One unit as ``systemctl show`` describes it.

    ``result`` is None for unit types without a ``Result`` (targets); ``n_restarts`` is
    None for anything but services (only they are restarted automatically).
    """

    unit: str
    load_state: LoadState
    active_state: ActiveState
    sub_state: str
    result: str | None = None
    n_restarts: int | None = None
    unit_file_state: str = ""
    load_error: str = ""


def parse_properties(text: str) -> dict[str, str]:
    """``Key=Value`` lines as a dict (the first ``=`` splits; values may hold more).

    Raises ShowParseError when the text holds no such line at all, or lines that are
    neither blank nor ``Key=Value`` (the output of something else).
    """
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.fullmatch(key):
            raise ShowParseError(f"systemctl show printed {_clip(line)!r}, "
                                 "not a Key=Value property line")
        props[key] = value
    if not props:
        raise ShowParseError("systemctl show printed no properties")
    return props


def parse_unit_state(text: str, unit: str) -> UnitState:
    """The state of ``unit`` from ``systemctl show UNIT --property=...`` output.

    ``unit`` is the name asked for; the ``Id`` property (the full name, ``nginx.service``
    for ``nginx``) is preferred when present. Raises ShowParseError on output that lacks
    LoadState or ActiveState, or holds states this parser does not know.
    """
    props = parse_properties(text)
    for needed in ("LoadState", "ActiveState"):
        if needed not in props:
            raise ShowParseError(f"systemctl show {unit} printed no {needed}")
    load = _enum(LoadState, props["LoadState"], "LoadState")
    active = _enum(ActiveState, props["ActiveState"], "ActiveState")
    restarts_text = props.get("NRestarts", "").strip()
    n_restarts: int | None = None
    if restarts_text and restarts_text != "[not set]":
        if not restarts_text.isdigit():
            raise ShowParseError(f"NRestarts is {_clip(restarts_text)!r}, not a number")
        n_restarts = int(restarts_text)
    result = props.get("Result")
    return UnitState(
        unit=props.get("Id") or unit,
        load_state=load,
        active_state=active,
        sub_state=props.get("SubState", ""),
        result=result if result else None,
        n_restarts=n_restarts,
        unit_file_state=props.get("UnitFileState", ""),
        load_error=_load_error_text(props.get("LoadError", "")),
    )


def parse_failed_units(text: str) -> list[str]:
    """Unit names from ``systemctl list-units --state=failed --plain --no-legend``.

    Each line starts with the unit name (some versions put a ``●`` before it even with
    ``--plain``); anything else (a header, "0 loaded units listed.") is skipped.
    """
    units: list[str] = []
    for raw in text.splitlines():
        words = raw.split()
        if words and words[0] in _BULLETS:
            words = words[1:]
        if words and _UNIT.fullmatch(words[0]):
            units.append(words[0])
    return units


def _enum(cls: type[_E], value: str, what: str) -> _E:
    try:
        return cls(value.strip())
    except ValueError:
        known = ", ".join(str(m.value) for m in cls)
        raise ShowParseError(f"systemctl reported {what}={_clip(value)!r}, "
                             f"not one of {known}") from None


def _load_error_text(value: str) -> str:
    """``org.freedesktop.systemd1.NoSuchUnit "Unit x not found."`` -> ``Unit x not found.``"""
    m = re.fullmatch(r'\s*\S+\s+"(.*)"\s*', value)
    return m.group(1) if m else value.strip()


def _clip(text: str, limit: int = 80) -> str:
    return shortened(text, limit)
