"""``watchkeeper ack INCIDENT [--comment TEXT] [--by NAME]`` and ``unack INCIDENT``.

Asked of the running agent on its control socket: acknowledging stops the reminders of
that incident (a resolve ends it) and tells the channels its alerts go to. With no agent
running there is nothing to stop, and the command says so.
"""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from agent.cli.usage import one_line
from agent.errors import StateError


def _who() -> str:
    """Who runs the command: the person behind sudo, else the login name."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add ``ack`` and ``unack`` to the ``watchkeeper`` parser."""
    a = sub.add_parser("ack", parents=[common], help="say you are on an incident",
                       description="Acknowledge an open incident: its reminders stop until "
                                   "it resolves, and its channels are told who is on it.")
    a.add_argument("incident", metavar="INCIDENT",
                   help="the incident's id, or a unique start of it (see 'incidents')")
    a.add_argument("--comment", default="", type=one_line,
                   help="what you are doing about it")
    a.add_argument("--by", default=None, type=one_line, help="who (default: you)")
    u = sub.add_parser("unack", parents=[common], help="take an acknowledgement back")
    u.add_argument("incident", metavar="INCIDENT", help="the incident's id or its start")
    u.add_argument("--by", default=None, type=one_line, help="who (default: you)")


def run(args: argparse.Namespace) -> int:
    """``ack`` / ``unack``: 0 when done, 2 when refused or no agent runs."""
    from agent.config.full import load
    from agent.control import Acked, AckRequest, AgentNotRunning, UnackRequest, ask

    config = load(args)
    by = (args.by or _who()).strip() or "someone"
    undo = args.command == "unack"
    request = (UnackRequest(incident=args.incident, by=by) if undo else
               AckRequest(incident=args.incident, by=by, comment=args.comment.strip()))
    try:
        answer = ask(config.agent.state_dir, request, Acked)
    except AgentNotRunning:
        raise StateError("no agent is running on "
                         f"{config.agent.state_dir}: there is nothing to acknowledge "
                         "(an incident is acknowledged in the running agent)") from None
    if undo:
        print(f"incident {answer.incident} ({answer.alert}) is no longer acknowledged; "
              "its reminders go on")
    else:
        print(f"incident {answer.incident} ({answer.alert}) acknowledged by "
              f"{answer.acked_by}; its reminders stop until it resolves")
    return 0
