"""The systemd notification protocol (``sd_notify``): READY, STATUS, STOPPING, RELOADING
and WATCHDOG datagrams to ``$NOTIFY_SOCKET``.

The protocol is one datagram of ``KEY=value`` lines to a Unix socket (a path, or an
abstract name written with a leading ``@``): small enough to write here rather than pull
in a library. Without ``$NOTIFY_SOCKET`` (not under systemd, or ``Type=simple``) every
call does nothing. A failed send is logged once and never raised: systemd's view of the
agent must not stop the agent.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger("watchkeeper.systemd")


class Notifier:
    """Sends notifications to the service manager, when there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        #: How often systemd wants WATCHDOG=1 (half its WatchdogSec), or None.
        self.watchdog_interval = _watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines (keys as given, e.g. ``READY="1"``); True if sent."""
        if self.address is None:
            return False
        text = "\n".join(f"{k}={v.replace(chr(10), ' ')}" for k, v in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(text.encode("utf-8", "replace"), self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify the service manager at %s: %s",
                            os.environ.get("NOTIFY_SOCKET", "?"), exc.strerror or exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY="1", STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING="1", STATUS=status)

    def reloading(self, status: str = "reloading the configuration") -> bool:
        # MONOTONIC_USEC lets systemd tell this reload from an earlier one.
        return self.send(RELOADING="1", STATUS=status,
                         MONOTONIC_USEC=str(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value if value.startswith("/") else None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (a wrapper that exec'd us is fine: same pid)
    return int(usec) / 2e6
