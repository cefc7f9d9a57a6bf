"""The ``systemd`` check kind: units' states read through systemctl."""

from checks.systemd.check import SystemdCheck

__all__ = ["SystemdCheck"]
