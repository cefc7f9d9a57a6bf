"""``watchkeeper status``: is an agent running on this state, and what it knows.

The running agent is asked on its control socket (who it is, since when, its open alerts
and queued notifications as of now). When none answers, the store is read read-only and
the output says so, with the time the state was saved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from agent.config.models import Config
from agent.notify.message import iso_utc
from agent.reports import AgentInfo, QueuedRow, StatusReport
from agent.units import format_duration


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

    config = load(args)
    report = gather(config, time.time())
    now = time.time()
    if report is None:
        if args.json:
            print(json.dumps({"agent": {"running": False}, "state": None}, indent=2))
        else:
            print(f"agent not running; no state yet in {config.agent.state_dir} "
                  "(has the agent run?)")
        return 0
    if args.json:
        print(json.dumps(as_json(report, config, now), indent=2))
    else:
        print("\n".join(render(report, config, now)))
    return 0


def gather(config: Config, now: float) -> StatusReport | None:
    """The running agent's report, else the store's; None when there is no state yet."""
    from agent.control import AgentNotRunning, ControlError, StatusRequest, ask
    from agent.reports import status_report
    from agent.store import Store

    state_dir = config.agent.state_dir
    try:
        return ask(state_dir, StatusRequest(), StatusReport)
    except AgentNotRunning:
        pass
    except ControlError as exc:
        print(f"watchkeeper: warning: {exc}; showing the state as saved", file=sys.stderr)
    store = Store.open_readonly(state_dir)
    if store is None:
        return None
    with store:
        return status_report(config, store.open_alerts(), store, now=now, agent=None,
                             as_of=store.written_at())


# -- text ------------------------------------------------------------------------------


def agent_line(agent: AgentInfo | None, as_of: float, now: float) -> str:
    """Who answered and how old what follows is (shared with ``baseline``)."""
    if agent is None:
        return f"agent not running; state as saved at {_at(as_of, now)}"
    reload = _at(agent.last_reload, now) if agent.last_reload is not None else "never"
    return (f"agent running: pid {agent.pid}, since {_at(agent.started_at, now)}; "
            f"config {agent.config_file}; last reload {reload}")


def render(report: StatusReport, config: Config, now: float) -> list[str]:
    """The status as lines of text."""
    from agent.cli.silence_view import status_lines

    out = [agent_line(report.agent, report.as_of, now)]
    if report.agent is not None:
        out.append(f"state as of {format_duration(now - report.as_of)} ago")
    alerts = [a.state for a in report.alerts]
    if not alerts:
        out.append("no open alerts")
    else:
        w = max(len(a.key.as_text()) for a in alerts)
        out.append(f"{'ALERT':<{w}}  {'STATE':<8}  {'SEVERITY':<8}  {'FOR':<8}  WHY")
        for a in alerts:
            age = format_duration(now - a.problem_since) if a.problem_since else "-"
            out.append(f"{a.key.as_text():<{w}}  {a.phase.value:<8}  {a.severity.value:<8}  "
                       f"{age:<8}  {a.why}")
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
    last = f" {format_duration(now - q.last_attempt_at)} ago" if q.last_attempt_at else ""
    return [head, f"    {tries}, last{last}: {q.last_error or 'failed'}",
            f"    next retry {_due(q.next_attempt_at, now)}"]


def _due(at: float, now: float) -> str:
    if at <= now:
        return "now"
    return f"in {format_duration(at - now)} ({iso_utc(at)})"


def _at(t: float, now: float) -> str:
    """``2024-05-01T12:00:00Z (5m ago)``."""
    return f"{iso_utc(t)} ({format_duration(now - t)} ago)"


# -- JSON ------------------------------------------------------------------------------


def as_json(report: StatusReport, config: Config, now: float) -> dict[str, Any]:
    """The status as JSON-ready values (keys of earlier versions kept)."""
    from agent.cli.silence_view import silence_json

    alerts = [a.state for a in report.alerts]
    agent: dict[str, Any] = {"running": report.agent is not None}
    if report.agent is not None:
        agent.update(report.agent.model_dump(mode="json"))
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
