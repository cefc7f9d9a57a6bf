"""Sending through Apprise in a short-lived child process (the agent never imports Apprise).

Whatever the child does (crash, hang, print garbage), these functions return one result
per (message, target) and never raise: a result the child did not give is a retryable
failure. Error texts are masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import agent
from agent.notify.masking import fallback_form, mask_text, scrub
from agent.notify.message import Message
from agent.notify.protocol import (
    SendResult,
    UrlVerdict,
    decode_send_line,
    decode_validate_line,
    encode_send,
    encode_validate,
)

CHILD_MODULE = "agent.notify.apprise_child"
#: Where the ``agent`` package lives, so the child finds it whatever the working directory.
_CODE_ROOT = str(Path(agent.__file__).resolve().parent.parent)


def child_command() -> list[str]:
    """The child's command line (no URLs: those travel on stdin)."""
    return [sys.executable, "-m", CHILD_MODULE]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _CODE_ROOT + (os.pathsep + path if path else "")
    return env


async def run_child(request: bytes, timeout: float,
                    on_line: Callable[[bytes], bool]) -> str | None:
    """Run the child with ``request`` on stdin, passing each stdout line to ``on_line``.

    ``on_line`` returns whether the line was a readable answer. Returns None when the
    child finished cleanly, else why it did not (timeout, exit code, unreadable output).
    The child is killed on timeout and on cancellation; its stderr is the agent's.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *child_command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=_child_env(), start_new_session=True)
    except OSError as exc:
        return f"could not start the notification sender ({sys.executable}): {exc}"
    garbage = 0
    problem: str | None = None
    try:
        async with asyncio.timeout(timeout):
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(request)
                await proc.stdin.drain()
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the child died early; its exit code tells why
            async for line in proc.stdout:
                if line.strip() and not on_line(line):
                    garbage += 1
            code = await proc.wait()
        if code != 0:
            problem = f"notification sender exited with code {code}"
    except TimeoutError:
        problem = f"notification sender did not finish within {timeout:g}s"
    except ValueError:  # a line longer than the stream limit
        problem = "notification sender wrote an overlong line"
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            # Reap it even when the caller is being cancelled.
            await asyncio.shield(proc.wait())
    if garbage:
        noise = f"wrote {garbage} unreadable line(s)"
        problem = f"{problem} after it {noise}" if problem else f"notification sender {noise}"
    return problem


async def send_many(targets: Sequence[str], messages: Sequence[Message],
                    timeout: float, storage: str | None = None) -> list[list[SendResult]]:
    """Send every message to every target in one child; ``result[message][target]``.

    ``storage`` is the folder of Apprise's persistent store (see ``Request.storage``).
    """
    results: list[list[SendResult | None]] = [[None] * len(targets) for _ in messages]
    if not targets or not messages:
        return [[SendResult(False, "nothing to send") for _ in targets] for _ in messages]

    def on_line(line: bytes) -> bool:
        parsed = decode_send_line(line)
        if parsed is None:
            return False
        m, t, result = parsed
        if m >= len(messages) or t >= len(targets):
            return False
        results[m][t] = SendResult(result.ok, scrub(result.error, [targets[t]])
                                   if result.error else result.error, result.permanent)
        return True

    problem = await run_child(encode_send(targets, messages, storage), timeout, on_line)
    missing = SendResult(False, problem or "notification sender gave no answer")
    return [[r if r is not None else missing for r in row] for row in results]


async def send(targets: Sequence[str], message: Message, timeout: float) -> list[SendResult]:
    """Send one message to each target; one result per target, in order."""
    if not targets:
        return []
    return (await send_many(targets, [message], timeout))[0]


async def validate_urls(urls: Sequence[str], timeout: float = 60.0) -> list[UrlVerdict]:
    """Apprise's verdict on each URL (whether it accepts it, how to show it, which parts
    are secret), all asked of one child. A URL the child gave no answer for is refused
    with the reason, and shown in the fallback form."""
    if not urls:
        return []
    answers: list[UrlVerdict | None] = [None] * len(urls)

    def on_line(line: bytes) -> bool:
        parsed = decode_validate_line(line)
        if parsed is None or parsed[0] >= len(urls):
            return False
        i, verdict = parsed
        error = verdict.error
        if error is not None:  # masked by the child already; the raw URL never passes
            error = mask_text(error.replace(urls[i].strip(), verdict.form.shown),
                              verdict.form.secrets)
        answers[i] = UrlVerdict(error, verdict.form)
        return True

    problem = await run_child(encode_validate(urls), timeout, on_line)
    why = f"could not validate: {problem or 'no answer'}"
    return [a if a is not None else UrlVerdict(why, fallback_form(u))
            for a, u in zip(answers, urls, strict=True)]
