"""One exchange of the ``http`` check: the request, its redirects, a capped body read, and
every way it can fail named precisely ("connect timeout after 10 s", "connection reset
while reading the body after 5000 bytes", "redirect loop after 10 hops").

The phase the exchange is in (waiting for a pooled connection, connecting, TLS handshake,
sending, waiting for the answer, reading the body) is followed through httpcore's trace
hook, so a timeout says which step ran out of time.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import enum
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from agent.notify.masking import shown_location
from agent.textsafe import shortened, visible
from agent.units import format_duration
from checks.http.certs import peer_certificate
from checks.http.decode import body_decoder
from checks.http.expect import Body
from checks.http.options import HttpMethod, HttpOptions
from checks.shared.net import describe_os_error, find_cause
from checks.tls.x509_der import CertInfo

#: Redirect bodies are read (up to this much) so their connection can be reused.
_REDIRECT_BODY_CAP = 64 * 1024
#: How much of what a server sent an invalid response quotes (summary; error detail).
_QUOTED_SUMMARY = 80
_QUOTED_ERROR = 500
#: The ``bytearray(b'...')`` (or ``b"..."``) h11 quotes a line it refused with.
_QUOTED_BYTES = re.compile(r"""(?:bytearray\()?(b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*")\)?""")


class Phase(enum.Enum):
    """Where an exchange is; a timeout or an error is named after it."""

    POOL = "pool"
    CONNECT = "connect"
    TLS = "tls"
    SEND = "send"
    WAIT = "wait"
    BODY = "body"


_TRACE_PHASES = {
    "connect_tcp.started": Phase.CONNECT,
    "start_tls.started": Phase.TLS,
    "send_request_headers.started": Phase.SEND,
    "receive_response_headers.started": Phase.WAIT,
}


@dataclass(frozen=True, slots=True)
class Exchange:
    """A completed exchange: the final answer after redirects."""

    status_code: int
    reason: str
    body: Body
    #: Size of the body; past the cap, the declared Content-Length when there is one.
    body_bytes: int
    cert: CertInfo | None
    redirects: int
    #: Seconds from the first request to the last body byte.
    elapsed: float


class _Kept:
    """The body bytes kept, up to ``cap``; one byte more marks it ``truncated``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.truncated = False
        self._chunks: list[bytes] = []

    @property
    def room(self) -> int:
        return self.cap - self.size

    def add(self, chunk: bytes) -> None:
        room = self.cap - self.size
        if len(chunk) > room:
            chunk = chunk[:room]
            self.truncated = True
        self._chunks.append(chunk)
        self.size += len(chunk)

    def data(self) -> bytes:
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)


class FetchError(Exception):
    """The exchange failed. ``summary`` is for people; ``tls_error`` asks the caller to
    explain a failed certificate verification (which needs one more connection)."""

    def __init__(self, summary: str, *, tls_error: ssl.SSLError | None = None,
                 status_code: int | None = None, error: str | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.tls_error = tls_error
        self.status_code = status_code
        #: The technical detail to keep, when the exception chain's own words are unfit.
        self.error = error
        #: The URL a redirect led to, when the failure came after one.
        self.redirected_to: httpx.URL | None = None

    def after_redirect(self, url: httpx.URL | None) -> FetchError:
        """This failure, saying the redirect it followed (``url``; None: none)."""
        if url is None:
            return self
        self.redirected_to = url
        self.summary = f"after a redirect to {shown_redirect(url)}: {self.summary}"
        return self


def shown_redirect(url: httpx.URL) -> str:
    """A redirect's target fit for a summary: credentials and tokens masked, shortened."""
    return shortened(visible(shown_location(str(url))), _QUOTED_SUMMARY + 3)


def server_words(message: str, scrub: Callable[[str], str]) -> str:
    """A protocol library's message quoting what a server sent, fit to show: the quoted
    bytes as text (h11 writes ``bytearray(b'...')``, whose doubled backslashes would
    hide a credential the server echoed from the scrubber), credentials scrubbed, then
    control characters escaped."""
    def decoded(m: re.Match[str]) -> str:
        try:
            raw = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return m.group(0)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else m.group(0)

    return visible(scrub(_QUOTED_BYTES.sub(decoded, message)))


def _basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def request_parts(options: HttpOptions) -> tuple[httpx.URL, dict[str, str]]:
    """The URL and the headers, auth included.

    Credentials travel only in the Authorization header (the options moved any from the
    URL), which httpx drops on a redirect to another origin.
    """
    url = httpx.URL(options.url)
    headers = dict(options.headers)
    auth: str | None = None
    if options.basic_auth is not None:
        auth = _basic(options.basic_auth.username, options.basic_auth.password.get_secret_value())
    elif options.bearer_token is not None:
        auth = f"Bearer {options.bearer_token.get_secret_value()}"
    if auth is not None and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = auth
    return url, headers


class Fetcher:
    """Runs one exchange within ``budget`` seconds; ``timeout`` is the configured figure
    that summaries quote."""

    def __init__(self, client: httpx.AsyncClient, options: HttpOptions, *,
                 timeout: float, budget: float,
                 parts: tuple[httpx.URL, dict[str, str]] | None = None,
                 scrub: Callable[[str], str] = str) -> None:
        self.client = client
        self.options = options
        #: Hides the check's credentials from what a server sent (before it is shortened).
        self.scrub = scrub
        #: ``request_parts(options)``, when the caller keeps them between runs.
        self.parts = parts or request_parts(options)
        self.timeout = timeout
        self.budget = budget
        self.phase = Phase.POOL
        self.received = 0
        self.declared: int | None = None
        self.status_code: int | None = None
        #: Where the last redirect followed led.
        self.redirected_to: httpx.URL | None = None
        self._deadline = 0.0

    async def run(self) -> Exchange:
        """The exchange, or FetchError naming what went wrong."""
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.budget
        to = None
        try:
            async with asyncio.timeout(self.budget):
                return await self._exchange(loop.time())
        except TimeoutError:
            raise self._timed_out().after_redirect(self.redirected_to) from None
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.PoolTimeout):
                raise FetchError(f"no free connection within {format_duration(self.timeout)} "
                                  "(raise the connection limit or lower concurrency)") from exc
            raise self._timed_out().after_redirect(self.redirected_to) from exc
        except httpx.HTTPError as exc:
            # "redirected to a URL that is not http://..." names the redirect already.
            if not isinstance(exc, httpx.UnsupportedProtocol):
                to = self.redirected_to
            raise self._failed(exc).after_redirect(to) from exc

    def remaining(self) -> float:
        return max(0.001, self._deadline - asyncio.get_running_loop().time())

    async def _trace(self, event: str, info: dict[str, Any]) -> None:
        phase = _TRACE_PHASES.get(event.partition(".")[2])
        if phase is not None:
            self.phase = phase

    async def _exchange(self, started: float) -> Exchange:
        opts = self.options
        url, headers = self.parts
        request = self.client.build_request(
            opts.method.value, url, headers=headers,
            content=opts.body.encode() if opts.body is not None else None,
            timeout=httpx.Timeout(self.remaining()), extensions={"trace": self._trace})
        visited = [str(url)]
        hops = 0
        while True:
            self.phase = Phase.POOL
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                self.status_code = response.status_code
                nxt = response.next_request
                if opts.follow_redirects and nxt is not None:
                    if hops >= opts.max_redirects:
                        looped = str(nxt.url) in visited
                        what = "redirect loop" if looped else "too many redirects"
                        raise FetchError(f"{what} after {hops} hop{'s' if hops != 1 else ''}",
                                          status_code=response.status_code)
                    await self._read(response, _REDIRECT_BODY_CAP)
                    hops += 1
                    visited.append(str(nxt.url))
                    nxt.extensions["timeout"] = httpx.Timeout(self.remaining()).as_dict()
                    request = nxt
                    self.redirected_to = nxt.url
                    continue
                # Asking a plain connection for its TLS object is not free (anyio).
                cert = (peer_certificate(response.extensions.get("network_stream"))
                        if response.request.url.scheme == "https" else None)
                body = await self._read(response, opts.max_body)
            finally:
                await response.aclose()
            elapsed = asyncio.get_running_loop().time() - started
            return Exchange(response.status_code, response.reason_phrase, body,
                            self._body_bytes(response, body), cert, hops, elapsed)

    async def _read(self, response: httpx.Response, cap: int) -> Body:
        """At most ``cap`` bytes of the decoded body; the rest is left unread.

        Decoded bytes are what ``cap`` counts, and decoding stops with them: a small
        compressed body that inflates to gigabytes costs no more than ``cap``.
        """
        self.phase = Phase.BODY
        self.received = 0
        try:
            self.declared = int(response.headers.get("content-length", ""))
        except ValueError:
            self.declared = None
        kept = _Kept(cap)
        if self.options.method is not HttpMethod.HEAD:
            decoder = body_decoder(response.headers)
            async for raw in response.aiter_raw():
                if decoder is None:
                    kept.add(raw)
                else:
                    decoder.feed(raw)
                    while not kept.truncated and (piece := decoder.pull(kept.room + 1)):
                        kept.add(piece)
                self.received = kept.size
                if kept.truncated:
                    break
            else:
                while decoder is not None and not kept.truncated and (
                        piece := decoder.pull(kept.room + 1)):
                    kept.add(piece)
                self.received = kept.size
        opts = self.options
        wants_text = bool(opts.body_contains) or opts.body_regex is not None
        return Body(kept.data(), kept.truncated,
                    response.charset_encoding if wants_text else None, cap)

    def _body_bytes(self, response: httpx.Response, body: Body) -> int:
        if (body.truncated and self.declared is not None and self.declared > len(body.data)
                and "content-encoding" not in response.headers):
            return self.declared
        return len(body.data)

    def _timed_out(self) -> FetchError:
        t = format_duration(self.timeout)
        words = {
            Phase.POOL: f"no free connection within {t}",
            Phase.CONNECT: f"connect timeout after {t}",
            Phase.TLS: f"TLS handshake timeout after {t}",
            Phase.SEND: f"timeout after {t} while sending the request",
            Phase.WAIT: f"read timeout after {t}: no response",
            Phase.BODY: f"read timeout after {t} while reading the body "
                        f"({self.received} bytes received)",
        }
        return FetchError(words[self.phase], status_code=self.status_code)

    def _failed(self, exc: httpx.HTTPError) -> FetchError:
        """Words for a failure that is not a timeout."""
        code = self.status_code
        host = self.options_host()
        tls = find_cause(exc, ssl.SSLError)
        if isinstance(exc, httpx.ConnectError) and tls is not None:
            return FetchError("TLS handshake failed", tls_error=tls)
        if isinstance(exc, httpx.ProxyError):
            return FetchError(f"proxy error: {exc}")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return FetchError("redirected to a URL that is not http:// or https://",
                               status_code=code)
        if isinstance(exc, httpx.DecodingError):
            return FetchError(f"body could not be decoded ({exc})", status_code=code)
        cause = describe_os_error(exc, host)
        if self.phase is Phase.BODY:
            got = f"after {self.received} body bytes"
            if self.declared is not None:
                got = f"after {self.received} of {self.declared} body bytes"
            if cause and "reset" in cause:
                return FetchError(f"connection reset while reading the body {got}",
                                   status_code=code)
            return FetchError(f"connection closed while reading the body {got}",
                               status_code=code)
        if cause is not None:
            if self.phase in (Phase.SEND, Phase.WAIT):
                cause += " before the response"
            return FetchError(cause, status_code=code)
        if isinstance(exc, httpx.RemoteProtocolError):
            if "without sending a response" in str(exc) or "disconnected" in str(exc):
                return FetchError("server closed the connection without a response")
            words = server_words(str(exc), self.scrub)
            return FetchError(f"invalid HTTP response: {shortened(words, _QUOTED_SUMMARY + 3)}",
                              error=shortened(words, _QUOTED_ERROR + 3))
        if isinstance(exc, httpx.ConnectError):
            return FetchError(f"connect failed: {exc}")
        return FetchError(f"request failed: {type(exc).__name__}: {exc}", status_code=code)

    def options_host(self) -> str:
        """The host asked last: the configured one, or where a redirect led."""
        return (self.redirected_to or httpx.URL(self.options.url)).host
