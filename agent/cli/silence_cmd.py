"""``watchkeeper silence add|list|remove``: hold back alerts during maintenance.

``silence add db-* --for 2h --reason "reboot"`` asks the running agent (on its control
socket) to hold back the notifications of the matching alerts until the silence ends,
then announce those still firing; when no agent runs, it is written to the state
database, under the state lock, for the next start. MATCH is ``CHECK`` or
``CHECK/METRIC`` where CHECK may be a glob (``*`` is every check of this host).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from agent.alerting.silences import MAX_SILENCE, MIN_SILENCE, Silence
from agent.alerting.state import AlertState
from agent.cli.silence_view import silence_json, table, until_text
from agent.cli.usage import one_line
from agent.config.models import Config
from agent.units import parse_duration

_GLOB_CHARS = "*?["


def _duration(value: str) -> float:
    """``--for``: a duration between one minute and 30 days."""
    if value.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{value.strip()} is negative: a silence lasts "
                                         "from now for a while, like --for 2h")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < MIN_SILENCE:
        raise argparse.ArgumentTypeError(f"{value} is too short: a silence lasts at least "
                                         "1 minute")
    if seconds > MAX_SILENCE:
        raise argparse.ArgumentTypeError(f"{value} is too long: a silence lasts at most "
                                         "30 days (add another one when it ends)")
    return seconds


def _silence_id(value: str) -> int:
    text = value.strip().removeprefix("#")
    # Ids are SQLite integers: one past 2**63 - 1 names no silence, and cannot be asked.
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"expected a silence id like 3, got {value!r}")
    return int(text)


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add the ``silence`` subcommand (with ``add``, ``list``, ``remove``) to the parser."""
    p = sub.add_parser(
        "silence", help="hold back the alerts of some checks for a while",
        description="Hold back the notifications of matching alerts for a while (during "
                    "maintenance, say). Alerts still firing when the silence ends are "
                    "announced then; an alert announced before the silence began still "
                    "gets its resolve.")
    ssub = p.add_subparsers(dest="silence_command", required=True, parser_class=type(p),
                            metavar="SUBCOMMAND")
    a = ssub.add_parser(
        "add", parents=[common], help="silence the alerts of matching checks",
        description="Silence the alerts of MATCH: CHECK or CHECK/METRIC, where CHECK may be "
                    "a glob (db-*; * is every check of this host) and METRIC is exact.")
    a.add_argument("match", metavar="MATCH", help="CHECK or CHECK/METRIC (CHECK may be a glob)")
    a.add_argument("--for", dest="duration", type=_duration, required=True, metavar="DURATION",
                   help="how long, like 30m, 2h or 1d (1 minute to 30 days)")
    a.add_argument("--reason", default="", type=one_line, metavar="TEXT",
                   help="why, on one line (shown in list and logs)")
    ls = ssub.add_parser("list", parents=[common], help="show the active silences")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rm = ssub.add_parser("remove", parents=[common], help="end a silence now")
    rm.add_argument("id", type=_silence_id, metavar="ID", help="the silence's id (see list)")


def parse_match(text: str, check_names: Sequence[str]) -> tuple[str, str | None]:
    """``CHECK`` or ``CHECK/METRIC`` as (check glob, metric or None); ValueError when
    neither.

    The metric is what follows the last ``/``, unless the whole text is a check's name.
    """
    text = text.strip()
    if not text:
        raise ValueError("MATCH is empty: give CHECK or CHECK/METRIC (CHECK may be a glob "
                       "like db-*)")
    if text in check_names or "/" not in text:
        return text, None
    check, metric = text.rsplit("/", 1)
    if not check or not metric:
        raise ValueError(f"expected CHECK or CHECK/METRIC, got {text!r}")
    if any(c in metric for c in _GLOB_CHARS):
        raise ValueError(f"METRIC is matched exactly (only CHECK may be a glob), got {metric!r}")
    if "{" in metric:
        raise ValueError(f"a silence covers every series of a metric; give METRIC without "
                       f"labels, got {metric!r}")
    return check, metric


def match_warnings(check: str, metric: str | None, config: Config) -> list[str]:
    """Why the silence would hold back nothing with the current config (empty when it
    would)."""
    matched = [c for c in config.checks if fnmatchcase(c.name, check)]
    if not matched:
        known = ", ".join(c.name for c in config.checks) or "none"
        return [f"no configured check matches {check!r} (checks: {known}); the silence is "
                "kept for a check added later"]
    if metric is None or metric == "status":
        return []
    metrics = sorted({"status"} | {m for c in matched for m in c.thresholds})
    if metric not in metrics:
        return [f"no check matching {check!r} has thresholds for metric {metric!r} (they "
                f"have: {', '.join(metrics)})"]
    return []


def run(args: argparse.Namespace) -> int:
    """The ``silence`` subcommand: 0 when done, 2 for bad input."""
    from agent.config.full import load

    config = load(args)
    if args.silence_command == "add":
        return _add(args, config)
    if args.silence_command == "list":
        return _list(args, config)
    return _remove(args, config)


def _add(args: argparse.Namespace, config: Config) -> int:
    from agent.control import AgentNotRunning, SilenceAdded, SilenceAddRequest, ask
    from agent.store.offline import offline_store

    try:
        check, metric = parse_match(args.match, [c.name for c in config.checks])
    except ValueError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return 2
    for warning in match_warnings(check, metric, config):
        print(f"watchkeeper: warning: {warning}", file=sys.stderr)
    reason = args.reason.strip()
    try:
        added = ask(config.agent.state_dir, SilenceAddRequest(
            check=check, metric=metric, duration=args.duration, reason=reason), SilenceAdded)
        silence_id, ends_at, now = added.id, added.ends_at, added.starts_at
    except AgentNotRunning:
        now = time.time()
        ends_at = now + args.duration
        with offline_store(config.agent.state_dir) as store:
            silence_id = store.add_silence(check, metric, now, ends_at, reason=reason)
    match = check + (f"/{metric}" if metric else "")
    print(f"silence #{silence_id} added: {match} until {until_text(ends_at, now)}")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    silences, alerts = _read(config)
    now = time.time()
    if args.json:
        print(json.dumps({"silences": [silence_json(s, alerts, now) for s in silences]},
                         indent=2))
    elif not silences:
        print("no active silences")
    else:
        print("\n".join(table(silences, alerts, now)))
    return 0


def _remove(args: argparse.Namespace, config: Config) -> int:
    from agent.control import AgentNotRunning, SilenceRemoved, SilenceRemoveRequest, ask
    from agent.store import DB_NAME
    from agent.store.offline import offline_store

    running = True
    try:
        removed = ask(config.agent.state_dir, SilenceRemoveRequest(id=args.id),
                      SilenceRemoved).removed
    except AgentNotRunning:
        running = removed = False
        if (config.agent.state_dir / DB_NAME).exists():
            with offline_store(config.agent.state_dir) as store:
                removed = store.remove_silence(args.id)
    if not removed:
        print(f"watchkeeper: no silence #{args.id} (see 'watchkeeper silence list')",
              file=sys.stderr)
        return 2
    then = ("the agent announces the alerts it held back that still fire" if running else
            "the agent announces the alerts it held back that still fire when it starts")
    print(f"silence #{args.id} removed; {then}")
    return 0


def _read(config: Config) -> tuple[list[Silence], list[AlertState]]:
    """The active silences and the open alerts: the running agent's, else as stored
    (none when the agent never ran)."""
    from agent.cli.status_cmd import ask_or_read, stored_status
    from agent.control import StatusRequest
    from agent.reports import StatusReport

    found = ask_or_read(config, StatusRequest(), StatusReport, stored_status(config))
    if found is None:
        return [], []
    report = found[0]
    return ([s.silence(config.agent.host) for s in report.silences],
            [a.state for a in report.alerts])
