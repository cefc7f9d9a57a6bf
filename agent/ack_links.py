"""Signed acknowledgement links: ``<public_url>/ack/<incident>.<signature>`` in messages,
answered by the agent's own listener without any other credential.

The signature is an HMAC-SHA256 of the incident id under a key only this agent holds
(``ack.key`` in its state directory, made once, readable by the agent alone), so a link
names one incident and cannot be forged for another; it works while that incident is open
and says so once it is resolved (a resolve clears acknowledgements anyway). Opening a
link shows what it is about and one button: link previews and mail scanners fetch links
on their own, so only the button (a POST) acknowledges.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from agent.alerting.state import AlertEvent, EventKind

log = logging.getLogger("watchkeeper.agent")

KEY_FILE = "ack.key"
_KEY_BYTES = 32
#: Signature bytes kept (128 bits: unguessable, and a short link).
_SIG_BYTES = 16
#: Events whose message offers the link: the incident is open and may want someone.
_OFFERED = frozenset({EventKind.FIRING, EventKind.REMINDER, EventKind.ESCALATED,
                      EventKind.DEESCALATED, EventKind.UNANSWERED, EventKind.FLAPPING,
                      EventKind.UNACKNOWLEDGED})
PATH_PREFIX = "/ack/"


@dataclass(frozen=True, slots=True)
class AckLinks:
    """Makes and checks the links of one agent: ``base`` is where people reach its
    listener (``agent.public_url``)."""

    base: str
    key: bytes

    def _sign(self, incident: str) -> str:
        mac = hmac.new(self.key, b"ack:" + incident.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:_SIG_BYTES]).decode().rstrip("=")

    def token(self, incident: str) -> str:
        """The link's last part for ``incident``."""
        return f"{incident}.{self._sign(incident)}"

    def url(self, incident: str) -> str:
        """The link for ``incident``."""
        return f"{self.base.rstrip('/')}{PATH_PREFIX}{self.token(incident)}"

    def incident_of(self, token: str) -> str | None:
        """The incident a token was made for, or None when it was not made here."""
        incident, dot, sig = token.rpartition(".")
        if not dot or not incident or len(token) > 512:
            return None
        if not hmac.compare_digest(sig.encode(), self._sign(incident).encode()):
            return None
        return incident

    def offer(self, event: AlertEvent) -> AlertEvent:
        """``event`` carrying its incident's link when its message should offer one."""
        if event.kind not in _OFFERED or not event.severity.is_problem:
            return event
        return replace(event, ack_url=self.url(event.incident))


def load_key(state_dir: Path) -> bytes | None:
    """The agent's link key, made on first use; None (logged) when it cannot be had."""
    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        log.warning("no acknowledgement links: cannot make %s (%s)", path, exc.strerror)
        return None
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(_KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            key = f.read(_KEY_BYTES + 1)
    except OSError as exc:
        log.warning("no acknowledgement links: cannot read %s (%s)", path, exc.strerror)
        return None
    if len(key) != _KEY_BYTES:
        log.warning("no acknowledgement links: %s does not hold a key of %d bytes (remove "
                    "it to make a new one)", path, _KEY_BYTES)
        return None
    return key
