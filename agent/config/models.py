"""Typed configuration. Raw YAML is validated into these models by ``agent.config.loader``."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from agent.durations import Duration, PositiveDuration
from agent.model import Status
from agent.notify.backoff import RetryPolicy
from agent.notify.masking import UrlForm
from agent.thresholds.rules import ThresholdRule
from agent.units import format_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def default_state_dir() -> Path:
    """``$WATCHKEEPER_STATE_DIR`` if set; else ``/var/lib/watchkeeper`` for root and
    ``$XDG_STATE_HOME/watchkeeper`` (``~/.local/state/watchkeeper``) for other users."""
    if os.environ.get("WATCHKEEPER_STATE_DIR"):
        return Path(os.environ["WATCHKEEPER_STATE_DIR"])
    if os.geteuid() == 0:
        return Path("/var/lib/watchkeeper")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "watchkeeper"


#: The longest path the kernel takes (PATH_MAX less the NUL), and one name in it.
_PATH_BYTES = 4095
_NAME_BYTES = 255
#: The longest host and name (a check's, a channel's): they go into every alert key,
#: message, metric label and store row.
NAME_CHARS = 255


def _path_fits(path: Path) -> Path:
    """``path`` if the kernel can take it; the YAML reader has refused NUL bytes already."""
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:
        raise ValueError("holds characters a file name cannot") from None
    if b"\0" in raw:
        raise ValueError("holds a NUL byte (\\0), which no path may hold")
    if len(raw) > _PATH_BYTES:
        raise ValueError(f"is longer than {_PATH_BYTES} bytes, the most a path may be")
    if any(len(part) > _NAME_BYTES for part in raw.split(b"/")):
        raise ValueError(f"has a name longer than {_NAME_BYTES} bytes, the most one may be")
    return path


def _at_least(v: float, least: float, why: str = "") -> float:
    """``v``, a duration, if it is at least ``least``."""
    if v < least:
        raise ValueError(f"must be at least {format_duration(least)}, got "
                         f"{format_duration(v)}{why}")
    return v


#: The shortest ``agent.history.raw``: the raw samples cover at least the 5-minute bucket
#: still open in memory, so the newest minutes can be read from them.
HISTORY_RAW_MIN = 600.0


class HistorySettings(_Strict):
    """``agent.history``: how long each series' history is kept (``agent.history``
    records it, ``watchkeeper uptime`` and ``/metrics`` read it).

    Raw samples for ``raw``, 5-minute rollups for ``five_minutes``, 1-hour rollups and
    the outages for ``keep``; ``enabled: false`` keeps none.
    """

    enabled: bool = True
    raw: PositiveDuration = 48 * 3600.0
    five_minutes: PositiveDuration = 8 * 86400.0
    keep: PositiveDuration = 400 * 86400.0

    @field_validator("raw")
    @classmethod
    def _raw(cls, v: float) -> float:
        return _at_least(v, HISTORY_RAW_MIN)

    @model_validator(mode="after")
    def _ordered(self) -> HistorySettings:
        if self.raw > self.five_minutes:
            raise ValueError(f"raw ({format_duration(self.raw)}) is longer than "
                             f"five_minutes ({format_duration(self.five_minutes)}): the "
                             "rollups must outlast the samples they sum up")
        if self.five_minutes > self.keep:
            raise ValueError(f"five_minutes ({format_duration(self.five_minutes)}) is "
                             f"longer than keep ({format_duration(self.keep)})")
        return self


#: The shortest first wait before a failed notification is tried again: a shorter one
#: would hammer a service that is down (or rate-limiting) with a probe a second.
RETRY_FIRST_MIN = 1.0


class RetrySettings(_Strict):
    """``agent.retry``: how a target that failed is tried again (``agent.notify.backoff``).

    The first wait is ``first``, each next one twice the last, capped at ``cap`` (with up
    to a fifth less, at random, so targets that failed together do not retry together);
    a message still undelivered ``give_up`` after it was queued is given up and logged.
    """

    first: PositiveDuration = 10.0
    cap: PositiveDuration = 15 * 60.0
    give_up: PositiveDuration = 24 * 3600.0

    @field_validator("first")
    @classmethod
    def _first(cls, v: float) -> float:
        return _at_least(v, RETRY_FIRST_MIN, " (a target that is down would get a probe "
                                             "that often)")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.first > self.cap:
            raise ValueError(f"first ({format_duration(self.first)}) is longer than cap "
                             f"({format_duration(self.cap)}): no wait may exceed the cap")
        return self

    def policy(self) -> RetryPolicy:
        """The outbox's backoff with these waits."""
        return RetryPolicy(first=self.first, cap=self.cap, give_up_after=self.give_up)


#: Longest ``group_wait`` (and ``agent.group_window``): a longer one would hold the first
#: alert of a storm too long.
GROUP_WAIT_MAX = 600.0


def _held_back_at_most(v: float, what: str) -> float:
    """``v``, a time that holds back ``what``, if it is at most ``GROUP_WAIT_MAX``."""
    if v > GROUP_WAIT_MAX:
        raise ValueError(f"must be at most {format_duration(GROUP_WAIT_MAX)}, got "
                         f"{format_duration(v)} (it holds back {what})")
    return v


class AgentSettings(_Strict):
    """The ``agent:`` section."""

    host: str = Field(default_factory=socket.gethostname, min_length=1, max_length=NAME_CHARS)
    state_dir: Path = Field(default_factory=default_state_dir)
    interval: PositiveDuration = 60.0
    timeout: PositiveDuration = 10.0
    max_concurrency: int = Field(default=16, ge=1, le=1024)
    #: On SIGTERM, how long queued notifications may still be sent before the agent exits.
    shutdown_drain: Duration = 10.0
    #: A check that tells whether this host reaches the network (a gateway or resolver):
    #: while it fails, every check of a remote target waits, as if it depended on it.
    connectivity: str | None = Field(default=None, min_length=1, max_length=255)
    #: Alerts of this host that open within this long of the first are one incident and
    #: one message (0: each alert goes out on its own, at once).
    group_window: Duration = 30.0
    #: How a target that failed is tried again, and when a message is given up.
    retry: RetrySettings = RetrySettings()
    #: How long resolved incidents are kept in the incident log.
    incidents_kept: PositiveDuration = 400 * 86400.0
    #: Each series' downsampled history (``agent.history``).
    history: HistorySettings = HistorySettings()
    log_level: str = "info"
    #: ``host:port`` of the local HTTP listener (health, pings, metrics); None = off.
    listen: str | None = None
    #: Where people reach the listener (``https://mon.example.com:9110``): messages then
    #: carry a signed link acknowledging their incident, answered at ``/ack/...``.
    public_url: str | None = Field(default=None, max_length=2000)
    #: Bearer token the listener requires when bound to anything but loopback.
    token: str | None = Field(default=None, repr=False)

    @field_validator("state_dir")
    @classmethod
    def _state_dir(cls, v: Path) -> Path:
        return _path_fits(v)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.lower()
        if v not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return v

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v is not None:
            from agent.listen_address import parse_listen

            parse_listen(v)
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from urllib.parse import urlsplit

        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, as people "
                             "reach the listener (https://mon.example.com:9110)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must be a plain base URL: no query, fragment or credentials")
        return v.strip().rstrip("/")

    @field_validator("group_window")
    @classmethod
    def _group_window(cls, v: float) -> float:
        return _held_back_at_most(v, "the first alert of the host")

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _token_off_loopback(self) -> AgentSettings:
        from agent.listen_address import parse_listen

        if self.listen is not None and self.token is None and \
                not parse_listen(self.listen).loopback:
            raise ValueError(f"listen {self.listen} is reachable from other hosts: set token "
                             "(like token: ${file:/etc/watchkeeper/token}) or listen on "
                             "127.0.0.1")
        return self


class AlertPolicy(_Strict):
    """Notification policy: reminders and resolve notices (``defaults:`` or per check)."""

    repeat_interval: Duration = 4 * 3600.0
    send_resolved: bool = True
    #: An alert flaps when its state changed ``flap_changes`` times in the last
    #: ``flap_window`` evaluations (Nagios's 21 results and 20 % of their 20 changes);
    #: ``flap_changes: 0`` turns flapping detection off.
    flap_window: int = Field(default=21, ge=3, le=64)
    flap_changes: int = Field(default=5, ge=0, le=63)


class Channel(_Strict):
    """A named list of Apprise URLs. The URLs carry secrets: never print them unmasked.

    ``group_wait`` (a duration, 0 = off, at most 10m) batches an alert storm: the
    notifications queued for one URL within ``group_wait`` of the first go out together
    as ONE message (one text message instead of 15 when a host loses its network).
    PagerDuty and Opsgenie URLs are never grouped: they keep one incident per alert.
    """

    name: str = Field(max_length=NAME_CHARS)
    urls: tuple[str, ...] = Field(min_length=1)
    group_wait: Duration = 0.0

    @field_validator("group_wait")
    @classmethod
    def _group_wait(cls, v: float) -> float:
        return _held_back_at_most(v, "the first alert of a storm")


#: The severities a route can select (ok never alerts).
_ALERT_SEVERITIES = frozenset(s.value for s in Status if s is not Status.OK)


class ActionConfig(_Strict):
    """``on_firing`` / ``on_resolved``: a command (argv, no shell) and its limits."""

    command: tuple[str, ...] = Field(min_length=1, max_length=256)
    timeout: PositiveDuration = 30.0
    max_per_hour: int = Field(default=3, ge=1, le=60)


class Recurrence(_Strict):
    """``{count: 3, within: 24h, severity: critical}``: an alert opening for the
    ``count``-th time within ``within`` is raised to ``severity``."""

    count: int = Field(ge=2, le=1000)
    #: At most 31 days: the agent keeps a month of incidents at hand.
    within: PositiveDuration = Field(le=31 * 86400.0)
    severity: Status = Status.CRITICAL

    @field_validator("severity")
    @classmethod
    def _problem(cls, v: Status) -> Status:
        if v is Status.OK:
            raise ValueError("severity ok never alerts; use warning, critical, unknown")
        return v


class EscalationStep(_Strict):
    """``{after: 15m, channels: [sms]}``: who else is told when nobody reacted."""

    after: PositiveDuration
    channels: tuple[str, ...] = Field(min_length=1)


class Route(_Strict):
    """Send events that match every given condition to ``channels``.

    Conditions left out match everything. An event goes to the union of the channels of
    all matching routes. ``escalate`` steps tell more channels when an incident the route
    sent is still open and unacknowledged ``after`` its start.
    """

    channels: tuple[str, ...] = Field(min_length=1)
    severity: tuple[Status, ...] = ()
    tags: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    escalate: tuple[EscalationStep, ...] = Field(default=(), max_length=10)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list | tuple):
            out = []
            for s in v:
                if isinstance(s, str) and s.lower() == "ok":
                    raise ValueError("severity ok never alerts; use warning, critical, unknown")
                if isinstance(s, str) and s.lower() not in _ALERT_SEVERITIES:
                    raise ValueError(f"expected warning, critical or unknown, got {s!r}")
                out.append(s.lower() if isinstance(s, str) else s)
            return out
        return v


class CheckConfig(_Strict):
    """One configured check: the common keys plus the kind's own validated options."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    kind: str
    interval: float
    timeout: float
    tags: tuple[str, ...] = ()
    enabled: bool = True
    #: Shown on the status page (``agent.status_page``); others never appear there.
    public: bool = False
    policy: AlertPolicy = AlertPolicy()
    thresholds: dict[str, ThresholdRule] = Field(default_factory=dict)
    #: The kind's options model instance (a CheckOptions subclass).
    options: Any = None
    #: What to do when it alerts: a URL or a short text, shown in every message.
    runbook: str | None = None
    #: The checks it depends on (``agent.alerting.dependencies``).
    depends_on: tuple[str, ...] = ()
    #: Commands run when one of its alerts fires / resolves (``agent.incidents.actions``).
    on_firing: ActionConfig | None = None
    on_resolved: ActionConfig | None = None
    #: Repeated problems get serious (``agent.incidents.recurrence``).
    recurrence: Recurrence | None = None
    #: The uptime target in percent (``slo: 99.9``), for ``watchkeeper uptime``.
    slo: float | None = None


class Config(_Strict):
    """The whole validated configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    source: str
    agent: AgentSettings
    defaults: AlertPolicy
    channels: dict[str, Channel]
    routes: tuple[Route, ...]
    checks: tuple[CheckConfig, ...]
    #: Recurring windows of planned work (``agent.alerting.maintenance.Window``).
    maintenance: tuple[Any, ...] = ()
    #: Where each dotted path sits in the file (an ``agent.config.yaml_lines.LineMap``),
    #: for errors found after loading.
    lines: Any = Field(default=None, exclude=True, repr=False)
    #: Each channel URL's form by Apprise's account (how to show it, its secret parts),
    #: when Apprise was asked; holds secrets.
    url_forms: dict[str, UrlForm] = Field(default_factory=dict, exclude=True, repr=False)

    def check(self, name: str) -> CheckConfig | None:
        return next((c for c in self.checks if c.name == name), None)
