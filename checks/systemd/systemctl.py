"""Asking systemd through ``systemctl``: argv only (never a shell), with a deadline.

The program runner is injected (``Systemctl(runner=...)``), so the checks that use it are
tested with recorded output; the default runner starts the real binary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent.errors import CheckError
from agent.programs import run_capped

#: Exists exactly when systemd is the init system (what ``sd_booted()`` tests).
SYSTEMD_RUNTIME_DIR = Path("/run/systemd/system")

#: Most output kept from one systemctl call; more means something is badly wrong.
MAX_OUTPUT = 1024 * 1024

NOT_RUNNING = "systemd is not running on this host"

# Unit names: letters, digits and ":-_.\@" (systemd.unit(5)); a leading "-" would read as
# an option, so it is refused even though systemd would accept it after "--".
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]*")


def validate_unit_name(value: str) -> str:
    """The unit name unchanged, or ValueError saying what is wrong with it."""
    if not _UNIT_NAME.fullmatch(value) or len(value) > 255:
        raise ValueError(f"{value!r} is not a systemd unit name (like nginx.service)")
    return value


def systemd_booted() -> bool:
    """Whether systemd runs this host (``/run/systemd/system`` exists)."""
    return SYSTEMD_RUNTIME_DIR.is_dir()


class SystemdUnavailableError(CheckError):
    """systemd does not run here, or systemctl cannot be found: nothing to ask."""


class SystemctlError(CheckError):
    """systemctl ran but did not answer (non-zero exit, timeout, too much output)."""


class Runner(Protocol):
    """Runs ``argv`` and returns its standard output as text (raises CheckError)."""

    async def __call__(self, argv: Sequence[str], timeout: float) -> str: ...


async def run_program(argv: Sequence[str], timeout: float) -> str:
    """The real runner: start ``argv[0]`` and return what it printed.

    Raises SystemdUnavailableError when the binary is missing (or says systemd is not the init
    system) and SystemctlError for any other failure, each with a message for a user.
    """
    binary = argv[0]
    try:
        out = await run_capped(argv, timeout=timeout, cap=MAX_OUTPUT)
    except FileNotFoundError:
        raise SystemdUnavailableError(
            f"{binary} not found (is systemd installed? set the systemctl option to its path)"
        ) from None
    except PermissionError:
        raise SystemctlError(f"permission denied running {binary}") from None
    except TimeoutError as exc:
        raise SystemctlError(str(exc)) from None
    except OSError as exc:
        raise SystemctlError(f"cannot run {binary}: {exc.strerror or exc}") from None
    if out.capped:
        raise SystemctlError(f"{binary} printed more than {MAX_OUTPUT // 1024} KB")
    err = out.stderr.decode("utf-8", "replace")
    if out.returncode != 0:
        if "not been booted with systemd" in err:
            raise SystemdUnavailableError(NOT_RUNNING)
        detail = out.stderr_text or "no message"
        verb = next((a for a in argv[1:] if not a.startswith("-")), "")
        raise SystemctlError(
            f"{os.path.basename(binary)} {verb} failed (exit {out.returncode}): {detail}")
    return out.stdout.decode("utf-8", "replace")


@dataclass
class Systemctl:
    """How a check reaches systemd: which binary, which runner, how to tell systemd runs.

    ``booted`` is consulted first, so on a host without systemd every call raises
    SystemdUnavailableError("systemd is not running on this host") without starting anything.
    """

    binary: str = "systemctl"
    runner: Runner = run_program
    booted: Callable[[], bool] = field(default=systemd_booted)

    async def __call__(self, *args: str, timeout: float) -> str:
        """Run ``systemctl --no-pager ARGS...`` and return its output."""
        if not self.booted():
            raise SystemdUnavailableError(NOT_RUNNING)
        return await self.runner([self.binary, "--no-pager", *args], timeout)

    async def main_pid(self, unit: str, timeout: float) -> int:
        """The unit's main PID (0 when it has none: stopped, or not a service)."""
        text = (await self(
            "show", "-p", "MainPID", "--value", unit, timeout=timeout)).strip()
        if not text.isdigit():
            shown = text.splitlines()[0][:80] if text else "nothing"
            raise SystemctlError(f"systemctl show -p MainPID {unit} printed {shown!r}, "
                                  "not a process id")
        return int(text)


def call_budget(timeout: float) -> float:
    """How long one systemctl call may take: most of the check's timeout."""
    return max(timeout * 0.8, 0.1)
