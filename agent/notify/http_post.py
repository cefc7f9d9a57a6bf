"""One JSON POST of a native target (webhook, Alertmanager) and what its answer means.

A 2xx is delivered. A 4xx means the request itself is wrong (a bad label, a wrong path,
refused credentials): sending it again cannot help, so it is a permanent failure, except
408, 425 and 429, which ask to come back later. A 3xx is permanent too: the URL points at
the wrong place, and following a redirect with the body (and its signature) to wherever
it leads is not ours to decide. A 5xx, a timeout or a refused connection is retried.
The answer's body is read only up to a few KiB, for the error text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agent.notify.protocol import SendResult

if TYPE_CHECKING:
    import httpx

#: What is kept of an answer's body for the error text.
BODY_KEPT = 4096
ERROR_TEXT = 300
_RETRY_LATER = frozenset({408, 425, 429})


def result_of(status: int, reason: str, body: bytes = b"") -> SendResult:
    """The outcome an HTTP answer means (see the module's doc)."""
    if 200 <= status < 300:
        return SendResult(True)
    said = " ".join(body.decode("utf-8", "replace").split())[:ERROR_TEXT]
    text = f"HTTP {status} {reason}".rstrip() + (f": {said}" if said else "")
    if 300 <= status < 400:
        return SendResult(False, f"{text} (redirected: use the URL it points to)", True)
    permanent = 400 <= status < 500 and status not in _RETRY_LATER
    return SendResult(False, text, permanent)


async def post_json(client: httpx.AsyncClient, url: str, body: bytes, *,
                    headers: Mapping[str, str] | None = None,
                    auth: tuple[str, str] | None = None, timeout: float = 30.0) -> SendResult:
    """POST ``body`` (JSON) to ``url``; never raises."""
    import httpx

    try:
        # One deadline for the whole exchange: httpx's own timeouts are per read, which a
        # server dripping its answer byte by byte would never meet.
        async with asyncio.timeout(timeout), client.stream(
                "POST", url, content=body, auth=auth, timeout=timeout,
                headers={"Content-Type": "application/json", **(headers or {})}) as answer:
            kept = b""
            async for chunk in answer.aiter_bytes():
                kept += chunk
                if len(kept) >= BODY_KEPT:
                    break
            return result_of(answer.status_code, answer.reason_phrase, kept[:BODY_KEPT])
    except (httpx.TimeoutException, TimeoutError):
        return SendResult(False, f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return SendResult(False, f"{type(exc).__name__}: {exc}" if str(exc)
                          else type(exc).__name__)
    except (OSError, ValueError) as exc:  # an odd URL or socket failure: retried, not fatal
        return SendResult(False, f"{type(exc).__name__}: {exc}")
