"""``watchkeeper incidents``, ``incident show ID`` and ``report``: the incident log.

Read from the state database, opened read-only (what the agent wrote; an incident it is
still recording shows as it last wrote it).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from agent.cli.usage import UsageError
from agent.config.models import Config
from agent.incidents.figures import Figures, Spread, by_check
from agent.incidents.record import Incident
from agent.textsafe import visible
from agent.timefmt import utc_second
from agent.units import format_duration, parse_duration


def _since(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < seconds <= 100 * 365 * 86400:
        raise argparse.ArgumentTypeError(f"{value} is not a span of time to look back")
    return seconds


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add ``incidents``, ``incident`` and ``report`` to the ``watchkeeper`` parser."""
    p = sub.add_parser("incidents", parents=[common], help="list incidents",
                       description="List the incidents opened in a span of time.")
    p.add_argument("--since", type=_since, default=30 * 86400.0, metavar="SPAN",
                   help="how far back (default 30d)")
    p.add_argument("--check", metavar="NAME", help="only this check's")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    i = sub.add_parser("incident", help="one incident")
    isub = i.add_subparsers(dest="incident_command", required=True, parser_class=type(p),
                            metavar="SUBCOMMAND")
    show = isub.add_parser("show", parents=[common], help="an incident's timeline")
    show.add_argument("id", metavar="ID", help="the incident's id (or a unique start of it)")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    r = sub.add_parser("report", parents=[common],
                       help="incidents, time to detect, acknowledge and resolve",
                       description="Per check and in total: incidents, time to detect "
                                   "(first bad sample to first notification delivered), to "
                                   "acknowledge and to resolve (mean and 90th percentile), "
                                   "and the noise: bad samples vs notifications sent.")
    r.add_argument("--since", type=_since, default=30 * 86400.0, metavar="SPAN",
                   help="how far back (default 30d)")
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run_list(args: argparse.Namespace) -> int:
    """``incidents``: 0, also when there are none; 2 for a check that is neither
    configured nor named by a stored incident (one removed from the config keeps its
    log)."""
    from agent.config.full import load

    config = load(args)
    if args.check is not None and args.check not in {c.name for c in config.checks} \
            and not _read(config, lambda s: s.incidents(check=args.check, limit=1)):
        raise UsageError(f"no check is named {args.check!r} in {config.source}, and no "
                         "incident of one is stored")
    found = _read(config, lambda s: s.incidents(since=time.time() - args.since,
                                                check=args.check))
    if args.json:
        print(json.dumps({"incidents": [_summary(i) for i in found]}, indent=2))
    elif not found:
        print(f"no incidents in the last {format_duration(args.since)}")
    else:
        print("\n".join(table(found, time.time())))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """``incident show ID``: 0 when shown, 2 when there is no such incident."""
    from agent.config.full import load

    config = load(args)
    found = _read(config, lambda s: [i] if (i := s.incident(args.id)) else [])
    if not found:
        raise UsageError(f"no incident {args.id!r} (see 'watchkeeper incidents')")
    incident = found[0]
    if args.json:
        print(incident.model_dump_json(indent=2))
    else:
        print("\n".join(timeline(incident, time.time())))
    return 0


def run_report(args: argparse.Namespace) -> int:
    """``report``: 0, also when there is nothing to report."""
    from agent.config.full import load

    config = load(args)
    found = _read(config, lambda s: s.incidents(since=time.time() - args.since))
    rows = by_check(found)
    if args.json:
        print(json.dumps({"since": time.time() - args.since,
                          "checks": [f.model_dump() for f in rows[:-1]],
                          "total": rows[-1].model_dump()}, indent=2))
    else:
        print(f"incidents of the last {format_duration(args.since)}:")
        print("\n".join(report_table(rows)))
    return 0


def _read(config: Config, query: Any) -> list[Incident]:
    from agent.store import Store

    store = Store.open_readonly(config.agent.state_dir)
    if store is None:
        return []
    with store:
        result: list[Incident] = query(store)
        return result


# -- text ------------------------------------------------------------------------------


def _summary(i: Incident) -> dict[str, Any]:
    return i.model_dump(mode="json", exclude={"timeline"})


def _lasted(i: Incident, now: float) -> str:
    end = i.resolved_at if i.resolved_at is not None else now
    text = format_duration(max(end - i.first_bad_at, 0.0))
    return text if i.resolved_at is not None else f"{text}+"


def table(incidents: list[Incident], now: float) -> list[str]:
    """One line per incident, the newest last."""
    rows = [(i.id, i.key, i.worst.value.upper(), utc_second(i.opened_at), _lasted(i, now),
             str(i.notifications), "yes" if i.acked_at is not None else "-",
             "open" if i.open else "resolved") for i in incidents]
    head = ("ID", "ALERT", "WORST", "OPENED", "LASTED", "SENT", "ACK", "STATE")
    widths = [max(len(r[n]) for r in (head, *rows)) for n in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (head, *rows)]


def timeline(i: Incident, now: float) -> list[str]:
    """An incident's story, first bad sample to resolve."""
    out = [f"incident {i.id}: {i.key}",
           # Once OK, the reason is the last problem's: say so, not "now OK: CRIT ...".
           f"  worst {i.worst.value.upper()}, now {i.severity.value.upper()}"
           + (f": {i.why}" if i.severity.is_problem else f" (was: {i.why})"),
           f"  first bad sample {utc_second(i.first_bad_at)}; fired {utc_second(i.opened_at)}"]
    if i.first_notified_at is not None:
        out.append(f"  detected in {format_duration(i.first_notified_at - i.first_bad_at)} "
                   f"(first notification delivered {utc_second(i.first_notified_at)})")
    else:
        out.append("  no notification delivered" + (f" (held back: {i.held_by or 'silence'})"
                                                     if i.silenced else ""))
    if i.under is not None:
        out.append(f"  held under incident {i.under}")
    if i.related:
        out.append(f"  {len(i.related)} alert(s) held under it: {', '.join(i.related)}")
    if i.acked_at is not None:
        by = f" by {visible(i.acked_by)}" if i.acked_by else ""
        note = f": {visible(i.ack_comment)}" if i.ack_comment else ""
        out.append(f"  acknowledged{by} {utc_second(i.acked_at)}{note}")
    if i.resolved_at is not None:
        out.append(f"  resolved {utc_second(i.resolved_at)}, after {_lasted(i, now)}")
    else:
        out.append(f"  still open, for {_lasted(i, now)}")
    if i.runbook:
        out.append(f"  runbook: {i.runbook}")
    out.append(f"  {i.notifications} notification(s) sent for {i.breaches} bad sample(s)")
    out.append("timeline:")
    for n, entry in enumerate(i.timeline):
        if i.left_out and n == 20:
            out.append(f"  ... {i.left_out} entries left out ...")
        out.append(f"  {utc_second(entry.at)}  {entry.kind.value:<14} {visible(entry.text)}")
    return out


def _spread(s: Spread) -> str:
    if s.mean is None or s.p90 is None:
        return "-"
    return f"{format_duration(s.mean)} / {format_duration(s.p90)}"


def report_table(rows: list[Figures]) -> list[str]:
    """One line per check and one for all, with the means and 90th percentiles."""
    head = ("CHECK", "INCIDENTS", "OPEN", "DETECT mean/p90", "ACK mean/p90",
            "RESOLVE mean/p90", "SENT", "BAD SAMPLES", "SILENCED", "UNDER PARENT",
            "GROUPED", "FLAPPING")
    lines = [(f.check or "(all)", str(f.incidents), str(f.open), _spread(f.detect),
              _spread(f.acknowledge), _spread(f.resolve), str(f.notifications),
              str(f.breaches),
              str(f.held.get("silence", 0) + f.held.get("maintenance", 0)),
              str(f.held.get("dependency", 0)), str(f.held.get("grouping", 0)),
              str(f.flapping)) for f in rows]
    widths = [max(len(r[n]) for r in (head, *lines)) for n in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
           for r in (head, *lines)]
    total = rows[-1]
    if total.noise_reduction is not None:
        out.append(f"{total.breaches} bad samples became {total.notifications} "
                   f"notification(s): {total.noise_reduction:.1f} to 1")
    return out
