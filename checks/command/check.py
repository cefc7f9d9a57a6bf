"""The ``command`` check: run any Nagios-compatible plugin and read its verdict.

The exit code gives the status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), the first line of
output (before ``|``) the summary, and the perfdata the metrics (see ``checks.command.perfdata``).

Perfdata ranges: a well-behaved plugin's exit code already includes its own warn/crit
ranges. The check still evaluates every perfdata range itself and folds the result into
its status (the worst of the exit code and the ranges) and names each metric outside its
range in the summary, so a value in the plugin's critical range is never reported as OK.
Config thresholds on the metrics are judged later by the agent, as for any check. The
parsed perfdata of the last run (values and ranges, in metric units) is kept on the check
as ``last_perfdata``.

The command runs without a shell unless ``shell: true``, with a minimal environment
(``PATH`` and ``LANG`` plus ``env:``, and the run's mark ``WATCHKEEPER_RUN``), in its own
process group, and dies with the agent: on timeout, on output past ``max_output`` (read to
the end and dropped) and after it exits, the whole group is killed so no child lingers;
what it moved out of its group (``setsid``) is found by the run's mark, killed where
possible and named in the summary (``agent.strays``).
"""

from __future__ import annotations

import dataclasses
import shlex
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult, Sample, Status
from agent.notify.masking import MIN_TEXT_SECRET, CredentialScrubber, fixed_secrets, looks_secret
from agent.programs import PLAIN_ENV, Finished, kill_group, run_program
from agent.strays import describe
from agent.textsafe import shortened, visible
from agent.units import format_bytes, format_duration, parse_size
from checks.command.perfdata import PerfDatum, parse_plugin_output

DEFAULT_MAX_OUTPUT = 64 * 1024
_SHELL_CHARS = frozenset("|&;<>()$`*?[]{}~\n")
_EXPANDED_IN_DOUBLE_QUOTES = frozenset("$`")
_SUMMARY_LIMIT = 500
#: An ``env`` variable whose name holds one of these carries a secret (``DBPASS``,
#: ``API_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``PGPASSWORD``, ``MYSQL_PWD``, ``AUTH``...).
_SECRET_NAME_PARTS = ("PASS", "PWD", "TOKEN", "SECRET", "KEY", "AUTH", "CRED", "BEARER",
                      "COOKIE", "SESSION", "PRIVATE", "SIGNATURE", "DSN", "JWT", "OTP")


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """The values of ``env`` a plugin's output must never show: that of every variable
    named like a secret, any value that looks like a token, and the password of a URL or
    DSN. Not every value: ``PGHOST=db1`` or ``WARN=80`` are what a summary is about.
    Values shorter than four characters are left alone, as in the log scrubber: hiding
    ``80`` would garble every number in the output."""
    found: list[str] = []
    for name, value in env.items():
        if any(part in name.upper() for part in _SECRET_NAME_PARTS) or looks_secret(value):
            found.append(value)
        found.extend(fixed_secrets(value))
    return [v for v in dict.fromkeys(found) if len(v) >= MIN_TEXT_SECRET]


def _uses_shell_syntax(command: str) -> bool:
    """Whether an unquoted (or double-quoted ``$``/backtick) shell character occurs."""
    quote: str | None = None
    escaped = False
    for ch in command:
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
        elif ((quote is None and ch in _SHELL_CHARS)
              or (quote == '"' and ch in _EXPANDED_IN_DOUBLE_QUOTES)):
            return True
    return False


def _size(value: Any) -> Any:
    return int(parse_size(value)) if isinstance(value, str) else value


class CommandOptions(CheckOptions):
    """Options of a ``command`` check.

    ``command`` is an argument list (``[/usr/lib/nagios/plugins/check_load, -w, "5,4,3"]``);
    a plain string is split like a shell would split words but is never given to a shell,
    unless ``shell: true`` (then it must be one string, run by ``/bin/sh -c``).
    """

    # Validation errors must not echo the input: ``env`` may hold secrets.
    model_config = ConfigDict(hide_input_in_errors=True)

    command: tuple[str, ...] | str
    shell: bool = False
    #: Extra environment variables (on top of PATH and LANG). May hold secrets: not shown.
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    cwd: Path | None = None
    #: Most bytes of output read; more means the plugin is broken (UNKNOWN).
    max_output: Annotated[int, BeforeValidator(_size), Field(gt=0)] = DEFAULT_MAX_OUTPUT

    @model_validator(mode="after")
    def _check_command(self) -> CommandOptions:
        if self.shell:
            if not isinstance(self.command, str):
                raise ValueError("with shell: true, give the command as one string")
            if not self.command.strip():
                raise ValueError("command is empty")
            return self
        if isinstance(self.command, str):
            if _uses_shell_syntax(self.command):
                raise ValueError("command uses shell syntax: give a list of arguments, "
                                 "or set shell: true")
            try:
                words = shlex.split(self.command)
            except ValueError as exc:
                raise ValueError(f"cannot split command into arguments: {exc}") from None
        else:
            words = list(self.command)
        if not words or not words[0]:
            raise ValueError("command is empty")
        return self

    def argv(self) -> list[str]:
        """The argument vector to execute."""
        if self.shell:
            return ["/bin/sh", "-c", str(self.command)]
        if isinstance(self.command, str):
            return shlex.split(self.command)
        return list(self.command)


def _budget(timeout: float) -> float:
    """Time the command gets: a little under the agent's timeout, so the check reports it."""
    return max(timeout - min(0.5, timeout * 0.1), 0.01)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _clip(text: str) -> str:
    return shortened(text, _SUMMARY_LIMIT)


def _decode(data: bytes) -> tuple[str, bool]:
    """Text and whether it had to be decoded with replacement characters."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def interpret(returncode: int, stdout: bytes, stderr: bytes,
              scrub: Callable[[str], str] = str
              ) -> tuple[CheckResult, tuple[PerfDatum, ...]]:
    """Turn a finished plugin's exit code and output into a result (pure); ``scrub``
    hides secrets from the output before it is read and shortened."""
    if b"\0" in stdout:
        return CheckResult.unknown("command printed binary output, not plugin text"), ()
    text, replaced = _decode(stdout)
    err_text, _ = _decode(stderr)
    text, err_text = scrub(text), scrub(err_text)
    parsed = parse_plugin_output(text)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return CheckResult.unknown(f"command killed by {name}"), ()

    head = parsed.summary
    if not head:
        stderr_line = _last_line(err_text)
        head = f"no output; stderr: {stderr_line}" if stderr_line else "no output"
    if returncode not in (0, 1, 2, 3):
        head = f"exit code {returncode}: {head}"
    violations = [v for d in parsed.perfdata if (v := d.violation()) is not None]
    notes = violations[:3]
    if len(violations) > 3:
        notes.append(f"{len(violations) - 3} more outside their ranges")
    if parsed.problems:
        more = f" (+{len(parsed.problems) - 1} more)" if len(parsed.problems) > 1 else ""
        notes.append(f"ignored {parsed.problems[0]}{more}")
    if replaced:
        notes.append("output was not valid UTF-8")
    # The head is clipped, never the notes: a metric outside its range stays visible.
    # Control characters are escaped: the plugin's text goes to terminals, logs and
    # notifications.
    summary = _clip(visible(head)) + (f" [{visible('; '.join(notes))}]" if notes else "")

    status = Status.worst([Status.from_exit_code(returncode),
                           *(d.status() for d in parsed.perfdata)])
    samples = tuple(Sample(d.metric, d.value) for d in parsed.perfdata)
    error = (_clip("\n".join(visible(line) for line in err_text.strip().splitlines()))
             if status is Status.UNKNOWN and err_text.strip() else None)
    return CheckResult(status, summary, samples, error), parsed.perfdata


class CommandCheck(Check[CommandOptions]):
    """Runs a Nagios-compatible plugin; exit code -> status, perfdata -> metrics."""

    kind = "command"
    Options = CommandOptions
    metrics: ClassVar[frozenset[str]] = frozenset()  # named by the plugin's perfdata

    def __init__(self, name: str, options: CommandOptions) -> None:
        super().__init__(name, options)
        #: The perfdata (values and plugin ranges, in metric units) of the last run.
        self.last_perfdata: tuple[PerfDatum, ...] = ()
        #: The running command's pid (its process group), while a run is going.
        self._pid: int | None = None
        #: close() was called during this run (perhaps while its process was starting).
        self._closing = False
        #: Hides the secrets of ``env`` from what the plugin prints (see ``env_secrets``).
        self.scrub = CredentialScrubber(env_secrets(options.env))

    async def run(self, ctx: CheckContext) -> CheckResult:
        opts = self.options
        argv = opts.argv()
        self.last_perfdata = ()
        self._closing = False
        if opts.cwd is not None and not opts.cwd.is_dir():
            return CheckResult.unknown(f"working directory not found: {opts.cwd}")
        try:
            done = await run_program(argv, timeout=_budget(ctx.timeout), cap=opts.max_output,
                                     err_cap=opts.max_output, env={**PLAIN_ENV, **opts.env},
                                     cwd=opts.cwd, started=self._started)
        except FileNotFoundError:
            return CheckResult.unknown(f"command not found: {argv[0]}")
        except PermissionError:
            return CheckResult.unknown(f"permission denied: {argv[0]}")
        except OSError as exc:
            return CheckResult.unknown(f"cannot run {argv[0]}: {exc.strerror or exc}")
        finally:
            self._pid = None
        result = self._judge(done, ctx.timeout)
        if done.strays:
            ctx.logger.warning("check %s: %s", self.name,
                               self.scrub(describe(list(done.strays))))
        if result.status is Status.UNKNOWN and result.error is not None:
            ctx.logger.debug("check %s: %s", self.name, result.summary)
        return result

    def _started(self, pid: int) -> None:
        self._pid = pid
        if self._closing:  # close() came while the process was being started
            kill_group(pid)

    def _judge(self, done: Finished, timeout: float) -> CheckResult:
        if done.timed_out:
            result = CheckResult.unknown(
                f"command timed out after {format_duration(timeout)} (killed)")
        elif done.overflow:
            result = CheckResult.unknown(
                f"command output exceeded {format_bytes(self.options.max_output)} (stopped)")
        elif done.returncode is None:
            result = CheckResult.unknown("command stopped before it finished")
        else:
            result, self.last_perfdata = interpret(done.returncode, done.stdout, done.stderr,
                                                   self.scrub)
        if not done.strays:
            return result
        note = self.scrub(describe(list(done.strays)))
        return dataclasses.replace(result, summary=f"{result.summary} [{note}]")

    async def close(self) -> None:
        """Kill the command if a run is still going."""
        self._closing = True
        if self._pid is not None:
            kill_group(self._pid)
