"""Channel URLs the agent sends to itself, without Apprise: the versioned webhook and
Prometheus Alertmanager. Pure parsing (no HTTP client here), so config validation and
the dispatcher can tell these targets apart without importing one.

- ``webhook+https://host/path?secret=S`` (or ``webhook+http://``): POSTs one
  ``watchkeeper.alert/v1`` JSON document per notification to ``https://host/path``;
  with ``secret``, signed (``agent.notify.webhook``). Every other query parameter is
  part of the URL posted to.
- ``alertmanager://host[:9093][/prefix]`` (``alertmanagers://`` for HTTPS): posts to
  ``/prefix/api/v2/alerts``; ``user:password@`` is sent as Basic auth; ``?resend=1m``
  is how often open alerts are posted again (``agent.notify.alertmanager``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from agent.notify.masking import UrlForm, form_with
from agent.units import format_duration, parse_duration

#: Alertmanager's own port.
ALERTMANAGER_PORT = 9093
#: How often open alerts are posted again by default: well within Alertmanager's
#: ``resolve_timeout`` (5m), as Prometheus does.
RESEND_DEFAULT = 60.0
RESEND_MIN = 1.0
RESEND_MAX = 600.0


class NativeKind(enum.Enum):
    """The targets the agent sends itself."""

    WEBHOOK = "webhook"
    ALERTMANAGER = "alertmanager"


_SCHEMES = {"webhook+https": (NativeKind.WEBHOOK, "https"),
            "webhook+http": (NativeKind.WEBHOOK, "http"),
            "alertmanager": (NativeKind.ALERTMANAGER, "http"),
            "alertmanagers": (NativeKind.ALERTMANAGER, "https")}


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a webhook posts, and the secret it signs with (kept out of ``repr``)."""

    url: str
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class AlertmanagerTarget:
    """One Alertmanager (one member of a cluster): its base URL, Basic credentials
    (kept out of ``repr``) and how often open alerts are posted again."""

    base: str
    auth: tuple[str, str] | None = field(default=None, repr=False)
    resend: float = RESEND_DEFAULT

    @property
    def alerts_url(self) -> str:
        """The API v2 endpoint alerts are posted to."""
        return f"{self.base}/api/v2/alerts"

    @property
    def ends_after(self) -> float:
        """How far past each post an open alert's ``endsAt`` is set: four missed posts
        (an agent that died) before Alertmanager resolves it by itself."""
        return 4 * self.resend


NativeTarget = WebhookTarget | AlertmanagerTarget


def _scheme(url: str) -> str:
    return url.strip().partition("://")[0].lower() if "://" in url else ""


def native_kind(url: str) -> NativeKind | None:
    """Which native target ``url`` is (None: an Apprise URL)."""
    found = _SCHEMES.get(_scheme(url))
    return found[0] if found else None


def is_alertmanager(url: str) -> bool:
    """Whether ``url`` is an Alertmanager target."""
    return native_kind(url) is NativeKind.ALERTMANAGER


def parse_target(url: str) -> NativeTarget:
    """The target ``url`` names; raises ValueError saying what is wrong (never quoting
    the URL: it may carry a secret)."""
    found = _SCHEMES.get(_scheme(url))
    if found is None:
        raise ValueError("not a webhook+https://, webhook+http://, alertmanager:// or "
                         "alertmanagers:// URL")
    kind, http_scheme = found
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"cannot read the URL: {_no_value(exc)}") from None
    if not parts.hostname:
        raise ValueError("the URL names no host")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if kind is NativeKind.WEBHOOK:
        return _webhook(parts._replace(scheme=http_scheme), query)
    return _alertmanager(http_scheme, parts.hostname, port, parts, query)


def _no_value(exc: ValueError) -> str:
    # urllib's messages quote the offending part (a port could be a misplaced token).
    text = str(exc)
    return text.split(":", maxsplit=1)[0] if ":" in text else text


def _webhook(parts: SplitResult, query: list[tuple[str, str]]) -> WebhookTarget:
    secrets = [v for k, v in query if k == "secret"]
    if len(secrets) > 1:
        raise ValueError("secret is given more than once")
    if secrets and not secrets[0]:
        raise ValueError("secret is empty (leave it out to send unsigned)")
    kept = [(k, v) for k, v in query if k != "secret"]
    posted = urlunsplit(parts._replace(query=urlencode(kept)))
    return WebhookTarget(posted, secrets[0] if secrets else None)


def _alertmanager(http_scheme: str, host: str, port: int | None, parts: SplitResult,
                  query: list[tuple[str, str]]) -> AlertmanagerTarget:
    resend = RESEND_DEFAULT
    for name, value in query:
        if name != "resend":
            raise ValueError(f"unknown option {name!r} (an Alertmanager URL takes resend)")
        try:
            resend = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"resend: {exc}") from None
        if not RESEND_MIN <= resend <= RESEND_MAX:
            raise ValueError(f"resend must be between {format_duration(RESEND_MIN)} and "
                             f"{format_duration(RESEND_MAX)} (Alertmanager resolves an "
                             f"alert not posted again within its resolve_timeout), got "
                             f"{format_duration(resend)}")
    shown_host = f"[{host}]" if ":" in host else host
    prefix = parts.path.rstrip("/")
    base = f"{http_scheme}://{shown_host}:{port or ALERTMANAGER_PORT}{prefix}"
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    return AlertmanagerTarget(base, auth, resend)


def native_form(url: str) -> UrlForm:
    """How a native URL may be shown and which of its parts are secret: the password
    and the webhook's ``secret`` (the host and path are an address, not a secret)."""
    parts = urlsplit(url.strip())
    secrets = [v for k, v in parse_qsl(parts.query, keep_blank_values=True)
               if k == "secret" and v]
    try:
        password = parts.password
    except ValueError:
        password = None
    if password:
        secrets.append(password)
    return form_with(url, secrets)
