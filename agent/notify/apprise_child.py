"""The Apprise child process: ``python -m agent.notify.apprise_child``.

Reads one JSON request on stdin (see ``agent.notify.protocol``), sends or validates, and
answers one JSON line per result on stdout. Apprise's own log lines are captured and
returned, masked, as the error texts; nothing it logs reaches stderr. The agent never
imports this module: Apprise and its plugins cost more memory than the agent may use.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import apprise
from apprise.logger import LOGGER_NAME

from agent.notify import log_target
from agent.notify.masking import scrub
from agent.notify.protocol import (
    Mode,
    Request,
    SendResult,
    WireMessage,
    decode_request,
    send_line,
    validate_line,
)

_ERROR_MAX = 500


class _Capture(logging.Handler):
    """Collects Apprise's warnings and errors for the operation in progress."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a malformed log call must not break sending
            self.lines.append(str(record.msg))

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


def install_capture() -> _Capture:
    """Route Apprise's logger into a capture (and nowhere else: it may quote secrets)."""
    capture = _Capture()
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        logger.removeHandler(h)
    logger.addHandler(capture)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    return capture


def _error_text(lines: list[str], fallback: str, url: str) -> str:
    seen: list[str] = []
    for raw in lines:
        line = " ".join(raw.split())
        if line and line not in seen:
            seen.append(line)
    return scrub("; ".join(seen) or fallback, [url])[:_ERROR_MAX]


def load(url: str, capture: _Capture,
         storage: str | None = None) -> tuple[Any | None, str | None]:
    """Apprise's plugin for ``url``, or None and why (masked).

    With ``storage``, the plugin keeps what it must remember between notifications (the
    Opsgenie alert it opened, to close it on resolve) in that folder.
    """
    capture.take()
    asset = (apprise.AppriseAsset(storage_path=storage, storage_mode="flush")
             if storage else None)
    try:
        plugin = apprise.Apprise.instantiate(url, asset=asset)
    except Exception as exc:  # instantiate should not raise; be sure anyway
        return None, _error_text([str(exc)], "invalid notification URL", url)
    if plugin is None:
        return None, _error_text(capture.take(), "not a notification URL Apprise accepts", url)
    capture.take()
    return plugin, None


def validate(urls: tuple[str, ...] | list[str], capture: _Capture) -> list[str | None]:
    """For each URL, None when Apprise accepts it, else why not (masked)."""
    return [load(url, capture)[1] for url in urls]


def deliver(plugin: Any, url: str, message: WireMessage, capture: _Capture) -> SendResult:
    """Send one message through one loaded plugin."""
    capture.take()
    log_target.current_label = message.label
    try:
        ok = plugin.notify(body=message.body, title=message.title,
                           notify_type=message.notify_type)
    except apprise.exception.AppriseImproperlyConfigured as exc:
        return SendResult(False, _error_text([*capture.take(), str(exc)], "", url), True)
    except Exception as exc:
        return SendResult(False, _error_text([*capture.take(), f"{type(exc).__name__}: {exc}"],
                                             "", url))
    finally:
        log_target.current_label = None
    if ok:
        capture.take()
        return SendResult(True)
    return SendResult(False, _error_text(capture.take(), "the service did not accept the "
                                         "notification", url))


def serve(request: Request, emit: Callable[[str], None]) -> None:
    """Carry out a request, emitting each answer line as soon as it is known."""
    capture = install_capture()
    if request.mode is Mode.VALIDATE:
        for i, url in enumerate(request.targets):
            emit(validate_line(i, load(url, capture)[1]))
        return
    for t, url in enumerate(request.targets):
        plugin, error = load(url, capture, request.storage)
        for m, message in enumerate(request.messages):
            if plugin is None:
                result = SendResult(False, error, permanent=True)
            else:
                result = deliver(plugin, url, message, capture)
            emit(send_line(m, t, result))


def main() -> int:
    """Entry point of the child process."""
    out = sys.stdout
    # Anything a plugin prints must not corrupt the answer stream.
    sys.stdout = sys.stderr
    data = sys.stdin.buffer.read()
    try:
        request = decode_request(data)
    except ValueError as exc:
        sys.stderr.write(f"watchkeeper notify child: bad request: {exc}\n")
        return 2

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    serve(request, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
