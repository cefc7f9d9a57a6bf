"""Send one message through one loaded Apprise plugin, in the form its family of targets
shows (``agent.notify.formats``): email as its own MIME message, chat as markdown, SMS as
the title alone, anything else as plain text. Only the Apprise child imports this module.
"""

from __future__ import annotations

import time
from typing import Any

from agent.notify import mail_send
from agent.notify.formats import Family, family_of, for_family
from agent.notify.protocol import WireMessage


def target_family(plugin: Any, url: str) -> Family:
    """The family of ``url``'s target, by its scheme and what its plugin says of itself."""
    def limit(name: str) -> int | None:
        value = getattr(plugin, name, None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return family_of(url.partition("://")[0], limit("title_maxlen"), limit("body_maxlen"))


def send_as_family(plugin: Any, url: str, message: WireMessage) -> bool:
    """Send ``message`` as targets of its family show it."""
    family = target_family(plugin, url)
    if family is Family.EMAIL:
        sent = mail_send.send(plugin, message, time.time())
        if sent is not None:
            return sent
    shown = for_family(family, message)
    return bool(plugin.notify(body=shown.body, title=shown.title,
                              notify_type=message.notify_type,
                              body_format=shown.body_format.value))
