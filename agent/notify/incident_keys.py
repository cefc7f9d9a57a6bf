"""One incident per problem in incident systems: each alert's incident id goes into the
Apprise URL of PagerDuty and Opsgenie targets, so a FIRING opens one incident, reminders and
escalations join it, and the RESOLVED notice closes it.

- PagerDuty: ``dedup=<incident>`` and ``action=map`` (a failure or warning triggers, a
  success resolves the incident with that dedup key).
- Opsgenie: ``alias=<incident>`` and ``action=map`` (new alert, closed on success; Opsgenie
  itself folds alerts with the same alias into one).

What the user wrote in the URL wins: a ``dedup``, ``alias`` or ``action`` already there is
kept. Other services are left alone.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_KEY_PARAM = {"pagerduty": "dedup", "opsgenie": "alias"}


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def opens_incidents(url: str) -> bool:
    """Whether ``url``'s service opens one incident per alert (so it must never get
    several alerts folded into one message)."""
    return _scheme(url) in _KEY_PARAM


def keyed_url(url: str, incident: str) -> str:
    """``url`` with the incident key added for services that open incidents."""
    param = _KEY_PARAM.get(_scheme(url))
    if param is None or not incident:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k.lower() for k, _ in query}
    if param not in present:
        query.append((param, incident))
    if "action" not in present:
        query.append(("action", "map"))
    return urlunsplit(parts._replace(query=urlencode(query)))
