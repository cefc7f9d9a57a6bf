"""``watchkeeper ping NAME``: tell the running agent that a job started, succeeded or failed.

For crontab lines: ``backup.sh && watchkeeper ping backup`` or, wrapping the job,
``watchkeeper ping backup -- backup.sh ARGS`` (pings start, runs it, pings its exit code,
and exits with it). The ping goes to the agent's HTTP listener: ``--url`` (with the token
from ``$WATCHKEEPER_TOKEN`` or ``--token-file`` when the listener wants one), so any local
user's cron job can ping without reading the agent's config; without ``--url``, the
``agent.listen`` and ``agent.token`` of the config. Exit 0 when the agent took the ping, 1
with a short message when it did not.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import quote

from agent import __version__
from agent.errors import WatchkeeperError

DEFAULT_TIMEOUT = 10.0
#: The longest --timeout (a day): past it the socket layer cannot represent the wait.
MAX_TIMEOUT = 86400.0


def split_command(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``ping NAME [options] -- CMD ARGS``: (what argparse reads, the command to wrap).

    Everything after the first ``--`` of a ``ping`` command line is the command, options
    included, so argparse never sees it.
    """
    args = list(argv)
    if args and args[0] == "ping" and "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1:]
    return args, []


def _name(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("the heartbeat name is empty")
    return value


def _exit_code(value: str) -> int:
    if not value.isdigit() or int(value) > 255:
        raise argparse.ArgumentTypeError(f"expected an exit code 0-255, got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"expected a number of seconds up to "
                                         f"{MAX_TIMEOUT:g}, got {value!r}")
    return seconds


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    """Add the ``ping`` subcommand to the ``watchkeeper`` parser."""
    p = sub.add_parser(
        "ping", parents=[common], help="report a heartbeat to the running agent",
        usage="watchkeeper ping [options] NAME [--start | --fail | --exit-code N]\n"
              "       watchkeeper ping [options] NAME -- COMMAND [ARGS...]",
        description="Tell the running agent that the job of heartbeat check NAME succeeded "
                    "(or started, or failed). With '-- COMMAND', run COMMAND, pinging "
                    "start before and its exit code after, and exit with its exit code.")
    p.add_argument("name", type=_name, metavar="NAME", help="the heartbeat check's name")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--start", action="store_true", help="the job is starting")
    what.add_argument("--fail", action="store_true", help="the job failed")
    what.add_argument("--exit-code", type=_exit_code, metavar="N",
                      help="the job ended with exit code N (0 is a success)")
    p.add_argument("--url", metavar="URL",
                   help="the agent's listener, e.g. http://127.0.0.1:9110 (no config needed)")
    p.add_argument("--token-file", metavar="FILE",
                   help="with --url: read the listener's token from FILE (default: "
                        "$WATCHKEEPER_TOKEN)")
    p.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"give up after this long (default {DEFAULT_TIMEOUT:g})")


class PingError(WatchkeeperError):
    """The agent did not take the ping; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class PingTarget:
    """The agent's listener as a client reaches it. ``token`` never appears in messages."""

    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def send_ping(target: PingTarget, name: str, action: str = "") -> None:
    """POST ``/ping/NAME[/action]``; raises PingError unless the agent answers 200."""
    import http.client

    conn = http.client.HTTPConnection(target.host, target.port, timeout=target.timeout)
    headers = {"Content-Length": "0", "User-Agent": f"watchkeeper/{__version__}"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    path = f"/ping/{quote(name, safe='')}" + (f"/{action}" if action else "")
    try:
        conn.request("POST", path, headers=headers)
        response = conn.getresponse()
        body = response.read(4096).decode("utf-8", errors="replace")
    except ConnectionRefusedError:
        raise PingError(f"cannot reach the agent at {target}: connection refused") from None
    except TimeoutError:
        raise PingError(f"cannot reach the agent at {target}: no answer within "
                        f"{target.timeout:g}s") from None
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        raise PingError(f"cannot reach the agent at {target}: {why}") from None
    except http.client.HTTPException as exc:
        raise PingError(f"the agent at {target} gave no proper answer "
                        f"({type(exc).__name__})") from None
    finally:
        conn.close()
    if response.status == 200:
        return
    if response.status == 404 and "no heartbeat check named" in body:
        raise PingError(f"the agent at {target} has no heartbeat check named {name!r}")
    if response.status == 401:
        given = "no token was given" if not target.token else "the token given is not agent.token"
        raise PingError(f"the agent at {target} refused the request: {given} of the running "
                        "agent (--token-file, $WATCHKEEPER_TOKEN or the config)")
    line = body.strip().splitlines()[0] if body.strip() else response.reason
    raise PingError(f"the agent at {target} answered {response.status}: {line}")


def target_from_url(url: str, token: str | None, timeout: float) -> PingTarget:
    """The listener named by ``--url`` (``http://HOST:PORT``, or just ``HOST:PORT``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        port = parts.port
        hostname = parts.hostname
    except ValueError:  # "http://[::1" (an unclosed IPv6 address), a port past 65535
        raise PingError(f"--url: expected the listener as http://HOST:PORT, got {url!r}") \
            from None
    if parts.scheme != "http" or not hostname or port is None \
            or parts.path not in ("", "/"):
        raise PingError(f"--url: expected the listener as http://HOST:PORT, got {url!r}")
    return PingTarget(hostname, port, token, timeout)


def _header_safe(token: str) -> bool:
    """Whether ``token`` can be sent in an ``Authorization`` header."""
    return all(" " <= ch <= "~" or "\xa0" <= ch <= "\xff" for ch in token)


def _target(args: argparse.Namespace) -> PingTarget | str:
    """Where to ping, or why there is nowhere (a message)."""
    import os

    from agent import logs
    from agent.listen_address import parse_listen

    if args.url:
        token = os.environ.get("WATCHKEEPER_TOKEN") or None
        if args.token_file:
            try:
                with open(args.token_file, encoding="utf-8") as fh:
                    token = fh.read(4096).strip() or None
            except OSError as exc:
                return f"cannot read --token-file {args.token_file}: {exc.strerror or exc}"
            except UnicodeDecodeError:
                return f"--token-file {args.token_file} is not UTF-8 text"
        if token and not _header_safe(token):
            return ("the token (--token-file or $WATCHKEEPER_TOKEN) holds a line break, a "
                    "control character or a character outside Latin-1; it cannot be sent")
        if token:
            logs.scrubber.add([token])
        return target_from_url(args.url, token, args.timeout)
    from agent.config.full import load

    config = load(args)
    if not config.agent.listen:
        return (f"the agent's HTTP listener is off; set agent.listen (like 127.0.0.1:9110) "
                f"in {args.config} and restart the agent")
    address = parse_listen(config.agent.listen)
    return PingTarget(address.connect_host, address.port, config.agent.token, args.timeout)


def run(args: argparse.Namespace) -> int:
    """The ``ping`` subcommand."""
    found = _target(args)
    if isinstance(found, str):
        print(f"watchkeeper: {found}", file=sys.stderr)
        return 1
    target = found
    command: list[str] = getattr(args, "wrapped", None) or []
    if command:
        if args.start or args.fail or args.exit_code is not None:
            print("watchkeeper: --start, --fail and --exit-code do not go with a command to "
                  "run (its exit code is sent)", file=sys.stderr)
            return 2
        return run_wrapped(target, args.name, command)
    action = ("start" if args.start else "fail" if args.fail
              else str(args.exit_code) if args.exit_code is not None else "")
    try:
        send_ping(target, args.name, action)
    except PingError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return 1
    return 0


def run_wrapped(target: PingTarget, name: str, command: Sequence[str]) -> int:
    """Ping start, run ``command``, ping its exit code; return that exit code.

    The command runs even when the start ping fails. When it succeeded but the final ping
    could not be sent, the result is 1, so that cron reports the problem.
    """
    try:
        send_ping(target, name, "start")
    except PingError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
    code = _call(command)
    try:
        send_ping(target, name, str(min(code, 255)))
    except PingError as exc:
        print(f"watchkeeper: {exc}", file=sys.stderr)
        return code or 1
    return code


def _call(command: Sequence[str]) -> int:
    """Run the command with our stdio; its exit code (128 + N when killed by signal N).

    Ctrl-C reaches the command through the terminal; SIGTERM and SIGHUP sent to us are
    passed on, so its exit code is still reported.
    """
    try:
        proc = subprocess.Popen(list(command))
    except FileNotFoundError:
        print(f"watchkeeper: command not found: {command[0]}", file=sys.stderr)
        return 127
    except OSError as exc:
        print(f"watchkeeper: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 126

    def forward(signum: int, _frame: FrameType | None) -> None:
        proc.send_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig, handler in (
        (signal.SIGINT, signal.SIG_IGN), (signal.SIGTERM, forward), (signal.SIGHUP, forward))}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code if code >= 0 else 128 - code
