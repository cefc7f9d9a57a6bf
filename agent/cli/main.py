"""Argument parsing and the top-level error handling of the ``watchkeeper`` command.

Exit codes: 0 success; 2 bad usage, bad config or unusable state; ``check`` exits with the
worst status as Nagios plugins do (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agent import __version__, logs
from agent.cli import baseline_cmd, commands, ping, replay_cmd, silence_cmd, status_cmd
from agent.errors import ConfigError, WatchkeeperError

DEFAULT_CONFIG = "/etc/watchkeeper/config.yaml"
log = logging.getLogger("watchkeeper.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One short line and exit 2, like the other usage errors.
        self.exit(2, f"watchkeeper: {message} (see 'watchkeeper --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar."""
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
    status_cmd.add_parser(sub, common)
    n = sub.add_parser("notify", help="notification tools")
    nsub = n.add_subparsers(dest="notify_command", required=True, parser_class=_Parser,
                            metavar="SUBCOMMAND")
    nt = nsub.add_parser("test", parents=[common], help="send a test message to each channel")
    nt.add_argument("--channel", action="append", help="only this channel (repeatable)")
    replay_cmd.add_parser(sub)
    ping.add_parser(sub, common)
    baseline_cmd.add_parser(sub, common)
    silence_cmd.add_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # "ping NAME -- CMD ARGS": the command after "--" is kept away from argparse.
    argv, wrapped = ping.split_command(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.wrapped = wrapped
    logs.setup(getattr(args, "log_level", None) or "info")
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"watchkeeper: invalid configuration ({len(exc.issues)} "
              f"problem{'s' if len(exc.issues) != 1 else ''}):", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {logs.scrubber.scrub(str(issue))}", file=sys.stderr)
        return 2
    except WatchkeeperError as exc:
        print(f"watchkeeper: {logs.scrubber.scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`watchkeeper replay ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": commands.run,
    "check": commands.check,
    "validate": commands.validate,
    "status": status_cmd.run,
    "notify": commands.notify_test,
    "replay": replay_cmd.run,
    "ping": ping.run,
    "baseline": baseline_cmd.run,
    "silence": silence_cmd.run,
}


def _dispatch(args: argparse.Namespace) -> int:
    return _HANDLERS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
