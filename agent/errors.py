"""One small error hierarchy. A user sees these as short messages, never as tracebacks."""

from __future__ import annotations

from dataclasses import dataclass


class WatchkeeperError(Exception):
    """Base of every error the agent reports to a user in words."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file: where (file:line and dotted path) and what."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(WatchkeeperError):
    """The configuration is invalid; carries every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class CheckError(WatchkeeperError):
    """A check could not measure. Its message becomes the UNKNOWN/CRITICAL summary."""


class NotifyError(WatchkeeperError):
    """Sending a notification failed. ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class StateError(WatchkeeperError):
    """The state directory or database cannot be used (unwritable, corrupt, too new)."""
