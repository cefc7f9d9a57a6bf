"""One small error tree. A user sees these as short messages, never as tracebacks.

::

    WatchkeeperError        a failure told to a user in words      (cli/main.py prints it)
    ├── ConfigError         the config is invalid; every issue     permanent
    │                       at once, each with file:line
    ├── UnknownKind         no installed check kind has the name   permanent
    │                       (agent.check; becomes a ConfigIssue)
    ├── CheckError          a check could not measure; its         retryable
    │                       message is the UNKNOWN summary
    ├── StateError          the state directory or database        retryable in the agent,
    │                       cannot be used                         permanent for a command
    ├── ReplayError         a trace cannot be replayed; says       permanent
    │                       file:line (agent.replay)
    └── PingError           the agent did not take a ping          retryable
                            (agent.cli.ping)

Permanent: the same input fails the same way until a person changes something (the
config file, the trace, the installed plugins), so it is reported once and not retried.
Retryable: the world may change by itself: a check measures again on its next turn; the
running agent keeps its state in memory and writes again on the next commit, while a
one-shot command reports the error and exits. Sending a notification never raises: a
failed send is a ``SendResult`` whose ``permanent`` flag tells the dispatcher whether to
retry (``agent.notify.protocol``).

Outside the tree, on purpose: programming errors (a plugin registering something that is
not a Check, a metric family defined twice) raise the built-in exceptions; validators
that pydantic turns into config issues raise ValueError (``agent.cron.CronError``); and
signals that never leave their module carry data to the one place that handles them
(``agent.http_wire.HttpError`` is an HTTP error answer, ``YamlSyntaxError`` becomes a
ConfigIssue in the loader).
"""

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
    """A check could not measure. Its message becomes the UNKNOWN summary."""


class StateError(WatchkeeperError):
    """The state directory or database cannot be used (unwritable, corrupt, too new)."""
