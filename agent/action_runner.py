"""Running a check's ``on_firing`` / ``on_resolved`` command (see ``agent.incidents.actions``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent.clock import Clock
from agent.incidents.actions import OUTPUT_KEPT, Outcome
from agent.programs import PLAIN_ENV, run_program


async def run_action(command: Sequence[str], timeout: float, env: Mapping[str, str],
                     clock: Clock) -> Outcome:
    """Run ``command`` (no shell) with the alert in its environment; never raises."""
    started, mono = clock.now(), clock.monotonic()
    try:
        done = await run_program(command, timeout=timeout, cap=OUTPUT_KEPT,
                                 env={**PLAIN_ENV, **env}, err_cap=OUTPUT_KEPT)
    except OSError as exc:
        return Outcome(tuple(command), started, clock.monotonic() - mono, None,
                       error=exc.strerror or str(exc))
    output = (done.stdout + b"\n" + done.stderr).decode("utf-8", "replace").strip()
    return Outcome(tuple(command), started, clock.monotonic() - mono, done.returncode,
                   output[-OUTPUT_KEPT:], timed_out=done.timed_out)
