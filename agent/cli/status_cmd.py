"""``watchkeeper status``: is an agent running on this state, and what it knows.

The running agent is asked on its control socket (who it is, since when, its open alerts
and queued notifications as of now). When none answers, the store is read read-only and
the output says so, with the time the state was saved.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from agent.config.models import Config
from agent.reports import AgentInfo, QueuedRow, StatusReport
from agent.timefmt import utc_minute
from agent.units import format_duration

if TYPE_CHECKING:
    from agent.control import Request
    from agent.store import Store

_M = TypeVar("_M", bound=BaseModel)


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add the ``status`` subcommand to the ``watchkeeper`` parser."""
    p = sub.add_parser(
        "status", parents=[common], help="show the agent, its open alerts and queued "
                                         "notifications",
        description="Whether an agent runs on this state directory, its open alerts, "
                    "active silences and the notifications waiting to be delivered (with "
                    "why they wait). Asks the running agent; else reads the saved state.")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    """The ``status`` subcommand: 0 when shown (also when no agent runs)."""
    from agent.config.full import load
    from agent.control import StatusRequest

    config = load(args)
    found = ask_or_read(config, StatusRequest(), StatusReport, stored_status(config))
    now = time.time()
    if found is None:
        if args.json:
            print(json.dumps({"agent": {"running": False, "why": "agent not running"},
                              "source": None,
                              "state_dir": str(config.agent.state_dir), "alerts": [],
                              "queued_notifications": 0, "queue": [],
                              "dead_notifications": 0, "silences": []}, indent=2))
        else:
            print(f"agent not running; no state yet in {config.agent.state_dir} "
                  "(has the agent run?)")
        return 0
    report, absent = found
    if args.json:
        print(json.dumps(as_json(report, config, now, absent), indent=2))
    else:
        print("\n".join(render(report, config, now, absent)))
    return 0


def stored_status(config: Config) -> Callable[[Store], StatusReport]:
    """How the status is read from the store when no agent answers."""
    from agent.reports import status_report

    def read(store: Store) -> StatusReport:
        return status_report(config, store.open_alerts(), store, now=time.time(), agent=None,
                             as_of=store.written_at())

    return read


def ask_or_read(config: Config, request: Request, answer: type[_M],
                read: Callable[[Store], _M]) -> tuple[_M, str] | None:
    """The running agent's answer to ``request``, else ``read`` of the store opened
    read-only, with why the agent did not answer ("" when it did); None when there is no
    state yet. Shared by ``status`` and ``baseline``."""
    from agent.control import AgentNotRunning, ControlError, ask
    from agent.state_lock import holder_pid
    from agent.store import Store

    state_dir = config.agent.state_dir
    try:
        return ask(state_dir, request, answer), ""
    except AgentNotRunning as exc:
        # The state lock tells an agent that runs without its socket (removed by hand).
        pid = holder_pid(state_dir)
        absent = "agent not running" if pid is None else \
            f"agent (pid {pid}) not answering ({exc})"
    except ControlError as exc:
        absent = f"agent not answering ({exc})"
    store = Store.open_readonly(state_dir)
    if store is None:
        return None
    with store:
        return read(store), absent


# -- text ------------------------------------------------------------------------------


def agent_line(agent: AgentInfo | None, as_of: float, now: float,
               absent: str = "agent not running") -> str:
    """Who answered, or why none did and how old the saved state is (shared with
    ``baseline``)."""
    if agent is None:
        return f"{absent}; state as saved at {_at(as_of, now)}"
    reload = _at(agent.last_reload, now) if agent.last_reload is not None else "never"
    if agent.reload_problems:
        reload += " FAILED, still on the config before it"
    return (f"agent running: pid {agent.pid}, since {_at(agent.started_at, now)}; "
            f"config {agent.config_file}; last reload {reload}")


def render(report: StatusReport, config: Config, now: float,
           absent: str = "agent not running") -> list[str]:
    """The status as lines of text."""
    from agent.cli.silence_view import status_lines

    out = [agent_line(report.agent, report.as_of, now, absent)]
    if report.agent is not None:
        out.extend(f"  {problem}" for problem in report.agent.reload_problems)
        out.extend(f"PROBLEM: {problem}" for problem in report.agent.problems)
        out.append(f"state as of {age(now - report.as_of)} ago")
    alerts = [a.state for a in report.alerts]
    if not alerts:
        out.append("no open alerts")
    else:
        w = max(len(a.key.as_text()) for a in alerts)
        out.append(f"{'ALERT':<{w}}  {'STATE':<8}  {'SEVERITY':<8}  {'FOR':<8}  WHY")
        for a in alerts:
            since = age(now - a.problem_since) if a.problem_since else "-"
            out.append(f"{a.key.as_text():<{w}}  {a.phase.value:<8}  {a.severity.value:<8}  "
                       f"{since:<8}  {a.why}")
    silences = [s.silence(config.agent.host) for s in report.silences]
    out.extend(status_lines(silences, alerts, now))
    if report.queued_total:
        n = report.queued_total
        out.append(f"{n} notification{'s' if n != 1 else ''} waiting to be delivered:")
        out.extend(line for q in report.queued for line in _queued(q, now))
        if n > len(report.queued):
            out.append(f"  ... and {n - len(report.queued)} more")
    if report.dead:
        out.append(f"{report.dead} notification{'s' if report.dead != 1 else ''} given up "
                   "(undeliverable; see the agent's log)")
    return out


def _queued(q: QueuedRow, now: float) -> list[str]:
    target = f"{q.channel}[{q.target}]" + (f" {q.url}" if q.url else " (no longer configured)")
    head = f"  #{q.id} {q.kind.value.upper()} {q.alert} to {target}"
    if q.attempts == 0:
        return [head, f"    not tried yet; due {_due(q.next_attempt_at, now)}"]
    tries = f"{q.attempts} attempt{'s' if q.attempts != 1 else ''}"
    last = f" {age(now - q.last_attempt_at)} ago" if q.last_attempt_at else ""
    return [head, f"    {tries}, last{last}: {q.last_error or 'failed'}",
            f"    next retry {_due(q.next_attempt_at, now)}"]


def _due(at: float, now: float) -> str:
    if at <= now:
        return "now"
    return f"in {age(at - now)} ({utc_minute(at)})"


def _at(t: float, now: float) -> str:
    """``2024-05-01 12:00 UTC (5m ago)``."""
    return f"{utc_minute(t)} ({age(now - t)} ago)"


def age(seconds: float) -> str:
    """How long ago (or until), as a person reads it: ``45s``, ``13m``, ``3h 5m``; whole
    seconds, and whole minutes from a minute up (shared with ``baseline``)."""
    size = max(0.0, seconds)
    return format_duration(round(size) if size < 60 else round(size / 60) * 60)


# -- JSON ------------------------------------------------------------------------------


def as_json(report: StatusReport, config: Config, now: float,
            absent: str = "agent not running") -> dict[str, Any]:
    """The status as JSON-ready values (keys of earlier versions kept)."""
    from agent.cli.silence_view import silence_json

    alerts = [a.state for a in report.alerts]
    agent: dict[str, Any] = {"running": report.agent is not None}
    if report.agent is not None:
        agent.update(report.agent.model_dump(mode="json"))
    else:
        agent["why"] = absent
    return {
        "agent": agent,
        "source": "agent" if report.agent is not None else "store",
        "as_of": report.as_of, "age_seconds": round(max(0.0, now - report.as_of), 3),
        "alerts": [{"key": a.key.as_text(), "phase": a.phase.value,
                    "severity": a.severity.value, "since": a.problem_since, "why": a.why}
                   for a in alerts],
        "queued_notifications": report.queued_total,
        "queue": [q.model_dump(mode="json") for q in report.queued],
        "dead_notifications": report.dead,
        "silences": [silence_json(s.silence(config.agent.host), alerts, now)
                     for s in report.silences],
    }
