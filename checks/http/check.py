"""The ``http`` check: request a URL and judge the answer.

Reports ``up`` (1/0), ``response_ms``, ``status_code``, ``body_bytes`` and, for https,
``cert_days_left`` of the certificate the server actually presented. A failed expectation
or connection is the check's own CRITICAL status with a summary that says exactly what
happened; secrets from the options never appear in it. Options: ``checks.http.options``.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import httpx

from agent.check import Capability, Check, CheckContext
from agent.errors import CheckError
from agent.http_client import ClientSettings, HttpClientPool, pool_from
from agent.model import CheckResult, Status
from agent.notify.masking import CredentialScrubber, shown_location
from agent.units import format_bytes, format_duration
from checks.http.certs import describe_tls_failure, fetch_certificate
from checks.http.expect import judge
from checks.http.fetch import Exchange, Fetcher, FetchError, request_parts, shown_redirect
from checks.http.options import HttpOptions, status_matches
from checks.shared.net import exception_chain, run_budget
from checks.shared.patterns import PatternTimeoutError, search

#: Longest wait for the extra handshake that explains a certificate failure.
_CERT_FETCH_TIMEOUT = 2.0



class HttpCheck(Check[HttpOptions]):
    """Request ``url`` and check status, body and JSON against the expectations."""

    kind: ClassVar[str] = "http"
    Options: ClassVar[type[HttpOptions]] = HttpOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"up", "response_ms", "status_code", "body_bytes", "cert_days_left"})
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.HTTP_POOL})

    @classmethod
    def targets(cls, options: HttpOptions) -> tuple[str, ...]:
        return (httpx.URL(options.url).host,)

    @classmethod
    def where(cls, options: HttpOptions) -> str | None:
        return shown_location(str(options.url))

    def __init__(self, name: str, options: HttpOptions) -> None:
        super().__init__(name, options)
        self._settings = options.client_settings()
        self.scrub = CredentialScrubber(options.secrets())
        self._parts = request_parts(options)
        self._own_pool: HttpClientPool | None = None

    def client(self, ctx: CheckContext) -> httpx.AsyncClient:
        """The agent's shared client for this check's settings (a private pool when the
        agent gave none and the settings are not the defaults)."""
        pool = pool_from(ctx)
        if pool is not None:
            return pool.client(self._settings)
        if ctx.http_client_factory is not None and self._settings == ClientSettings():
            return ctx.http
        if self._own_pool is None:
            self._own_pool = HttpClientPool()
        return self._own_pool.client(self._settings)

    async def close(self) -> None:
        if self._own_pool is not None:
            await self._own_pool.aclose()

    async def run(self, ctx: CheckContext) -> CheckResult:
        loop = asyncio.get_running_loop()
        hard_deadline = loop.time() + ctx.timeout
        fetcher = Fetcher(self.client(ctx), self.options, timeout=ctx.timeout,
                          budget=run_budget(ctx.timeout), parts=self._parts,
                          scrub=self.scrub)
        try:
            exchange = await fetcher.run()
        except FetchError as failed:
            return await self._failure(ctx, failed, hard_deadline - loop.time())
        except (CheckError, TimeoutError):
            raise
        except Exception as exc:
            # Whatever the HTTP stack raised may quote a header or the proxy's URL.
            raise CheckError(self.scrub(f"check crashed: {type(exc).__name__}: {exc}")
                             ) from exc
        return await self._judged(ctx, exchange, hard_deadline - loop.time())

    async def _judged(self, ctx: CheckContext, ex: Exchange, time_left: float) -> CheckResult:
        metrics: dict[str, float] = {
            "up": 1, "response_ms": round(ex.elapsed * 1000, 1),
            "status_code": ex.status_code, "body_bytes": ex.body_bytes}
        if ex.cert is not None:
            metrics["cert_days_left"] = round(ex.cert.days_left(ctx.clock.wall()), 2)
        regex_matched: bool | None = None
        regex = self.options.body_regex
        if regex is not None and status_matches(ex.status_code, self.options.expect_status):
            try:
                # Off the loop and in bounded time: a pattern that backtracks on what the
                # server sent would freeze the whole agent.
                regex_matched = await search(regex, ex.body.text(),
                                             time_left - min(0.5, 0.1 * ctx.timeout))
            except PatternTimeoutError as exc:
                return CheckResult.unknown(
                    f"body_regex took too long: {exc} in the {format_bytes(len(ex.body.data))}"
                    " of body read (a pattern that backtracks; simplify it)")
        failures = judge(ex.status_code, ex.body, self.options, self.scrub,
                         regex_matched=regex_matched)
        if failures:
            metrics["up"] = 0
            return CheckResult.failed(Status.CRITICAL, self.scrub("; ".join(failures)),
                                      metrics=metrics)
        status = f"{ex.status_code} {ex.reason}".strip()
        summary = (f"{status} in {format_duration(metrics['response_ms'] / 1000)}, "
                   f"{_size(ex)}")
        if ex.redirects:
            summary += f" after {ex.redirects} redirect{'s' if ex.redirects != 1 else ''}"
        return CheckResult.ok(self.scrub(summary), metrics)

    async def _failure(self, ctx: CheckContext, failed: FetchError,
                       time_left: float) -> CheckResult:
        metrics: dict[str, float] = {"up": 0}
        if failed.status_code is not None:
            metrics["status_code"] = failed.status_code
        summary = failed.summary
        if failed.tls_error is not None:
            # The server that failed the handshake: a redirect's target, if one led there.
            url = failed.redirected_to or httpx.URL(self.options.url)
            cert = None
            wait = min(_CERT_FETCH_TIMEOUT, time_left - 0.05)
            if self.options.proxy is None and wait > 0:
                cert = await fetch_certificate(url.host, url.port or 443,
                                               self.options.ip_family, wait)
            now = ctx.clock.wall()
            summary = describe_tls_failure(failed.tls_error, cert, url.host, now)
            if failed.redirected_to is not None:
                summary = f"after a redirect to {shown_redirect(url)}: {summary}"
            if cert is not None:
                metrics["cert_days_left"] = round(cert.days_left(now), 2)
        error = failed.error
        if error is None and failed.__cause__ is not None:
            error = _error_text(failed.__cause__)
        return CheckResult.failed(Status.CRITICAL, self.scrub(summary),
                                  error=self.scrub(error) if error else None, metrics=metrics)


def _size(ex: Exchange) -> str:
    """The body's size, and where it was cut (only a failed expectation that needed the
    rest makes a cut body a problem)."""
    if not ex.body.truncated:
        return format_bytes(ex.body_bytes)
    cap = format_bytes(ex.body.cap)
    if ex.body_bytes > ex.body.cap:
        return f"{format_bytes(ex.body_bytes)}, read up to max_body ({cap})"
    return f"more than {cap}, cut at max_body"


def _error_text(exc: BaseException) -> str:
    """The distinct messages of an exception chain (the technical detail kept with a
    failure), outermost first."""
    seen: list[str] = []
    for e in exception_chain(exc):
        text = str(e)
        if text and text not in seen:
            seen.append(text)
    return "; ".join(seen) or type(exc).__name__
