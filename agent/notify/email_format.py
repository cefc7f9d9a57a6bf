"""An alert as an email: a subject under 80 characters cut at a word, a text part and an
HTML part with the same small table (what, where, value against threshold, since,
incident, runbook), and threading headers so that a mail client shows one conversation
per incident.

Threading: every message of an incident gets a Message-ID made of its dedup key; all but
the first name the first one (the incident's FIRING) in In-Reply-To and References.
Clients that thread by headers (Apple Mail, Outlook, Thunderbird, K-9, mutt) group them
even when the first one was never received; Gmail also wants the same subject.

Pure (the standard library's email package only): the Apprise child sends what
``mime_message`` builds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from agent.notify.message import cut_at_word
from agent.notify.protocol import WireMessage

#: Longest subject: 78 is RFC 5322's line length, and phones show about that much.
SUBJECT_MAX = 78
#: Headers this module writes; a user's ``+Header=value`` of the same name is ignored.
OWN_HEADERS = frozenset({"subject", "from", "to", "cc", "reply-to", "date", "message-id",
                         "in-reply-to", "references", "mime-version", "content-type",
                         "content-transfer-encoding", "bcc"})
_COLOURS = {"critical": "#b71c1c", "warning": "#e65100", "unknown": "#6a1b9a",
            "resolved": "#1b5e20", "info": "#0d47a1"}
_NOT_ATOM = re.compile(r"[^A-Za-z0-9.\-_]+")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?$")
#: A header name as RFC 5322 allows it (printable ASCII, no colon, no space).
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_LINK = re.compile(r"^https?://[^\s<>\"]+$")


def subject(message: WireMessage) -> str:
    """The title on one line, within ``SUBJECT_MAX`` characters, cut at a word."""
    return cut_at_word(" ".join(message.title.split()), SUBJECT_MAX)


def _rows(message: WireMessage) -> Sequence[tuple[str, str]]:
    if message.facts:
        return message.facts
    # A message built without facts: its lines, split where they read "Label: value".
    rows: list[tuple[str, str]] = []
    for line in message.body.splitlines():
        label, sep, value = line.partition(": ")
        rows.append((label, value) if sep and len(label) <= 20 else ("", line))
    return rows


def _footer(message: WireMessage) -> str:
    return f"key: {message.ref}" if message.ref else ""


def text_part(message: WireMessage) -> str:
    """The plain-text part: the title, then the table, one row a line, labels aligned."""
    rows = _rows(message)
    width = max((len(label) for label, _ in rows), default=0) + 2
    lines = [" ".join(message.title.split()), ""]
    lines += [f"{label:<{width}}{value}".rstrip() if label else value for label, value in rows]
    if _footer(message):
        lines += ["", _footer(message)]
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    if _LINK.match(value):
        quoted = html.escape(value)
        return f'<a href="{quoted}">{quoted}</a>'
    return html.escape(value)


def html_part(message: WireMessage) -> str:
    """The HTML part: the title as a heading in the alert's colour and the same table;
    inline styles only (mail clients drop style sheets), no images, no scripts."""
    colour = _COLOURS.get(message.label, "#333333")
    label_style = ("text-align:left;vertical-align:top;padding:4px 12px 4px 0;"
                   "color:#555555;font-weight:normal;white-space:nowrap")
    cell_style = "padding:4px 0;vertical-align:top;word-break:break-word"
    lines = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>',
        # Text and background colours set together stay readable in a dark-mode client;
        # on a div, since some webmail drops the body element.
        '<body><div style="font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,'
        'sans-serif;font-size:14px;color:#222222;background:#ffffff;padding:12px">',
        f'<h2 style="font-size:17px;margin:0 0 12px 0;color:{colour}">'
        f"{html.escape(message.title)}</h2>",
        '<table style="border-collapse:collapse" role="presentation">',
    ]
    for label, value in _rows(message):
        lines.append(f'<tr><th style="{label_style}">{html.escape(label)}</th>'
                     f'<td style="{cell_style}">{_cell(value)}</td></tr>')
    lines.append("</table>")
    if _footer(message):
        lines.append(f'<p style="color:#888888;font-size:12px;margin-top:16px">'
                     f"{html.escape(_footer(message))}</p>")
    lines.append("</div></body></html>")
    return "\n".join(lines) + "\n"


def _atom(text: str) -> str:
    """``text`` as the left part of a Message-ID (a dot-atom: no ``:``, no spaces)."""
    return _NOT_ATOM.sub(".", text).strip(".") or "watchkeeper"


def thread_headers(message: WireMessage, domain: str) -> dict[str, str]:
    """Message-ID, and for all but an incident's first message In-Reply-To and
    References naming that first one. Empty for a message of no incident (a group, a
    test): it gets a fresh Message-ID."""
    if not message.incident or not message.ref:
        return {}
    own = f"<{_atom(message.ref)}@{domain}>"
    first = f"<{_atom(message.incident + ':1')}@{domain}>"
    if own == first:
        return {"Message-ID": own}
    return {"Message-ID": own, "In-Reply-To": first, "References": first}


def mime_message(message: WireMessage, sender: tuple[str, str],
                 to: tuple[str, str], *, date: str, cc: Sequence[str] = (),
                 reply_to: Sequence[str] = (),
                 headers: Mapping[str, str] | None = None) -> EmailMessage:
    """The whole message for one recipient: ``multipart/alternative`` with the text and
    the HTML part, threaded. ``sender`` and ``to`` are (name, address); ``headers`` are
    extra ones (the URL's ``+Header=value``), never replacing those written here."""
    domain = sender[1].rpartition("@")[2]
    domain = domain if _DOMAIN.match(domain) else "watchkeeper.invalid"
    mail = EmailMessage()
    for raw, value in (headers or {}).items():
        name = raw.strip()
        if _HEADER_NAME.match(name) and name.lower() not in OWN_HEADERS:
            mail[name] = " ".join(str(value).split())
    mail["Subject"] = subject(message)
    mail["From"] = formataddr(sender)
    mail["To"] = formataddr(to)
    if cc:
        mail["Cc"] = ", ".join(cc)
    if reply_to:
        mail["Reply-To"] = ", ".join(reply_to)
    mail["Date"] = date
    threading = thread_headers(message, domain)
    mail["Message-ID"] = threading.pop("Message-ID", None) or make_msgid(domain=domain)
    for name, value in threading.items():
        mail[name] = value
    mail.set_content(text_part(message), cte="quoted-printable")
    mail.add_alternative(html_part(message), subtype="html", cte="quoted-printable")
    return mail
