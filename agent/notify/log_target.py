"""The built-in ``log://`` target: a notification as one line on stderr.

Imported only inside the Apprise child (or a short-lived CLI process). The child inherits
the agent's stderr, so the line lands in the agent's log (journald under systemd):
``NOTIFY [critical] <title> | <body on one line>``.
"""

from __future__ import annotations

import sys
from typing import Any

from apprise.decorators import notify

SCHEME = "log"

#: The label of the message being sent (set by the child before each send); the plugin
#: only receives Apprise's coarser notify type.
current_label: str | None = None

_TYPE_LABELS = {"failure": "critical", "warning": "warning", "success": "resolved",
                "info": "info"}


def format_line(title: str, body: str, label: str) -> str:
    """The log line for one notification."""
    parts = [" ".join(title.split())]
    parts.extend(" ".join(line.split()) for line in body.splitlines() if line.strip())
    return f"NOTIFY [{label}] " + " | ".join(parts)


def _send_to_log(body: str, title: str, notify_type: Any, *args: Any, **kwargs: Any) -> bool:
    label = current_label or _TYPE_LABELS.get(str(getattr(notify_type, "value", notify_type)),
                                              "info")
    sys.stderr.write(format_line(title or "", body or "", label) + "\n")
    sys.stderr.flush()
    return True


def _register() -> None:
    register = notify(on=SCHEME, name="Watchkeeper log")  # type: ignore[no-untyped-call]
    register(_send_to_log)


_register()
