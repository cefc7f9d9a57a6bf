"""The agent's shared HTTP clients: one ``httpx.AsyncClient`` per distinct connection setting.

Every check with the same TLS verification, CA file, proxy and IP family shares one client
(connection limits, keep-alive), so a thousand http checks use a handful of clients. The
agent creates one ``HttpClientPool``, passes it as ``CheckContext.http_client_factory``
(calling the pool gives the default client, which is what ``ctx.http`` returns) and closes
it with ``await pool.aclose()`` when it stops. A check that needs other settings asks
``pool_from(ctx)`` and then ``pool.client(settings)``.

The clients ignore the environment (no ``HTTP_PROXY``, no ``.netrc``: a monitoring probe
must measure what its config says) and keep no cookies, so no check sees another's.
"""

from __future__ import annotations

import http.cookiejar
import select
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from agent import __version__
from agent.ipfamily import IpFamily

if TYPE_CHECKING:
    from agent.check import CheckContext

USER_AGENT = f"watchkeeper/{__version__}"
#: Only what the http check decodes within its ``max_body`` (``checks.http.decode``);
#: httpx would add br and zstd whenever their libraries happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"

#: Total connections per client, idle ones kept for reuse, and how long an idle one lives.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=50,
                              keepalive_expiry=30.0)


def limits_for(concurrency: int) -> httpx.Limits:
    """The pool's limits for an agent running ``concurrency`` checks at once: no more
    idle connections than can be used at once (the pool looks at each on every
    request)."""
    return httpx.Limits(max_connections=100, max_keepalive_connections=max(concurrency, 1),
                        keepalive_expiry=30.0)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The connection settings that need a client of their own (the pool's cache key)."""

    verify_tls: bool = True
    #: Extra PEM file of trusted CAs, added to the system's and certifi's.
    ca_file: str | None = None
    #: Proxy URL; it may carry a password, so it is kept out of ``repr``.
    proxy: str | None = None
    ip_family: IpFamily = IpFamily.ANY

    def __repr__(self) -> str:
        proxy = "set" if self.proxy else None
        return (f"ClientSettings(verify_tls={self.verify_tls}, ca_file={self.ca_file!r}, "
                f"proxy={proxy}, ip_family={self.ip_family.value})")


def ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    """The TLS context for ``settings``: the system's CAs (certifi's where the system has
    none) plus ``ca_file``, or no verification at all when ``verify_tls`` is off."""
    if not settings.verify_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    if not ctx.cert_store_stats().get("x509_ca"):
        # No system CA bundle (a minimal image): use certifi's. Where the system has one,
        # it alone is used: it holds the host's private CAs, and loading both would cost
        # some 2.5 MB of RSS for a second copy of the same public roots.
        import certifi

        ctx.load_verify_locations(certifi.where())
    if settings.ca_file:
        ctx.load_verify_locations(settings.ca_file)
    return ctx


def _no_cookies() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class _NeverKept(httpx.Cookies):
    """A cookie store that keeps nothing and so reads nothing out of a response (httpx
    otherwise runs the standard library's cookie parsing on every answer, ~20 us)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(httpx.AsyncClient):
    """``httpx.AsyncClient`` that keeps no cookies, so no check sees another's."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NEVER_KEPT

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the agent's HTTP clients keep no cookies")


_NEVER_KEPT = _NeverKept(_no_cookies())


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that looks its socket up once.

    For every request, httpcore asks each idle connection of the pool whether its socket
    became readable (the server closed it); anyio answers each time by building a table
    of all its socket attributes, which cost more than the request itself at a thousand
    checks. The socket does not change, so it is kept here and polled directly.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would not block (data, EOF or an error): httpcore's own test."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's own network backend, its streams wrapped in ``_Stream``."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address,
                                                     socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _with_cached_sockets(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """``transport`` with its pool's connections made through ``_Backend``.

    httpx offers no way to pass a network backend, so the pool's is replaced; should a
    later httpx or httpcore lay its pool out differently, the transport stays as it was.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.AsyncNetworkBackend) and not isinstance(backend, _Backend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return transport


def build_client(settings: ClientSettings | None = None, *,
                 limits: httpx.Limits = DEFAULT_LIMITS,
                 user_agent: str = USER_AGENT) -> httpx.AsyncClient:
    """A new client for ``settings``. Prefer ``HttpClientPool.client``, which shares them."""
    settings = settings or ClientSettings()
    transport = _with_cached_sockets(httpx.AsyncHTTPTransport(
        verify=ssl_context(settings), limits=limits, proxy=settings.proxy,
        local_address=settings.ip_family.local_address, retries=0))
    return _Client(transport=transport, trust_env=False,
                             headers={"User-Agent": user_agent,
                                      "Accept-Encoding": ACCEPT_ENCODING},
                             follow_redirects=False,
                             timeout=httpx.Timeout(10.0))


def default_client() -> httpx.AsyncClient:
    """A client with the default settings (for callers that want just one)."""
    return build_client(ClientSettings())


class HttpClientPool:
    """Clients cached per ``ClientSettings``, created on first use in the running loop.

    Calling the pool returns the default client, so the pool itself can be a
    ``CheckContext.http_client_factory``.
    """

    def __init__(self, limits: httpx.Limits = DEFAULT_LIMITS,
                 user_agent: str = USER_AGENT) -> None:
        self.limits = limits
        self.user_agent = user_agent
        self._clients: dict[ClientSettings, httpx.AsyncClient] = {}

    def __call__(self) -> httpx.AsyncClient:
        return self.client(ClientSettings())

    def client(self, settings: ClientSettings) -> httpx.AsyncClient:
        """The one client for ``settings``."""
        found = self._clients.get(settings)
        if found is None:
            found = build_client(settings, limits=self.limits, user_agent=self.user_agent)
            self._clients[settings] = found
        return found

    def __len__(self) -> int:
        return len(self._clients)

    async def aclose(self) -> None:
        """Close every client (their idle connections too)."""
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.aclose()


def pool_from(ctx: CheckContext) -> HttpClientPool | None:
    """The pool behind ``ctx``, or None when the agent gave the check no pool."""
    factory: Any = ctx.http_client_factory
    return factory if isinstance(factory, HttpClientPool) else None
