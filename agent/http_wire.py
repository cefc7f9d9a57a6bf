"""Just enough HTTP/1.1 for the agent's listener: read one request, write one response.

One request per connection (every response says ``Connection: close``); the header block
and the body are capped; what cannot be served raises HttpError carrying its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_LINES = 100
MAX_BODY_BYTES = 64 * 1024
#: After answering, input is read and dropped for this long so the client sees the answer
#: (closing with unread input would reset the connection under it).
LINGER = 1.0
_LINGER_BYTES = 1024 * 1024

_REQUEST_LINE = re.compile(r"([A-Z]+) (\S+) HTTP/(1\.[01])")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request; header names are lower case."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@dataclass(frozen=True, slots=True)
class Response:
    """A whole response; ``head`` leaves the body out (for HEAD)."""

    status: HTTPStatus
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: HTTPStatus, text: str, *headers: tuple[str, str]) -> Response:
        return cls(status, text.encode(), headers=headers)

    @classmethod
    def json(cls, status: HTTPStatus, data: Any) -> Response:
        return cls(status, json.dumps(data).encode() + b"\n", "application/json")

    def encode(self, head: bool = False) -> bytes:
        lines = [f"HTTP/1.1 {self.status.value} {self.status.phrase}",
                 f"Content-Type: {self.content_type}",
                 f"Content-Length: {len(self.body)}", "Connection: close",
                 *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else self.body)


class HttpError(Exception):
    """A request that gets an error answer instead of being handled."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.response = Response.text(status, message + "\n")


async def read_request(reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter | None = None) -> Request | None:
    """Read one request (None when the client closed without sending anything).

    Lines may end in CRLF or a bare LF. A first line that is no request line is refused
    at once. Raises HttpError for what cannot be served.
    """
    lines: list[str] = []
    size = 0
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "request headers too large") from None
        except asyncio.IncompleteReadError as exc:
            if not lines and not exc.partial.strip():
                return None
            raise HttpError(HTTPStatus.BAD_REQUEST, "incomplete request") from None
        size += len(raw)
        if size > MAX_HEADER_BYTES or len(lines) > MAX_HEADER_LINES:
            raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "request headers too large")
        line = raw.removesuffix(b"\n").removesuffix(b"\r").decode("latin-1")
        if not line:
            if lines:
                break
            continue  # blank lines before a request are to be ignored (RFC 9112)
        if not lines and _REQUEST_LINE.fullmatch(line) is None:
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
        lines.append(line)
    m = _REQUEST_LINE.fullmatch(lines[0])
    assert m is not None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise HttpError(HTTPStatus.BAD_REQUEST, "malformed header line")
        key, value = name.lower(), value.strip()
        if key == "content-length" and headers.get(key, value) != value:
            raise HttpError(HTTPStatus.BAD_REQUEST, "conflicting Content-Length")
        headers[key] = f"{headers[key]}, {value}" if key in headers and key != \
            "content-length" else value
    if "transfer-encoding" in headers:
        raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length; chunked bodies "
                                                    "are not accepted")
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body larger than {MAX_BODY_BYTES // 1024} KB")
    if length and writer is not None and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        body = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        raise HttpError(HTTPStatus.BAD_REQUEST, "body shorter than its Content-Length") from None
    return Request(m.group(1), m.group(2), headers, body)


async def close_connection(writer: asyncio.StreamWriter, reader: asyncio.StreamReader,
                           linger: bool = True) -> None:
    """Close gracefully: end our side, drop what the client still sends, then close."""
    with contextlib.suppress(Exception):
        if linger and writer.can_write_eof():
            writer.write_eof()
            async with asyncio.timeout(LINGER):
                dropped = 0
                while dropped < _LINGER_BYTES and (chunk := await reader.read(65536)):
                    dropped += len(chunk)
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(LINGER):
            await writer.wait_closed()
