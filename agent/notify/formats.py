"""How each family of targets shows a message.

- Email (``mailto://``, ``mailtos://``): a text and an HTML part with a small table, a
  short subject, threaded per incident (``agent.notify.email_format``).
- Email services' APIs (SendGrid, Mailgun, SES, Office 365, ...): the same subject and
  HTML table; the service builds the message (no threading: it picks the Message-ID).
- Chat (Slack, Teams, Telegram, Discord, Matrix, Mattermost, ...): CommonMark, which
  Apprise turns into each service's own markup; one line of title, a short body.
- SMS (Twilio, SNS and every plugin that says its messages fit one SMS): the title alone,
  in GSM characters, within one SMS.
- Anything else (webhooks, log://, push services): the plain title and body, as text.

Pure: the Apprise child picks the family from what Apprise says of the plugin
(``family_of``) and renders with ``for_family``; golden tests render the same way.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from agent.notify.email_format import html_part, subject, text_part
from agent.notify.message import cut_at_word
from agent.notify.protocol import WireMessage


class Family(enum.Enum):
    """The kinds of targets that show a message each in their own way."""

    EMAIL = "email"
    EMAIL_API = "email_api"
    CHAT = "chat"
    SMS = "sms"
    PLAIN = "plain"


class BodyFormat(enum.Enum):
    """How a body is written (Apprise's ``body_format`` names)."""

    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class Rendered:
    """What to hand Apprise: title, body and the body's format."""

    title: str
    body: str
    body_format: BodyFormat = BodyFormat.TEXT


EMAIL_SCHEMES = frozenset({"mailto", "mailtos"})
#: Email services Apprise reaches through their HTTP APIs, which take an HTML body.
EMAIL_API_SCHEMES = frozenset({
    "sendgrid", "mailgun", "ses", "azure", "o365", "resend", "brevo", "postmark",
    "sparkpost", "smtp2go", "mailersend", "sendpulse",
})
#: Chat services whose Apprise plugin takes CommonMark and converts it to its own markup.
CHAT_SCHEMES = frozenset({
    "slack", "discord", "tgram", "matrix", "matrixs", "msteams", "workflow", "workflows",
    "mmost", "mmosts", "rocket", "rockets", "gchat", "zulip", "wxteams", "webex",
    "guilded", "revolt", "ryver", "dingtalk",
})
#: Text-message services; most plugins also say so themselves (``body_maxlen`` <= 160).
SMS_SCHEMES = frozenset({
    "twilio", "sns", "vonage", "nexmo", "msgbird", "plivo", "sinch", "clicksend",
    "bulksms", "bulkvs", "atalk", "d7sms", "smseagle", "smseagles", "seven", "burstsms",
    "kavenegar", "msg91", "infobip", "telnyx", "httpsms", "signal", "signals", "voipms",
})
#: One SMS in the GSM 7-bit alphabet.
SMS_MAX = 160
#: The facts a chat body shows: a few lines, never a wall of text on a phone (a message
#: with none of them, like the test message, shows all it has).
CHAT_ROWS = ("Where", "Value", "Threshold", "Since", "Resolved", "Also failing", "Action",
             "Runbook", "Incident")
#: A group's chat body lists this many alerts, then says how many more there are.
CHAT_GROUP_ROWS = 10


def family_of(schema: str, title_maxlen: int | None = None,
              body_maxlen: int | None = None) -> Family:
    """The family of a target, from its URL scheme and its plugin's limits (an SMS
    plugin has no title and fits its body in one SMS)."""
    schema = schema.lower()
    if schema in EMAIL_SCHEMES:
        return Family.EMAIL
    if schema in EMAIL_API_SCHEMES:
        return Family.EMAIL_API
    if schema in SMS_SCHEMES or (title_maxlen == 0 and body_maxlen is not None
                                 and 0 < body_maxlen <= SMS_MAX):
        return Family.SMS
    if schema in CHAT_SCHEMES:
        return Family.CHAT
    return Family.PLAIN


def for_family(family: Family, message: WireMessage) -> Rendered:
    """``message`` as targets of ``family`` show it (email: its text part; the child
    builds the whole MIME message with ``agent.notify.email_format``)."""
    if family is Family.SMS:
        return Rendered("", sms_text(message))
    if family is Family.CHAT:
        return Rendered(message.title, chat_body(message), BodyFormat.MARKDOWN)
    if family is Family.EMAIL:
        return Rendered(subject(message), text_part(message))
    if family is Family.EMAIL_API:
        return Rendered(subject(message), html_part(message), BodyFormat.HTML)
    return Rendered(message.title, message.body)


# -- chat ------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")
_URL = re.compile(r"^https?://\S+$")


def md_escape(text: str) -> str:
    """``text`` as literal CommonMark (its markup characters backslash-escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(text: str) -> str:
    """``text`` as an inline code span (a literal in every chat's markup)."""
    return "`" + text.replace("`", "'") + "`"


def _md_value(label: str, value: str) -> str:
    if _URL.match(value) and ">" not in value:
        return f"<{value}>"
    if label in ("Where", "Value", "Threshold", "Incident"):
        return md_code(value)
    return md_escape(value)


def chat_body(message: WireMessage) -> str:
    """A short CommonMark body: for one alert the facts a reader acts on (where, value,
    since, runbook, incident) one a line; for a group, one line per alert."""
    if message.alerts > 1:
        lines = [f"- **{md_escape(label)}** {md_escape(text)}"
                 for label, text in message.facts[:CHAT_GROUP_ROWS]]
        more = len(message.facts) - CHAT_GROUP_ROWS
        if more > 0:
            lines.append(f"- and {more} more")
        return "\n".join(lines)
    if not message.facts:  # a message built without facts: its plain lines
        return md_escape(message.body)
    # The title says what and why; the reason again only when the title had to cut it.
    rows = [(label, value) for label, value in message.facts if label in CHAT_ROWS
            or (label == "Why" and value not in message.title)]
    return "\n".join(f"**{label}:** {_md_value(label, value)}"
                      for label, value in rows or message.facts)


# -- SMS -------------------------------------------------------------------------------

#: The GSM 03.38 basic character set (what one 160-character SMS can carry).
GSM_CHARS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
#: Common characters outside it, and what stands in for them.
_GSM_STAND_INS = {"\u2026": "...", "\u2013": "-", "\u2014": "-", "\u2018": "'",
                  "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00b0": " deg",
                  "\u00b5": "u", "\u2192": "->", "\u00d7": "x", "\t": " ",
                  "[": "(", "]": ")", "{": "(", "}": ")", "\\": "/", "^": "",
                  "~": "-", "|": "/", "€": "EUR"}


def gsm_safe(text: str) -> str:
    """``text`` in GSM 7-bit characters only: a single other character would send the
    SMS as UCS-2, where one SMS holds 70 characters, not 160. Accents that GSM lacks
    are dropped (``ô`` -> ``o``), other characters replaced by ``?``."""
    out: list[str] = []
    for ch in text:
        if ch in GSM_CHARS:
            out.append(ch)
        elif ch in _GSM_STAND_INS:
            out.append(_GSM_STAND_INS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)
            kept = "".join(c for c in base if c in GSM_CHARS and c not in "\r\n")
            out.append(kept or "?")
    return "".join(out)


def sms_text(message: WireMessage, limit: int = SMS_MAX) -> str:
    """The title alone, on one line, in GSM characters, within one SMS."""
    return cut_at_word(" ".join(gsm_safe(message.title).split()), limit)
