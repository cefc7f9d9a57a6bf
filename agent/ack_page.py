"""The page behind an acknowledgement link (``agent.ack_links``): GET shows the incident
and one button, POST acknowledges it. No other credential: the link's signature is it."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

from agent.ack_links import PATH_PREFIX, AckLinks
from agent.http_wire import Request, Response
from agent.incidents.record import Incident
from agent.textsafe import visible
from agent.timefmt import utc_second

log = logging.getLogger("watchkeeper.agent")

#: The longest name and comment taken from the form.
MAX_BY = 100
MAX_COMMENT = 500
_HTML = "text/html; charset=utf-8"
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;"
          "line-height:1.4}input,textarea,button{font:inherit;width:100%;margin:.2em 0 .8em}"
          "button{padding:.6em}@media(prefers-color-scheme:dark){body{background:#111;"
          "color:#eee}}")


@dataclass(frozen=True, slots=True)
class AckEndpoint:
    """Answers ``/ack/<token>``: ``lookup`` finds an open incident by id (None: not open),
    ``acknowledge`` records who is on it."""

    links: AckLinks
    lookup: Callable[[str], Incident | None]
    acknowledge: Callable[[str, str, str], Incident]

    def answer(self, request: Request) -> Response:
        """The answer to a request for a link."""
        if request.method not in ("GET", "HEAD", "POST"):
            return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n",
                                 ("Allow", "GET, HEAD, POST"))
        token = unquote(request.path.removeprefix(PATH_PREFIX))
        incident = self.links.incident_of(token)
        if incident is None:
            return _page(HTTPStatus.NOT_FOUND, "Unknown link",
                         "<p>This acknowledgement link was not made by this agent.</p>")
        record = self.lookup(incident)
        if record is None:
            return _page(HTTPStatus.GONE, "Resolved already",
                         f"<p>Incident {_e(incident)} is no longer open: nothing to "
                         "acknowledge.</p>")
        if request.method != "POST":
            return _page(HTTPStatus.OK, "Acknowledge?", _summary(record) + _form(record))
        form = parse_qs(request.body.decode("utf-8", "replace"), max_num_fields=4)
        # One line each, with no control character left to act on a terminal later (the
        # comment reaches the channels, the log and `incident show`).
        by = visible(" ".join(form.get("by", [""])[0].split()))[:MAX_BY] or "ack link"
        comment = visible(" ".join(form.get("comment", [""])[0].split()))[:MAX_COMMENT]
        try:
            record = self.acknowledge(record.id, by, comment)
        except LookupError as exc:
            return _page(HTTPStatus.GONE, "Resolved already", f"<p>{_e(str(exc))}</p>")
        log.info("incident %s acknowledged by %s through its link", record.id, by)
        return _page(HTTPStatus.OK, "Acknowledged",
                     _summary(record) + "<p>Reminders and escalation stop for this "
                     "incident; the channels it went to are told.</p>")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _summary(i: Incident) -> str:
    acked = ""
    if i.acked_at is not None:
        acked = (f"<p>Acknowledged by {_e(i.acked_by or '?')} at {_e(utc_second(i.acked_at))}"
                 + (f": {_e(i.ack_comment)}" if i.ack_comment else "") + "</p>")
    return (f"<p><strong>{_e(i.severity.value.upper())} {_e(i.key)}</strong></p>"
            f"<p>{_e(i.why)}</p><p>Open since {_e(utc_second(i.first_bad_at))} "
            f"(incident {_e(i.id)})</p>{acked}")


def _form(i: Incident) -> str:
    again = " again" if i.acked_at is not None else ""
    return ('<form method="post"><label>Your name<input name="by" maxlength="100" '
            'autocomplete="name"></label><label>Comment<textarea name="comment" rows="2" '
            f'maxlength="500"></textarea></label><button type="submit">I\'m on it: '
            f"acknowledge{again}</button></form>")


def _page(status: HTTPStatus, title: str, body: str) -> Response:
    text = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"'
            ' content="width=device-width,initial-scale=1"><meta name="robots" '
            f'content="noindex"><title>{_e(title)}</title><style>{_STYLE}</style></head><body>'
            f"<h1>{_e(title)}</h1>{body}</body></html>\n")
    return Response(status, text.encode(), _HTML,
                    headers=(("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")))
