"""The error a command raises for arguments it cannot act on.

``agent.cli.main`` prints it as one short line and exits with the command's usage-error
code (2; 3 for ``check``, as Nagios plugins do).
"""

from __future__ import annotations

import argparse

from agent.errors import WatchkeeperError
from agent.textsafe import control_problem


class UsageError(WatchkeeperError):
    """The command line asks for something that is not there or cannot be done."""


def one_line(value: str) -> str:
    """An argument kept to be shown later (``--reason``, ``--comment``, ``--by``): no
    line breaks, tabs or escape sequences, which would forge lines of other commands'
    output or act on the terminal that shows them."""
    problem = control_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value
