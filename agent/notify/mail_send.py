"""Email through Apprise's own ``mailto://`` plugin, with the message built here.

Apprise's email plugin writes one body into both parts (its text part converted from the
HTML one) and gives every message a fresh Message-ID, after any header the URL adds: it
cannot thread. So the child lets the plugin read the URL (server, port, TLS mode, login,
sender, recipients, cc, bcc, reply-to, ``+Header=value`` headers, provider defaults such
as Gmail's), builds each recipient's MIME message with ``agent.notify.email_format``, and
sends it over Apprise's own SMTP connection. A plugin set up for PGP, or an Apprise
without that connection class, sends its own way (``None``: the caller falls back).

Only the Apprise child imports this module.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr
from typing import Any

from apprise.exception import AppriseImproperlyConfigured
from apprise.logger import LOGGER_NAME

from agent.notify.email_format import mime_message
from agent.notify.protocol import WireMessage

try:  # where Apprise 2.3 keeps its SMTP session
    from apprise.plugins.email import base as _base
    from apprise.plugins.email import smtp as _smtp

    _CONTROLLER: Any = _smtp.AppriseSMTPController
    _NO_PGP: Any = _base.PGP_MODE_DEFAULT
except (ImportError, AttributeError):  # another Apprise: its plugin sends on its own
    _CONTROLLER = _NO_PGP = None

log = logging.getLogger(LOGGER_NAME)


def _address(pair: Any) -> tuple[str, str]:
    name, addr = pair
    return (name or "", addr)


def send(plugin: Any, message: WireMessage, now: float) -> bool | None:
    """Send ``message`` to every recipient of ``plugin`` (Apprise's NotifyEmail): True
    when all took it, False when one did not (why: logged to Apprise's logger, which the
    child captures), None when this plugin must send on its own."""
    if _CONTROLLER is None or getattr(plugin, "pgp_mode", None) != _NO_PGP:
        return None  # PGP signing and encryption: Apprise's own message
    try:
        sender = _address(plugin.from_addr)
        recipients = [_address(t) for t in plugin.targets]
        names: dict[str, Any] = dict(getattr(plugin, "names", {}) or {})
        cc, bcc = set(plugin.cc), set(plugin.bcc)
        reply_to = set(plugin.reply_to)
        headers = {"X-Application": str(plugin.app_id), **dict(plugin.headers or {})}
        controller = _CONTROLLER(
            host=plugin.smtp_host, port=plugin.port, secure_mode=plugin.secure_mode,
            user=plugin.user, password=plugin.password,
            verify_certificate=plugin.verify_certificate,
            socket_connect_timeout=plugin.socket_connect_timeout)
    except AttributeError:  # a plugin laid out otherwise: let it send
        return None
    if not recipients:
        log.warning("There are no Email recipients to notify")
        return False
    date = format_datetime(datetime.fromtimestamp(now, UTC))
    ok = True
    try:
        with controller as smtp:
            for to_name, to_addr in recipients:
                cc_ = sorted(cc - bcc - {to_addr})
                shown_cc = [_named(a, names) for a in cc_]
                mail = mime_message(message, sender, (to_name, to_addr), date=date,
                                    cc=shown_cc, headers=headers,
                                    reply_to=[_named(a, names)
                                              for a in sorted(reply_to - {to_addr})])
                if not smtp.sendmail(sender[1], [to_addr, *cc_, *sorted(bcc - {to_addr})],
                                     mail.as_string()):
                    log.warning('Sending email to "%s" failed.', to_addr)
                    ok = False
    except (OSError, smtplib.SMTPException, RuntimeError, AppriseImproperlyConfigured) as exc:
        log.warning("Connection error while submitting email: %s: %s",
                    type(exc).__name__, exc)
        return False
    return ok


def _named(addr: str, names: dict[str, Any]) -> str:
    name = names.get(addr)
    return formataddr((name if isinstance(name, str) else "", addr))
