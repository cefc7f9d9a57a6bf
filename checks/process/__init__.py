"""The ``process`` check kind: processes found by name, pattern, pid file or systemd unit."""

from checks.process.check import ProcessCheck

__all__ = ["ProcessCheck"]
