"""The versioned webhook: one ``watchkeeper.alert/v1`` document POSTed per notification.

With a ``secret``, each request is signed so the receiver can tell it came from this
agent and was not replayed later::

    X-Watchkeeper-Timestamp: 1714564800
    X-Watchkeeper-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The receiver recomputes the HMAC over the timestamp, a dot and the body exactly as
received, compares it in constant time, and refuses a timestamp more than a few minutes
old. Every request also carries ``X-Watchkeeper-Schema: watchkeeper.alert/v1`` and the
notification's key in ``X-Watchkeeper-Key``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.alerting.state import AlertEvent
from agent.notify.http_post import post_json
from agent.notify.native_urls import WebhookTarget
from agent.notify.payload import SCHEMA, KindOf, document, encode
from agent.notify.protocol import SendResult

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Watchkeeper-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers_for(target: WebhookTarget, key: str, body: bytes, wall: float) -> dict[str, str]:
    """The headers of one request (signed when the target has a secret)."""
    headers = {"X-Watchkeeper-Schema": SCHEMA, "X-Watchkeeper-Key": key}
    if target.secret:
        ts = int(wall)
        headers[TIMESTAMP_HEADER] = str(ts)
        headers[SIGNATURE_HEADER] = signature(target.secret, ts, body)
    return headers


async def send_webhook(client: httpx.AsyncClient, target: WebhookTarget,
                       events: Sequence[AlertEvent], *, grouped: bool, kind_of: KindOf,
                       wall: float, timeout: float) -> list[SendResult]:
    """POST ``events``: as ONE document when ``grouped``, else one each, in order. One
    result per event; once the receiver fails for a reason that may pass, the rest are
    not tried now (the target backs off as a whole)."""
    batches = [list(events)] if grouped else [[e] for e in events]
    results: list[SendResult] = []
    for i, batch in enumerate(batches):
        doc = document(batch, kind_of)
        body = encode(doc)
        result = await post_json(client, target.url, body, timeout=timeout,
                                 headers=headers_for(target, str(doc["key"]), body, wall))
        results.extend([result] * len(batch))
        if not result.ok and not result.permanent:
            left = sum(len(b) for b in batches[i + 1:])
            results.extend([SendResult(False, f"not sent: {result.error}")] * left)
            break
    return results
