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


def keyed_url(url: str, incident: str) -> str:
    """``url`` with the incident key added for services that open incidents."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    param = _KEY_PARAM.get(scheme)
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
