"""HTTPS in the http check: certificates made in the test (valid, expired, wrong host name,
self-signed, untrusted) on real TLS servers on 127.0.0.1, and the words for each failure."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.check import CheckContext
from agent.clock import FakeClock
from agent.http_client import HttpClientPool
from agent.model import CheckResult, Status
from checks.http import certs as http_tls
from checks.http.certs import describe_tls_failure
from checks.http.check import HttpCheck
from checks.http.options import HttpOptions
from checks.tls.failures import VerifyCode
from checks.tls.x509_der import CertInfo
from tests.servers.certs import EXPIRED_DAYS_AGO, VALID_DAYS, TestCerts
from tests.servers.http_server import HttpTestServer, Reply
from tests.servers.tcp_server import BannerServer

TIMEOUT = 2.0


async def run_https(pool: HttpClientPool, server_ctx: ssl.SSLContext, *,
                    clock: Any = None, host: str = "localhost", **options: Any) -> CheckResult:
    async with HttpTestServer({"/": Reply(200, b"secure")}, ssl_context=server_ctx) as srv:
        check = HttpCheck("site", HttpOptions(url=srv.url("/", host=host), **options))
        ctx = CheckContext(check_name="site", host="h", timeout=TIMEOUT,
                           http_client_factory=pool)
        if clock is not None:
            ctx.clock = clock
        return await check.run(ctx)


async def test_a_valid_certificate_reports_its_days_left(http_pool: HttpClientPool,
        server_tls: Callable[[str], ssl.SSLContext], ca_file: Path) -> None:
    result = await run_https(http_pool, server_tls("valid"), ca_file=ca_file)
    assert result.status is Status.OK, result
    assert result.metrics["cert_days_left"] == pytest.approx(VALID_DAYS, abs=0.01)


async def test_an_ip_address_url_is_verified_against_the_ip_san(http_pool: HttpClientPool,
        server_tls: Callable[[str], ssl.SSLContext], ca_file: Path) -> None:
    result = await run_https(http_pool, server_tls("valid"), host="127.0.0.1", ca_file=ca_file)
    assert result.status is Status.OK, result


async def test_days_left_are_counted_from_the_context_clock(http_pool: HttpClientPool,
        server_tls: Callable[[str], ssl.SSLContext], ca_file: Path) -> None:
    clock = FakeClock(start=dt.datetime.now(dt.UTC).timestamp() + 10 * 86400)
    result = await run_https(http_pool, server_tls("valid"), clock=clock, ca_file=ca_file)
    assert result.metrics["cert_days_left"] == pytest.approx(VALID_DAYS - 10, abs=0.01)


@pytest.mark.parametrize(("kind", "summary"), [
    ("expired", f"TLS: certificate expired {EXPIRED_DAYS_AGO}d 1h ago"),
    ("wrong_host", "TLS: certificate is for other.example, not localhost"),
    ("self_signed", "TLS: self-signed certificate"),
    # A certificate from a CA the client was not told to trust.
    ("untrusted", "TLS: certificate is not from a trusted authority "
                  "(unable to get local issuer certificate)"),
])
async def test_certificate_failures_are_named(http_pool: HttpClientPool,
        server_tls: Callable[[str], ssl.SSLContext], ca_file: Path, kind: str, summary: str | None
        ) -> None:
    trusted = kind != "untrusted"
    extra: dict[str, Any] = {"ca_file": ca_file} if trusted else {}
    result = await run_https(http_pool, server_tls(kind if trusted else "valid"), **extra)
    assert result.status is Status.CRITICAL
    assert result.summary == summary
    assert result.metrics["up"] == 0
    assert not result.problems()


async def test_an_expired_certificate_still_reports_negative_days_left(http_pool: HttpClientPool,
        server_tls: Callable[[str], ssl.SSLContext], ca_file: Path) -> None:
    result = await run_https(http_pool, server_tls("expired"), ca_file=ca_file)
    assert result.metrics["cert_days_left"] == pytest.approx(-EXPIRED_DAYS_AGO - 1 / 24,
                                                             abs=0.01)


@pytest.mark.parametrize("kind", ["expired", "wrong_host", "self_signed"])
async def test_with_verification_off_any_certificate_is_accepted_and_measured(
        http_pool: HttpClientPool, server_tls: Callable[[str], ssl.SSLContext], kind: str) -> None:
    result = await run_https(http_pool, server_tls(kind), verify_tls=False)
    assert result.status is Status.OK, result
    expected = -EXPIRED_DAYS_AGO - 1 / 24 if kind == "expired" else VALID_DAYS
    assert result.metrics["cert_days_left"] == pytest.approx(expected, abs=0.01)


async def test_https_to_a_server_that_speaks_plain_http_fails_the_handshake(
        http_pool: HttpClientPool) -> None:
    async with BannerServer(banner=b"HTTP/1.1 400 Bad Request\r\n\r\n") as srv:
        check = HttpCheck("site", HttpOptions(url=f"https://127.0.0.1:{srv.port}/"))
        result = await check.run(CheckContext(check_name="site", host="h", timeout=TIMEOUT,
                                              http_client_factory=http_pool))
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("TLS handshake failed: "), result.summary


# --- the words, as a table -----------------------------------------------------------------

NOW = 1_800_000_000.0
DAY = 86400.0


def cert(not_before: float = NOW - 10 * DAY, not_after: float = NOW + 30 * DAY,
         names: tuple[str, ...] = ("other.example",)) -> CertInfo:
    return CertInfo(not_before, not_after, names[0] if names else None, names, (), False)


def verify_error(code: int, message: str = "details") -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    err.verify_code = code
    err.verify_message = message
    return err


@pytest.mark.parametrize(("code", "presented", "summary"), [
    (VerifyCode.CERT_HAS_EXPIRED, cert(not_after=NOW - 3.5 * DAY),
     "TLS: certificate expired 3d 12h ago"),
    (VerifyCode.CERT_HAS_EXPIRED, cert(not_after=NOW - 1.2 * DAY),
     "TLS: certificate expired 1d 4h ago"),
    (VerifyCode.CERT_HAS_EXPIRED, cert(not_after=NOW - 600),
     "TLS: certificate expired 10m ago"),
    (VerifyCode.CERT_HAS_EXPIRED, cert(), "TLS: a certificate in the chain has expired"),
    (VerifyCode.CERT_HAS_EXPIRED, None, "TLS: certificate expired"),
    (VerifyCode.CERT_NOT_YET_VALID, cert(not_before=NOW + 2 * DAY),
     "TLS: certificate is not valid before 2027-01-17"),
    (VerifyCode.HOSTNAME_MISMATCH, cert(), "TLS: certificate is for other.example, not localhost"),
    (VerifyCode.HOSTNAME_MISMATCH, cert(names=("a.example", "b.example", "c.example",
                                             "d.example", "e.example")),
     "TLS: certificate is for a.example, b.example, c.example and 2 more, not localhost"),
    (VerifyCode.HOSTNAME_MISMATCH, None, "TLS: certificate is not valid for localhost"),
    (VerifyCode.DEPTH_ZERO_SELF_SIGNED_CERT, cert(), "TLS: self-signed certificate"),
    (VerifyCode.SELF_SIGNED_CERT_IN_CHAIN, cert(),
     "TLS: self-signed certificate in the chain (untrusted root)"),
    (VerifyCode.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, cert(),
     "TLS: certificate is not from a trusted authority (details)"),
    (VerifyCode.CERT_REVOKED, cert(), "TLS: certificate has been revoked"),
    (99, cert(), "TLS: certificate verification failed: details"),
])
def test_verification_failures_in_words(code: int, presented: CertInfo | None, summary: str | None
        ) -> None:
    assert describe_tls_failure(verify_error(code), presented, "localhost", NOW) == summary


def test_other_handshake_failures_name_the_reason() -> None:
    err = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    err.reason = "WRONG_VERSION_NUMBER"
    assert describe_tls_failure(err, None, "h", NOW) == "TLS handshake failed: wrong version number"


async def test_fetching_a_certificate_from_nothing_gives_none() -> None:
    from agent.ipfamily import IpFamily
    from tests.servers.sockets import refused_port

    with refused_port() as port:
        assert await http_tls.fetch_certificate("127.0.0.1", port, IpFamily.ANY, 0.5) is None


def test_the_certificate_of_a_missing_stream_is_none() -> None:
    assert http_tls.peer_certificate(None) is None
    assert http_tls.certificate_of(None) is None


def test_test_certs_are_what_they_claim(tls_certs: TestCerts) -> None:
    # Guards the fixtures the tests above rely on.
    assert tls_certs.self_signed.chain_pem.count(b"BEGIN CERTIFICATE") == 1
