"""The Apprise child process: ``python -m agent.notify.apprise_child``.

Reads JSON requests on stdin, one a line (see ``agent.notify.protocol``), sends or
validates each in a thread of its own, and answers one JSON line per result on stdout.
It stays up for the next request (Apprise is imported once, not once per notification)
and exits at the end of its input, or after ``WATCHKEEPER_SENDER_IDLE`` seconds without a
request (a backstop: the agent closes its input when it has nothing more to send). Apprise's
own log lines are captured and returned, masked, as the error texts; nothing it logs
reaches stderr, and neither does a traceback (it could quote a URL). The agent never
imports this module: Apprise and its plugins cost more memory than the agent may use.

Validation answers, per URL, whether Apprise accepts it and its ``UrlForm``: which parts
are secret by Apprise's own account. For a URL it accepts, that is what its plugin hides
in ``url(privacy=True)`` compared with ``url()``; for one it refuses (there is no plugin
to ask) the tokens the plugin's URL template marks private, read from what its
``parse_url`` makes of the URL; for an unknown scheme, the agent's fallback.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import select
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import unquote

import apprise
from apprise.apprise import N_MGR
from apprise.logger import LOGGER_NAME

from agent.notify import log_target
from agent.notify.masking import UrlForm, fallback_form, form_with, mask_text, scrub
from agent.notify.plugin_send import send_as_family
from agent.notify.protocol import (
    Mode,
    Request,
    SendResult,
    UrlVerdict,
    WireMessage,
    decode_request,
    done_line,
    request_id_of,
    send_line,
    validate_line,
)

_ERROR_MAX = 500
#: Requests answered at once (each blocks a thread while its service answers).
WORKERS = 8
IDLE_ENV = "WATCHKEEPER_SENDER_IDLE"
#: The longest request line read; a longer one is refused, not buffered without end.
MAX_REQUEST = 16 * 1024 * 1024
#: The log:// target reads its label from a module global: one such send at a time.
_LOG_LABEL = threading.Lock()
#: Apprise loads its plugins on first use: one thread at a time asks for one.
_LOADING = threading.Lock()


class _Capture(logging.Handler):
    """Collects Apprise's warnings and errors for the operation in progress, per thread
    (Apprise logs from the thread that sends)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    @property
    def lines(self) -> list[str]:
        lines: list[str] | None = getattr(self._local, "lines", None)
        if lines is None:
            lines = self._local.lines = []
        return lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # a malformed log call must not break sending
            self.lines.append(str(record.msg))

    def take(self) -> list[str]:
        lines = self.lines
        self._local.lines = []
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
        with _LOADING:
            plugin = apprise.Apprise.instantiate(url, asset=asset)
    except Exception as exc:  # instantiate should not raise; be sure anyway
        return None, _error_text([str(exc)], "invalid notification URL", url)
    if plugin is None:
        return None, _error_text(capture.take(), "not a notification URL Apprise accepts", url)
    capture.take()
    return plugin, None


_QUOTED_URL = re.compile(r":?\s*[A-Za-z][A-Za-z0-9+.\-]*://\S*")
#: What separates the parts of a URL (kept as tokens, so both forms line up).
_PARTS = re.compile(r"([/:@?&=])")


def private_parts(plain: str, private: str) -> list[str]:
    """The parts of ``plain`` (a plugin's ``url()``) that ``private`` (its
    ``url(privacy=True)``) hides: each hidden run of parts whole, and each part of it."""
    a, b = _PARTS.split(unquote(plain)), _PARTS.split(unquote(private))
    found: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            run = a[i1:i2]
            found.append("".join(run))
            found.extend(t for t in run if t and not _PARTS.fullmatch(t))
    return list(dict.fromkeys(found))


def _template_private(url: str) -> list[str] | None:
    """The values of the tokens the scheme's URL template marks private, as its
    ``parse_url`` reads them from ``url``; None when Apprise cannot read it at all."""
    schema = url.partition("://")[0].lower()
    if schema not in N_MGR:
        return None
    cls = N_MGR[schema]
    try:
        results = cls.parse_url(url)
    except Exception:  # a plugin's parser refusing odd input is not our problem
        return None
    if not results:
        return None
    names: set[str] = {"password"}
    for table in (getattr(cls, "template_tokens", {}), getattr(cls, "template_args", {})):
        for key, spec in table.items():
            if isinstance(spec, dict) and spec.get("private"):
                names.update(n for n in (key, spec.get("map_to"), spec.get("alias_of"))
                             if isinstance(n, str))
    found: list[str] = []
    for name in names:
        value = results.get(name)
        values = value if isinstance(value, list | tuple | set) else [value]
        found.extend(v for v in values if isinstance(v, str) and v)
    return found


def url_form(url: str, plugin: Any | None) -> UrlForm:
    """How ``url`` may be shown and which of its parts are secret, by Apprise's account
    (``plugin``: Apprise's instance for it; None when Apprise refused the URL)."""
    if plugin is not None:
        try:
            return form_with(url, private_parts(plugin.url(), plugin.url(privacy=True)))
        except Exception:  # a plugin that cannot print itself: be safe, not precise
            return fallback_form(url)
    found = _template_private(url)
    if found is None:
        return fallback_form(url)
    # Refused URLs may be refused because a token sits where the template expects
    # something else; whatever looks like a token is hidden as well.
    return form_with(url, [*found, *fallback_form(url).secrets])


def check_url(url: str, capture: _Capture) -> UrlVerdict:
    """Whether Apprise accepts ``url`` (the error masked by its form), and its form."""
    plugin, error = load(url, capture)
    form = url_form(url, plugin)
    if error is not None:
        # The answer is shown next to the URL's own form: Apprise's copies of the URL
        # (in its own, differently masked spelling) only add noise.
        error = _QUOTED_URL.sub("", error).strip(" ;:") or "Apprise does not accept it"
        error = mask_text(error, form.secrets)
    return UrlVerdict(error, form)


def deliver(plugin: Any, url: str, message: WireMessage, capture: _Capture) -> SendResult:
    """Send one message through one loaded plugin."""
    capture.take()
    labelled = url.partition("://")[0].lower() == log_target.SCHEME
    if labelled:
        _LOG_LABEL.acquire()
        log_target.current_label = message.label
    try:
        ok = send_as_family(plugin, url, message)
    except apprise.exception.AppriseImproperlyConfigured as exc:
        return SendResult(False, _error_text([*capture.take(), str(exc)], "", url), True)
    except Exception as exc:
        return SendResult(False, _error_text([*capture.take(), f"{type(exc).__name__}: {exc}"],
                                             "", url))
    finally:
        if labelled:
            log_target.current_label = None
            _LOG_LABEL.release()
    if ok:
        capture.take()
        return SendResult(True)
    return SendResult(False, _error_text(capture.take(), "the service did not accept the "
                                         "notification", url))


def serve(request: Request, emit: Callable[[str], None], capture: _Capture) -> None:
    """Carry out a request, emitting each answer line as soon as it is known."""
    rid = request.id
    if request.mode is Mode.VALIDATE:
        for i, url in enumerate(request.targets):
            emit(validate_line(i, check_url(url, capture), rid))
        return
    for t, url in enumerate(request.targets):
        plugin, error = load(url, capture, request.storage)
        for m, message in enumerate(request.messages):
            if plugin is None:
                result = SendResult(False, error, permanent=True)
            else:
                result = deliver(plugin, url, message, capture)
            emit(send_line(m, t, result, rid))


class _Answers:
    """The child's stdout, shared by the request threads: whole lines only."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def emit(self, line: str) -> None:
        with self._lock:
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError, OSError):
                # Nobody reads the answers any more: the agent is gone.
                os._exit(0)


def _handle(data: bytes, answers: _Answers, capture: _Capture) -> bool:
    """Carry out one request line; False when it could not be read."""
    try:
        request = decode_request(data)
    except ValueError as exc:
        sys.stderr.write(f"watchkeeper notify child: bad request: {exc}\n")
        rid = request_id_of(data)
        if rid is not None:
            answers.emit(done_line(rid, "the notification sender could not read the request"))
        return False
    try:
        serve(request, answers.emit, capture)
        answers.emit(done_line(request.id))
    except Exception as exc:  # a bug must cost this request, never the others
        answers.emit(done_line(request.id, f"the notification sender failed: "
                                           f"{type(exc).__name__}"))
    return True


def _quiet_excepthook(et: type[BaseException], e: BaseException,
                      tb: TracebackType | None) -> None:
    # A traceback could quote a URL with its secrets: the type of the failure is enough.
    sys.stderr.write(f"watchkeeper notify child: {et.__name__}\n")


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    _quiet_excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def _idle_limit() -> float | None:
    try:
        value = float(os.environ.get(IDLE_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _lines(fd: int, idle: float | None, busy: Callable[[], bool]) -> Any:
    """Request lines read from ``fd`` until its end, or until ``idle`` seconds pass with
    nothing read and nothing in progress. An overlong line is skipped whole."""
    buf = b""
    skipping = False
    while True:
        ready, _, _ = select.select([fd], [], [], idle)
        if not ready:
            if busy():
                continue
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            if buf.strip() and not skipping:
                yield buf
            return
        buf += chunk
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            if skipping:
                skipping = False
            elif line.strip():
                yield line
        if len(buf) > MAX_REQUEST:
            sys.stderr.write("watchkeeper notify child: bad request: longer than "
                             f"{MAX_REQUEST} bytes\n")
            buf, skipping = b"", True


def main() -> int:
    """Entry point of the child process: 0 at the end of its input, 2 when a request
    could not be read."""
    out = sys.stdout
    # Anything a plugin prints must not corrupt the answer stream.
    sys.stdout = sys.stderr
    sys.excepthook = _quiet_excepthook
    threading.excepthook = _thread_excepthook
    answers = _Answers(out)
    capture = install_capture()
    bad = False
    in_flight = 0
    count = threading.Lock()

    def run(data: bytes) -> None:
        nonlocal in_flight, bad
        ok = _handle(data, answers, capture)
        with count:
            in_flight -= 1
            bad = bad or not ok

    def busy() -> bool:
        with count:
            return in_flight > 0

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="send") as pool:
        for line in _lines(sys.stdin.fileno(), _idle_limit(), busy):
            with count:
                in_flight += 1
            pool.submit(run, line)
    return 2 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
