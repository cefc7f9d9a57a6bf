"""Logging to stderr, one line per event, journald-friendly, with known secrets scrubbed."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable

from agent.notify.masking import MASK, text_pattern

_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                    logging.CRITICAL: 2}


class SecretScrubber(logging.Filter):
    """Replaces every registered secret in a record's final text with ``****``.

    A safety net: code should not log secrets in the first place. What is registered are
    the exact secret parts of the configured URLs and DSNs (see
    ``agent.config.secrets``); a secret is hidden where it stands as a word of its own,
    never inside a longer word, and nothing else is touched (``masking.mask_text``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        """Hide these from now on (texts too short to be worth hiding are ignored)."""
        before = len(self._secrets)
        self._secrets.update(s for s in secrets if s)
        if len(self._secrets) != before:
            self._pattern = text_pattern(self._secrets)

    def scrub(self, text: str) -> str:
        """``text`` without any registered secret."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is not None:
            record.msg = self.scrub(record.getMessage())
            record.args = None
        return True


scrubber = SecretScrubber()


class _Formatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage().replace("\n", " | ")
        if record.exc_info and record.levelno >= logging.ERROR:
            exc = record.exc_info[1]
            msg += f" ({type(exc).__name__}: {exc})"
        name = record.name.removeprefix("watchkeeper.")
        if self.journald:
            # journald adds its own timestamp; the <N> prefix sets the priority.
            return f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{name}: {msg}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}Z {record.levelname} {name}: {msg}"


def setup(level: str = "info") -> None:
    """Configure the root logger for the agent and the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(journald="JOURNAL_STREAM" in os.environ))
    handler.addFilter(scrubber)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party libraries chatter at INFO (every HTTP request); keep them to warnings.
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
