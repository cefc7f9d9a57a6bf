"""The error a command raises for arguments it cannot act on.

``agent.cli.main`` prints it as one short line and exits with the command's usage-error
code (2; 3 for ``check``, as Nagios plugins do).
"""

from __future__ import annotations

from agent.errors import WatchkeeperError


class UsageError(WatchkeeperError):
    """The command line asks for something that is not there or cannot be done."""
