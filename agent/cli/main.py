"""Argument parsing and the top-level error handling of the ``watchkeeper`` command.

Exit codes:

=======  ===============================================  ===============================
code     ``check``                                        every other command
=======  ===============================================  ===============================
0        every check OK                                   done
1        the worst status is WARNING                      failed (a send, a ping, ...)
2        the worst status is CRITICAL                     bad usage, bad config or
                                                          unusable state
3        the worst status is UNKNOWN; or bad usage, bad   -
         config or unusable state (as Nagios plugins do)
130      interrupted (Ctrl-C)                             interrupted (Ctrl-C)
141      -                                                its output was closed (``| head``)
=======  ===============================================  ===============================

``ping -- CMD`` exits with CMD's own exit code. Each command's usage-error code is in
``COMMANDS``; a command raises UsageError (or ConfigError) and this module exits with it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from agent import __version__, logs
from agent.cli import commands, ping
from agent.cli.usage import UsageError
from agent.errors import ConfigError, WatchkeeperError
from agent.model import Status
from agent.units import format_count

DEFAULT_CONFIG = "/etc/watchkeeper/config.yaml"
log = logging.getLogger("watchkeeper.cli")


#: The exit code of bad usage, bad config or unusable state (``check``'s is 3).
USAGE_EXIT = 2


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A word of a dash and a digit is a value, never an option (no option is
        # spelled so): "--for -1h" reaches --for, whose check says what is wrong with
        # it, rather than "expected one argument". argparse knows only "-1" and "-1.5".
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> None:  # type: ignore[override]
        # Handled like the other usage errors: one short line, the command's exit code.
        raise UsageError(f"{message} (see 'watchkeeper --help')")


#: The modules that add commands of their own (imported only when needed: ``run`` never
#: needs them, and the agent keeps what it imports for its whole life).
_COMMAND_MODULES = ("status_cmd", "status_page_cmd", "replay_cmd", "baseline_cmd",
                    "silence_cmd", "incidents_cmd", "ack_cmd", "maintenance_cmd",
                    "uptime_cmd")


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"agent.cli.{name}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full command-line grammar (``command`` "run": only what that needs)."""
    common = _Parser(add_help=False)
    common.add_argument("-c", "--config", type=Path,
                        default=Path(os.environ.get("WATCHKEEPER_CONFIG", DEFAULT_CONFIG)),
                        help=f"config file (default: $WATCHKEEPER_CONFIG or {DEFAULT_CONFIG})")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="log level (default: from the config, else info)")

    p = _Parser(prog="watchkeeper", description="A small monitoring and alerting agent.")
    p.add_argument("--version", action="version", version=f"watchkeeper {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser,
                           metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="run the agent until stopped")
    c = sub.add_parser("check", parents=[common],
                       help="run every check once and print the results")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.add_argument("names", nargs="*", metavar="CHECK", help="only these checks")
    sub.add_parser("validate", parents=[common], help="validate the config file")
    n = sub.add_parser("notify", help="notification tools")
    nsub = n.add_subparsers(dest="notify_command", required=True, parser_class=_Parser,
                            metavar="SUBCOMMAND")
    nt = nsub.add_parser("test", parents=[common], help="send a test message to each channel")
    nt.add_argument("--channel", action="append", help="only this channel (repeatable)")
    ping.add_parser(sub, common)
    if command != "run":
        for name in _COMMAND_MODULES:
            module = _module(name)
            if name == "replay_cmd":
                module.add_parser(sub)
            else:
                module.add_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # "ping NAME -- CMD ARGS": the command after "--" is kept away from argparse.
    argv, wrapped = ping.split_command(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(_command_name(argv))
    usage_exit = command.usage_exit if command is not None else USAGE_EXIT
    try:
        args = build_parser(_command_name(argv)).parse_args(argv)
    except UsageError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return usage_exit
    args.wrapped = wrapped
    problem = _not_text(args)
    if problem is not None:
        print(f"watchkeeper: {problem} (see 'watchkeeper --help')", file=sys.stderr)
        return usage_exit
    logs.setup(getattr(args, "log_level", None) or "info")
    try:
        return COMMANDS[args.command].run(args)
    except ValueError as exc:
        # A request to the agent its model refuses (pydantic's ValidationError is a
        # ValueError; pydantic is loaded by then): one line per problem, never the
        # input, never a traceback.
        from pydantic import ValidationError
        if not isinstance(exc, ValidationError):
            raise
        for error in exc.errors(include_input=False):
            where = ".".join(str(part) for part in error.get("loc", ())) or "argument"
            print(f"watchkeeper: {where}: {error.get('msg', 'invalid')}", file=sys.stderr)
        return usage_exit
    except ConfigError as exc:
        print(f"watchkeeper: invalid configuration "
              f"({format_count(len(exc.issues), 'problem')}):", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {logs.scrubber.scrub(str(issue))}", file=sys.stderr)
        return usage_exit
    except WatchkeeperError as exc:  # UsageError, StateError, ...
        print(f"watchkeeper: {logs.scrubber.scrub(str(exc))}", file=sys.stderr)
        return usage_exit
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`watchkeeper replay ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: what runs it (a function, or ``module:function`` of ``agent.cli``
    imported when it runs), and its exit code for bad usage, config or state."""

    target: Callable[[argparse.Namespace], int] | str
    usage_exit: int = USAGE_EXIT

    def run(self, args: argparse.Namespace) -> int:
        target = self.target
        if isinstance(target, str):
            module, _, func = target.partition(":")
            target = getattr(_module(module), func)
        result: int = target(args)
        return result


COMMANDS: dict[str, Command] = {
    "run": Command(commands.run),
    # A Nagios plugin that cannot check says UNKNOWN (2 would read as CRITICAL).
    "check": Command(commands.check, usage_exit=Status.UNKNOWN.exit_code),
    "validate": Command(commands.validate),
    "status": Command("status_cmd:run"),
    "status-page": Command("status_page_cmd:run"),
    "notify": Command(commands.notify_test),
    "replay": Command("replay_cmd:run"),
    "ping": Command(ping.run),
    "baseline": Command("baseline_cmd:run"),
    "silence": Command("silence_cmd:run"),
    "incidents": Command("incidents_cmd:run_list"),
    "incident": Command("incidents_cmd:run_show"),
    "report": Command("incidents_cmd:run_report"),
    "ack": Command("ack_cmd:run"),
    "unack": Command("ack_cmd:run"),
    "maintenance": Command("maintenance_cmd:run"),
    "uptime": Command("uptime_cmd:run"),
}


#: Arguments that name files: any bytes the file system holds are fine there.
_PATH_ARGS = frozenset({"config", "out", "csv", "token_file"})


def _not_text(args: argparse.Namespace) -> str | None:
    """Why a text argument (a name, a reason, an id) cannot be used: it holds bytes that
    are not UTF-8 (the shell passed them as they were); None when all are fine."""
    for key, value in vars(args).items():
        if key in _PATH_ARGS or key == "wrapped":
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    name = key.replace("_", "-")
                    return f"argument {name}: {text.encode('utf-8', 'surrogateescape')!r} " \
                           "is not UTF-8 text"
    return None


def _command_name(argv: Sequence[str]) -> str:
    """The subcommand named on the command line ("" when none): the first word that is
    not an option (the top level has no options taking a value)."""
    return next((a for a in argv if not a.startswith("-")), "")


if __name__ == "__main__":
    raise SystemExit(main())
