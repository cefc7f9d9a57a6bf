"""The listener's HTTP messages: a parsed request, a whole response, and their h11 form.

Parsing and framing are h11's; this module caps what a request may hold and turns h11's
events into the small types the routes use. What cannot be served raises HttpError
carrying its answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import h11

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
#: What may follow a request line's target: h11 takes any version, the routes serve these.
_VERSIONS = frozenset({b"1.0", b"1.1"})


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
    """A whole response."""

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

    def events(self, *, head: bool = False, close: bool = False) -> list[h11.Event]:
        """The h11 events that send this response; ``head`` leaves the body out (for
        HEAD), ``close`` says the connection ends after it."""
        headers = [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))),
                   *self.headers]
        if close:
            headers.append(("Connection", "close"))
        out: list[h11.Event] = [h11.Response(status_code=self.status.value, headers=headers,
                                             reason=self.status.phrase.encode())]
        if self.body and not head:
            out.append(h11.Data(data=self.body))
        out.append(h11.EndOfMessage())
        return out


class HttpError(Exception):
    """A request that gets an error answer instead of being handled."""

    def __init__(self, status: HTTPStatus, message: str, *headers: tuple[str, str]) -> None:
        super().__init__(message)
        self.response = Response.text(status, message + "\n", *headers)


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request line and its headers, before any of the body is read."""

    method: str
    target: str
    headers: Mapping[str, str]
    length: int
    chunked: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def with_body(self, body: bytes) -> Request:
        return Request(self.method, self.target, self.headers, body)


def request_head(event: h11.Request) -> RequestHead:
    """The head of a request h11 parsed; HttpError for one the routes cannot serve.

    Repeated headers are joined with ", " (h11 has already refused conflicting
    Content-Lengths).
    """
    # h11 caps only a head that arrives in parts; one that came whole is measured here.
    size = len(event.method) + len(event.target) + sum(len(k) + len(v) + 4
                                                       for k, v in event.headers)
    if size > MAX_HEADER_BYTES:
        raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large")
    method = event.method.decode("ascii", errors="replace")
    if event.http_version not in _VERSIONS or not method.isupper():
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    headers: dict[str, str] = {}
    for raw_name, raw_value in event.headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return RequestHead(method, event.target.decode("latin-1"), headers,
                       int(headers.get("content-length", "0")), "transfer-encoding" in headers)


def check_body(head: RequestHead) -> None:
    """HttpError when the announced body is not one the listener takes: chunked (every
    client of the listener knows its body's length, and a length is what lets a body be
    refused before it is read) or larger than the cap."""
    if head.chunked:
        raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length; chunked bodies "
                                                    "are not accepted")
    if head.length > MAX_BODY_BYTES:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body larger than {MAX_BODY_BYTES // 1024} KB")


def protocol_error(exc: h11.RemoteProtocolError) -> HttpError:
    """The answer to what h11 could not parse, in words that do not echo the input."""
    if exc.error_status_hint == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE:
        return HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large")
    if "Host" in str(exc):
        return HttpError(HTTPStatus.BAD_REQUEST, "an HTTP/1.1 request needs one Host header")
    return HttpError(HTTPStatus.BAD_REQUEST, "malformed request")
