"""The words of a notification: a short title (fits an SMS), a body of plain lines, and
the same facts as a table (label, value) for the targets that can show one (email's
table, chat's short list: ``agent.notify.formats``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.alerting.state import AlertEvent, EventKind
from agent.model import STATUS_METRIC, AlertKey, Status
from agent.units import format_duration, format_value

#: Longest title: fits one SMS with room for a sender prefix.
TITLE_MAX = 80
_ELLIPSIS = "..."  # plain ASCII: a Unicode ellipsis would force UCS-2 SMS encoding

_NOTIFY_TYPES = {Status.CRITICAL: "failure", Status.WARNING: "warning",
                 Status.UNKNOWN: "warning", Status.OK: "info"}


@dataclass(frozen=True, slots=True)
class Message:
    """One notification's text. ``severity`` is the alert's (for RESOLVED: what it was)."""

    title: str
    body: str
    severity: Status
    kind: EventKind = EventKind.FIRING
    #: The body's facts as (label, value) rows: a table in email, a list in chat. For a
    #: group: one row per alert (its label, what it says).
    facts: tuple[tuple[str, str], ...] = ()
    #: The incident and this message's dedup key (email threads by them); empty for a
    #: group, which spans incidents.
    incident: str = ""
    ref: str = ""
    #: How many alerts it announces (more than one: a group).
    alerts: int = 1

    @property
    def label(self) -> str:
        """``critical``, ``warning``, ``unknown``, ``resolved`` (or ``info``): the headline."""
        if self.kind is EventKind.RESOLVED or (
                self.kind is EventKind.STABLE and self.severity is Status.OK):
            return "resolved"
        if self.kind in _ACK_KINDS:
            return "info"
        return "info" if self.severity is Status.OK else self.severity.value

    @property
    def notify_type(self) -> str:
        """The Apprise notification type (``success``, ``warning``, ``failure``, ``info``)."""
        if self.kind in _ACK_KINDS:
            return "info"
        if self.label == "resolved":
            return "success"
        return _NOTIFY_TYPES[self.severity]

    def one_line(self) -> str:
        """Title and body on a single line (for logs)."""
        lines = [line.strip() for line in self.body.splitlines() if line.strip()]
        return " | ".join([self.title, *lines])


#: Events that say who handles an incident rather than how the alert stands.
_ACK_KINDS = frozenset({EventKind.ACKNOWLEDGED, EventKind.UNACKNOWLEDGED})
#: Events whose title is their kind, the alert and what they say.
_NOTICE_KINDS = _ACK_KINDS | {EventKind.FLAPPING, EventKind.STABLE}
#: Events titled with their kind and the alert's severity.
_SEVERE_NOTICES = _ACK_KINDS | {EventKind.UNANSWERED}


def effective_severity(event: AlertEvent) -> Status:
    """The severity the alert had: for RESOLVED events carrying OK, the previous one."""
    if event.severity is Status.OK and event.previous_severity is not None:
        return event.previous_severity
    return event.severity


def render(event: AlertEvent) -> Message:
    """The message announcing ``event``."""
    severity = effective_severity(event)
    facts = _facts(event, severity)
    return Message(_title(event, severity), _body(event, severity), severity, event.kind,
                   facts, event.incident, event.dedup_key)


#: Order of the counts in a group's title: worst first, resolved last.
_GROUP_LABELS = ("CRITICAL", "UNKNOWN", "WARNING", "INFO", "RESOLVED")


def render_group(events: Sequence[AlertEvent]) -> Message:
    """ONE message announcing several events (an alert storm on a grouped channel).

    Title: ``5 alerts on web1: 3 CRITICAL, 1 WARNING, 1 RESOLVED`` (fits an SMS). Body:
    each event's own title, then each event's ``key:`` line for deduplication. The
    severity is the worst among the events still firing; all resolved -> RESOLVED.
    A single event gives its ordinary message.
    """
    if not events:
        raise ValueError("render_group needs at least one event")
    if len(events) == 1:
        return render(events[0])
    singles = [render(e) for e in events]
    firing = [m.severity for m in singles if m.kind is not EventKind.RESOLVED]
    if firing:
        severity, kind = Status.worst(firing), EventKind.FIRING
    else:
        severity, kind = Status.worst([m.severity for m in singles]), EventKind.RESOLVED
    counts = Counter(m.label.upper() for m in singles)
    tally = ", ".join(f"{counts[label]} {label}" for label in _GROUP_LABELS if counts[label])
    hosts = sorted({e.key.host for e in events})
    where = hosts[0] if len(hosts) == 1 else f"{len(hosts)} hosts"
    title = _fit(f"{len(events)} alerts on ", where, f": {tally}")
    body = "\n".join([*(m.title for m in singles), "",
                       *(f"key: {e.dedup_key}" for e in events)])
    rows = tuple((m.label.upper(), _group_row(m.title, m.label, e.where))
                 for m, e in zip(singles, events, strict=True))
    return Message(title, body, severity, kind, rows, alerts=len(events))


def _group_row(title: str, label: str, where: str | None) -> str:
    """A grouped alert's title without its leading label (the row's first cell says
    it), and what its check watches."""
    head, _, rest = title.partition(" ")
    text = rest if head == label.upper() and rest else title
    return f"{text} at {where}" if where else text


def _title(event: AlertEvent, severity: Status) -> str:
    key = event.key
    sev = severity.value.upper()
    # Label values tell apart the series of one check ("disks /var"): keep them in the title.
    subject = " ".join([key.host, key.check, *(v for _, v in key.labels)])
    prev = event.previous_severity
    if event.kind in _SEVERE_NOTICES:
        return _fit(f"{event.kind.value.upper()} {sev} {subject}: ", _flat(event.why), "")
    if event.kind in _NOTICE_KINDS:
        return _fit(f"{event.kind.value.upper()} {subject}: ", _flat(event.why), "")
    if event.kind is EventKind.RESOLVED:
        metric = "" if key.metric == STATUS_METRIC else key.metric
        head = f"RESOLVED {subject}" + (": " if metric else "")
        lasted = _lasted(event)
        return _fit(head, metric, f" (lasted {format_duration(lasted)})"
                    if lasted is not None else "")
    head = f"{'STILL ' if event.kind is EventKind.REMINDER else ''}{sev} {subject}: "
    tail = ""
    if event.dependents:
        n = len(event.dependents)
        tail = f" (and {n} dependent check{'s' if n != 1 else ''} failing)"
    elif event.grouped:
        n = len(event.grouped)
        tail = f" (and {n} more alert{'s' if n != 1 else ''})"
    if event.kind in (EventKind.ESCALATED, EventKind.DEESCALATED) and prev is not None:
        tail = f" (was {prev.value.upper()})"
    return _fit(head, _flat(event.why) or key.metric, tail)


def _body(event: AlertEvent, severity: Status) -> str:
    key = event.key
    sev_line = _severity_line(event, severity)
    lines = [
        f"Severity: {sev_line}",
        f"Host: {key.host}",
        f"Check: {key.check}",
        f"Metric: {_metric_text(key) or STATUS_METRIC}",
    ]
    if event.where:
        lines.append(f"Where: {_flat(event.where)}")
    if event.value is not None:
        value = f"Value: {format_value(key.metric, event.value)}"
        if event.threshold:
            value += f" (threshold {event.threshold})"
        lines.append(value)
    elif event.threshold:
        lines.append(f"Threshold: {event.threshold}")
    if event.why:
        lines.append(f"Reason: {_flat(event.why)}")
    if event.kind is EventKind.RESOLVED:
        started = _started(event)
        if started is not None:
            lines.append(f"Started: {iso_utc(started)}")
        lines.append(f"Resolved: {iso_utc(event.at)}")
        lasted = _lasted(event)
        if lasted is not None:
            lines.append(f"Lasted: {format_duration(lasted)}")
    elif event.since is not None:
        ago = format_duration(event.at - event.since)
        lines.append(f"Since: {iso_utc(event.since)} ({ago} ago)")
    if event.held:
        lines.append(f"Held back by: {_flat(event.held)}, until it let go")
    if event.tags:
        lines.append(f"Tags: {', '.join(event.tags)}")
    lines.extend(_others_lines(event))
    if event.action:
        lines.append(f"Action: {_flat(event.action)}")
    if event.runbook:
        lines.append(f"Runbook: {_flat(event.runbook)}")
    if event.ack_url:
        lines.append(f"Acknowledge: {event.ack_url}")
    lines.append(f"key: {event.dedup_key}")
    lines.append(f"incident: {event.incident}")
    return "\n".join(lines)


def _others_lines(event: AlertEvent) -> list[str]:
    """The lines naming the alerts held under this one: its dependents failing with it,
    and the alerts of the host that opened with it."""
    lines = []
    if event.dependents:
        n = len(event.dependents)
        lines.append(f"Also failing: {n} dependent check{'s' if n != 1 else ''} "
                     f"({', '.join(event.dependents)}), not announced on their own")
    if event.grouped:
        lines.extend(_grouped_lines(event))
    return lines


def _grouped_lines(event: AlertEvent) -> list[str]:
    """The lines naming the alerts of the host that opened with this one."""
    n = len(event.grouped)
    more = f"{n} more alert{'s' if n != 1 else ''} of {event.key.host}"
    if event.kind is EventKind.RESOLVED:
        return [f"Still failing: {more} that opened with it ({', '.join(event.grouped)}); "
                "each is announced on its own now"]
    return [f"Opened with it: {more} ({', '.join(event.grouped)}), held under this "
            f"incident; {event.key.check} opened first"]


def _severity_line(event: AlertEvent, severity: Status) -> str:
    """``CRITICAL``, ``RESOLVED (was CRITICAL)``, ``WARNING (still firing)``..."""
    prev = event.previous_severity
    if event.kind is EventKind.RESOLVED:
        sev_line = f"RESOLVED (was {severity.value.upper()})"
    elif event.kind is EventKind.FLAPPING:
        sev_line = f"{severity.value.upper()} (flapping: changes are not announced until " \
                   "it settles)"
    elif event.kind is EventKind.STABLE:
        sev_line = f"{severity.value.upper()} (stable again)"
    elif event.kind in _ACK_KINDS:
        sev_line = f"{severity.value.upper()} ({event.kind.value}: reminders "
        sev_line += "stop)" if event.kind is EventKind.ACKNOWLEDGED else "go on)"
    else:
        sev_line = severity.value.upper()
        if event.kind in (EventKind.ESCALATED, EventKind.DEESCALATED) and prev is not None:
            sev_line += f" (was {prev.value.upper()})"
        elif event.kind is EventKind.REMINDER:
            sev_line += " (still firing)"
    return sev_line


def _facts(event: AlertEvent, severity: Status) -> tuple[tuple[str, str], ...]:
    """The table of one event: what, where, value against threshold, since, incident,
    runbook (the rows it has)."""
    key = event.key
    metric = _metric_text(key)
    rows = [("Status", _severity_line(event, severity)),
            ("What", f"{key.check} on {key.host}" + (f": {metric}" if metric else ""))]
    if event.why:
        rows.append(("Why", _flat(event.why)))
    if event.where:
        rows.append(("Where", _flat(event.where)))
    if event.value is not None:
        value = format_value(key.metric, event.value)
        rows.append(("Value", f"{value} (threshold {event.threshold})"
                     if event.threshold else value))
    elif event.threshold:
        rows.append(("Threshold", event.threshold))
    if event.kind is EventKind.RESOLVED:
        started, lasted = _started(event), _lasted(event)
        if started is not None:
            rows.append(("Since", iso_utc(started)))
        rows.append(("Resolved", iso_utc(event.at) + (
            f" (lasted {format_duration(lasted)})" if lasted is not None else "")))
    elif event.since is not None:
        rows.append(("Since", f"{iso_utc(event.since)} "
                              f"({format_duration(event.at - event.since)} ago)"))
    if event.held:
        rows.append(("Held back by", _flat(event.held)))
    if event.dependents:
        rows.append(("Also failing", ", ".join(event.dependents)))
    if event.grouped:
        label = "Still failing" if event.kind is EventKind.RESOLVED else "Opened with it"
        rows.append((label, ", ".join(event.grouped) + (
            "" if event.kind is EventKind.RESOLVED else f" ({event.key.check} opened first)")))
    if event.action:
        rows.append(("Action", _flat(event.action)))
    if event.tags:
        rows.append(("Tags", ", ".join(event.tags)))
    if event.runbook:
        rows.append(("Runbook", _flat(event.runbook)))
    rows.append(("Incident", event.incident))
    if event.ack_url:
        rows.append(("Acknowledge", event.ack_url))
    return tuple(rows)


def _started(event: AlertEvent) -> float | None:
    """When the problem began: its first bad sample, else its resolve less its duration."""
    if event.since is not None:
        return event.since
    if event.duration is not None:
        return event.at - event.duration
    return None


def _lasted(event: AlertEvent) -> float | None:
    """Resolved minus Started, both to the second as the message shows them, so the three
    lines always agree (the duration from the first FIRING is shorter than that)."""
    started = _started(event)
    if started is None:
        return None
    return max(0, math.floor(event.at) - math.floor(started))


def _metric_text(key: AlertKey) -> str:
    """``used_percent{mount=/var}``; empty for a check's own status."""
    if key.metric == STATUS_METRIC and not key.labels:
        return ""
    return key.series


def _flat(text: str) -> str:
    """Text on one line, runs of whitespace collapsed."""
    return " ".join(text.split())


def _fit(head: str, detail: str, tail: str, limit: int = TITLE_MAX) -> str:
    """``head + detail + tail``, shortening the detail first, within ``limit`` characters."""
    full = f"{head}{detail}{tail}"
    if len(full) <= limit:
        return full.rstrip(": ")
    room = limit - len(head) - len(tail)
    if room >= len(_ELLIPSIS) + 8:
        return head + truncate(detail, room) + tail
    # The head alone is too long (long label values): shorten it, keep the tail.
    return truncate(f"{head}{detail}", limit - len(tail)) + tail


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary when one is near, with ``...``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    space = cut.rfind(" ")
    mid_word = not text[len(cut)].isspace()
    if mid_word and space >= len(cut) * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + _ELLIPSIS


def cut_at_word(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at the last word that fits, with ``...``
    (mid-word only when a single word is longer than the limit)."""
    if len(text) <= limit:
        return text
    room = text[: limit - len(_ELLIPSIS)]
    if not text[len(room)].isspace() and " " in room:
        room = room.rsplit(" ", 1)[0]
    return room.rstrip(" ,;:-(") + _ELLIPSIS


def iso_utc(ts: float) -> str:
    """``2024-05-01T12:00:00Z``: the second ``ts`` falls in (never rounded up)."""
    return datetime.fromtimestamp(math.floor(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_test(host: str, now: float) -> Message:
    """The message ``watchkeeper notify test`` sends to check a channel end to end."""
    return Message(
        title=truncate(f"TEST {host}: watchkeeper notifications work", TITLE_MAX),
        body="\n".join([
            "Severity: INFO (test)",
            f"Host: {host}",
            f"Sent: {iso_utc(now)}",
            "This is a test notification; nothing is wrong.",
        ]),
        severity=Status.OK,
        kind=EventKind.FIRING,
        facts=(("Status", "INFO (test): nothing is wrong"), ("Host", host),
               ("Sent", iso_utc(now))),
    )


def test_message(host: str, now: float | None = None) -> Message:
    """``render_test`` at ``now`` (the current time when not given), for the CLI."""
    import time

    return render_test(host, time.time() if now is None else now)


# Not a test, despite its name: keep pytest from collecting it where it is imported.
test_message.__test__ = False  # type: ignore[attr-defined]
