"""The ``command`` check kind: a Nagios-style plugin run, its perfdata read."""

from checks.command.check import CommandCheck

__all__ = ["CommandCheck"]
