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
(``PATH`` and ``LANG`` plus ``env:``), in its own process group: on timeout, on output past
``max_output`` and after it exits, the whole group is killed so no child lingers.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult, Sample, Status
from agent.units import format_bytes, format_duration, parse_size
from checks.command.perfdata import PerfDatum, parse_plugin_output
from checks.shared.subproc import PLAIN_ENV, exited, kill_group, reap

DEFAULT_MAX_OUTPUT = 64 * 1024
_SHELL_CHARS = frozenset("|&;<>()$`*?[]{}~\n")
_EXPANDED_IN_DOUBLE_QUOTES = frozenset("$`")
_SUMMARY_LIMIT = 500
_CHUNK = 65536


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


class _Reader:
    """Reads a pipe up to ``cap`` bytes; what was read stays here even if reading stops.

    Past the cap it stops (``drain``: keeps reading and dropping, so the writer never
    blocks) and sets ``overflow``.
    """

    def __init__(self, stream: asyncio.StreamReader | None, cap: int, drain: bool) -> None:
        self.data = bytearray()
        self.overflow = False
        self._stream = stream
        self._cap = cap
        self._drain = drain

    async def read(self) -> None:
        if self._stream is None:
            return
        while chunk := await self._stream.read(_CHUNK):
            room = self._cap - len(self.data)
            if len(chunk) > room:
                self.data.extend(chunk[:max(room, 0)])
                self.overflow = True
                if not self._drain:
                    return
            else:
                self.data.extend(chunk)


def _budget(timeout: float) -> float:
    """Time the command gets: a little under the agent's timeout, so the check reports it."""
    return max(timeout - min(0.5, timeout * 0.1), 0.01)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _clip(text: str) -> str:
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 3] + "..."


def _decode(data: bytes) -> tuple[str, bool]:
    """Text and whether it had to be decoded with replacement characters."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def interpret(returncode: int, stdout: bytes, stderr: bytes
              ) -> tuple[CheckResult, tuple[PerfDatum, ...]]:
    """Turn a finished plugin's exit code and output into a result (pure)."""
    if b"\0" in stdout:
        return CheckResult.unknown("command printed binary output, not plugin text"), ()
    text, replaced = _decode(stdout)
    err_text, _ = _decode(stderr)
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
    summary = _clip(head) + (f" [{'; '.join(notes)}]" if notes else "")

    status = Status.worst([Status.from_exit_code(returncode),
                           *(d.status() for d in parsed.perfdata)])
    samples = tuple(Sample(d.metric, d.value) for d in parsed.perfdata)
    error = _clip(err_text.strip()) if status is Status.UNKNOWN and err_text.strip() else None
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
        self._proc: asyncio.subprocess.Process | None = None
        #: close() was called during this run (perhaps while its process was starting).
        self._closing = False

    async def run(self, ctx: CheckContext) -> CheckResult:
        opts = self.options
        argv = opts.argv()
        self.last_perfdata = ()
        self._closing = False
        if opts.cwd is not None and not opts.cwd.is_dir():
            return CheckResult.unknown(f"working directory not found: {opts.cwd}")
        env = {**PLAIN_ENV, **opts.env}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, cwd=opts.cwd,
                start_new_session=True)
        except FileNotFoundError:
            return CheckResult.unknown(f"command not found: {argv[0]}")
        except PermissionError:
            return CheckResult.unknown(f"permission denied: {argv[0]}")
        except OSError as exc:
            return CheckResult.unknown(f"cannot run {argv[0]}: {exc.strerror or exc}")
        self._proc = proc
        if self._closing:  # close() came while the process was being started
            kill_group(proc)
        try:
            result = await self._collect(proc, opts.max_output, ctx.timeout)
        finally:
            await reap(proc)
            self._proc = None
        if result.status is Status.UNKNOWN and result.error is not None:
            ctx.logger.debug("check %s: %s", self.name, result.summary)
        return result

    async def _collect(self, proc: asyncio.subprocess.Process, cap: int,
                       timeout: float) -> CheckResult:
        out, err = _Reader(proc.stdout, cap, drain=False), _Reader(proc.stderr, cap, drain=True)
        out_task = asyncio.create_task(out.read())
        err_task = asyncio.create_task(err.read())
        exit_task = asyncio.create_task(exited(proc))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _budget(timeout)
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    await asyncio.wait({exit_task, out_task},
                                       return_when=asyncio.FIRST_COMPLETED)
                    if not out.overflow:
                        await exit_task
            except TimeoutError:
                return CheckResult.unknown(
                    f"command timed out after {format_duration(timeout)} (killed)")
            if not out.overflow:
                # Exited: let the pipes reach EOF, unless a child still holds them open.
                grace = min(0.5, max(deadline - loop.time(), 0.0))
                await asyncio.wait({out_task, err_task}, timeout=grace)
            if out.overflow:
                return CheckResult.unknown(
                    f"command output exceeded {format_bytes(cap)} (stopped)")
            result, perfdata = interpret(exit_task.result(), bytes(out.data), bytes(err.data))
            self.last_perfdata = perfdata
            return result
        finally:
            for task in (out_task, err_task, exit_task):
                task.cancel()

    async def close(self) -> None:
        """Kill the command if a run is still going."""
        self._closing = True
        if self._proc is not None:
            kill_group(self._proc)
