"""The tls check against real TLS servers on 127.0.0.1, with certificates made here."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from agent.alerting.judge import Judge
from agent.check import CheckContext, load_kind
from agent.clock import FakeClock
from agent.config.models import CheckConfig
from agent.model import CheckResult, Sample, Status
from checks.tls.cert import CertInfo, matches_host
from checks.tls.check import ChainError, TlsCheck, TlsOptions, judge
from checks.tls.probe import StartTls
from tests.ports import free_port

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- certificates --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def leaf_context(ca: trustme.CA, *names: str, not_before: dt.datetime | None = None,
                 not_after: dt.datetime | None = None) -> ssl.SSLContext:
    """A server context with a leaf for ``names`` signed by ``ca``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names, not_before=not_before, not_after=not_after).configure_cert(ctx)
    return ctx


def self_signed_context(name: str, tmp: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for ``name``, built with cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "self.pem", tmp / "self.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


# --- servers -------------------------------------------------------------------------------

async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.read(100), 5)
    writer.close()


@contextlib.asynccontextmanager
async def serve(handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Run ``handler`` on 127.0.0.1 at a free port; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=ssl_ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def starttls_handler(proto: StartTls, ssl_ctx: ssl.SSLContext, *, offer: bool = True,
                     heard: list[str] | None = None) -> Handler:
    """A tiny mail server that upgrades to TLS the way ``proto`` does."""
    script = {
        StartTls.SMTP: (b"220 mail.test ESMTP\r\n", b"STARTTLS", b"220 2.0.0 go ahead\r\n"),
        StartTls.IMAP: (b"* OK IMAP4rev1 ready\r\n", b"A1 STARTTLS",
                        b"* CAPABILITY IMAP4rev1\r\na1 OK begin TLS\r\n"),
        StartTls.POP3: (b"+OK POP3 ready\r\n", b"STLS", b"+OK begin TLS\r\n"),
    }[proto]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        greeting, command, go_ahead = script
        try:
            writer.write(greeting)
            if proto is StartTls.SMTP:
                line = await reader.readline()
                if heard is not None:
                    heard.append(line.decode().strip())
                last = b"250 STARTTLS\r\n" if offer else b"250 8BITMIME\r\n"
                writer.write(b"250-mail.test\r\n250-SIZE 1000000\r\n" + last)
            line = await reader.readline()
            if line.strip().upper() != command:
                writer.write(b"502 no\r\n")
                await writer.drain()
                return
            writer.write(go_ahead)
            await writer.drain()
            await writer.start_tls(ssl_ctx)
            await asyncio.wait_for(reader.read(100), 5)
        except (OSError, ssl.SSLError, TimeoutError):
            pass
        finally:
            writer.close()

    return handle




async def run_check(clock: FakeClock | None = None, timeout: float = 5.0,
                    **options: Any) -> CheckResult:
    options.setdefault("host", "127.0.0.1")
    check = TlsCheck("site", TlsOptions(**options))
    ctx = CheckContext(check_name="site", host="probe.test", timeout=timeout)
    if clock is not None:
        ctx.clock = clock
    result = await check.run(ctx)
    assert result.problems() == []
    assert set(result.metrics) <= TlsCheck.metrics
    return result


# --- the check against real servers --------------------------------------------------------

@dataclass(frozen=True)
class ServedCert:
    """A leaf served by a real server, and what the check must say about it."""

    id: str
    names: tuple[str, ...]
    status: Status
    summary: str
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None


SERVED = [
    ServedCert("valid", ("localhost",), Status.OK, "TLS 1.3, certificate valid for"),
    ServedCert("expired", ("localhost",), Status.CRITICAL, "certificate expired 3d",
               NOW - 30 * DAY, NOW - 3 * DAY),
    ServedCert("wrong-host", ("other.example",), Status.CRITICAL,
               "certificate is for other.example, not localhost"),
    ServedCert("warn-days", ("localhost",), Status.WARNING,
               "TLS 1.3, certificate valid for 10d", NOW - DAY,
               NOW + 10 * DAY + dt.timedelta(hours=1)),
    ServedCert("crit-days", ("localhost",), Status.CRITICAL,
               "TLS 1.3, certificate valid for 3d", NOW - DAY,
               NOW + 3 * DAY + dt.timedelta(hours=1)),
]


async def test_the_days_left_in_the_summary_are_those_of_the_metric(ca: trustme.CA,
                                                                   ca_file: Path) -> None:
    """20 s short of 10 days: the metric (to 3 decimals) is 10 and its alert says
    ``cert_days_left 10d < 21d``; the summary said ``valid for 9d 23h more`` beside it."""
    now = dt.datetime.now(dt.UTC)  # not NOW: the module's other tests take their time
    ctx = leaf_context(ca, "localhost", not_before=now - DAY,
                       not_after=now + 10 * DAY - dt.timedelta(seconds=20))
    async with serve(_hold, ctx) as port:
        result = await run_check(port=port, server_name="localhost", ca_file=ca_file)
    assert result.metrics["cert_days_left"] == 10
    assert result.summary.startswith("TLS 1.3, certificate valid for 10d more "), result.summary


def judged(result: CheckResult, **options: Any) -> Status:
    options.setdefault("host", "127.0.0.1")
    rules = TlsCheck.default_thresholds(TlsOptions(**options))
    check = CheckConfig(name="site", kind="tls", interval=60, timeout=10, thresholds=rules)
    return Judge("h").judge(check, result, NOW.timestamp()).status


@pytest.mark.parametrize("case", SERVED, ids=lambda c: c.id)
async def test_certificate_verdicts_against_a_real_server(ca: trustme.CA, ca_file: Path,
                                                          case: ServedCert) -> None:
    ctx = leaf_context(ca, *case.names, not_before=case.not_before, not_after=case.not_after)
    async with serve(_hold, ctx) as port:
        result = await run_check(port=port, server_name="localhost", ca_file=ca_file)
    # Days left are judged by the thresholds warn_days/crit_days stand for, as the agent
    # judges them: one status, one alert.
    assert judged(result) is case.status
    assert result.summary.startswith(case.summary), result.summary
    not_after = case.not_after or dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # trustme default
    assert result.metrics["cert_days_left"] == pytest.approx((not_after - NOW) / DAY, abs=0.01)
    assert result.metrics["tls_version"] == 1.3
    assert result.metrics["hostname_match"] == (0.0 if case.id == "wrong-host" else 1.0)
    assert result.metrics["chain_valid"] == (0.0 if case.id == "expired" else 1.0)
    assert result.metrics["handshake_ms"] > 0


async def test_self_signed_certificate_is_critical_and_still_reports_days_left(
        tmp_path: Path) -> None:
    async with serve(_hold, self_signed_context("localhost", tmp_path)) as port:
        result = await run_check(port=port, server_name="localhost")
    assert (result.status, result.summary) == (Status.CRITICAL, "self-signed certificate")
    assert result.metrics["chain_valid"] == 0.0
    assert result.metrics["cert_days_left"] == pytest.approx(90, abs=0.01)


async def test_unknown_issuer_names_the_openssl_reason(ca: trustme.CA) -> None:
    async with serve(_hold, leaf_context(ca, "localhost")) as port:
        result = await run_check(port=port, server_name="localhost")  # CA not trusted
    assert result.status is Status.CRITICAL
    assert result.summary == ("certificate is not from a trusted authority "
                              "(unable to get local issuer certificate)")
    assert result.metrics["cert_days_left"] > 300_000


async def test_verify_false_judges_only_the_dates(tmp_path: Path) -> None:
    async with serve(_hold, self_signed_context("other.example", tmp_path)) as port:
        result = await run_check(port=port, verify=False)
    assert result.status is Status.OK
    assert result.summary.endswith("(not verified)")
    assert "chain_valid" not in result.metrics
    assert result.metrics["hostname_match"] == 0.0


async def test_ip_address_host_matches_an_ip_san(ca: trustme.CA, ca_file: Path) -> None:
    async with serve(_hold, leaf_context(ca, "127.0.0.1")) as port:
        result = await run_check(port=port, ca_file=ca_file)
    assert result.status is Status.OK, result.summary


async def test_days_left_follow_the_context_clock(ca: trustme.CA, ca_file: Path) -> None:
    not_after = NOW + 100 * DAY
    clock = FakeClock(start=(not_after - 5 * DAY).timestamp())
    async with serve(_hold, leaf_context(ca, "localhost", not_after=not_after)) as port:
        result = await run_check(clock, port=port, server_name="localhost", ca_file=ca_file)
    assert result.summary.startswith("TLS 1.3, certificate valid for "), result.summary
    assert result.metrics["cert_days_left"] == pytest.approx(5)


@pytest.mark.parametrize("proto", [StartTls.SMTP, StartTls.IMAP, StartTls.POP3])
async def test_starttls_upgrades_then_reads_the_certificate(
        ca: trustme.CA, ca_file: Path, proto: StartTls) -> None:
    heard: list[str] = []
    handler = starttls_handler(proto, leaf_context(ca, "localhost"), heard=heard)
    async with serve(handler) as port:
        result = await run_check(port=port, server_name="localhost", ca_file=ca_file,
                                 starttls=proto.value)
    assert result.status is Status.OK, result.summary
    assert result.metrics["chain_valid"] == 1.0
    if proto is StartTls.SMTP:
        assert heard == ["EHLO probe.test"]


async def test_smtp_starttls_with_expired_certificate_reads_it_in_a_second_dialogue(
        ca: trustme.CA, ca_file: Path) -> None:
    ctx = leaf_context(ca, "localhost", not_before=NOW - 30 * DAY, not_after=NOW - 3 * DAY)
    async with serve(starttls_handler(StartTls.SMTP, ctx)) as port:
        result = await run_check(port=port, server_name="localhost", ca_file=ca_file,
                                 starttls="smtp")
    assert result.summary == "certificate expired 3d ago"
    assert judged(result) is Status.CRITICAL  # through cert_days_left, the one alert
    assert result.metrics["cert_days_left"] == pytest.approx(-3, abs=0.01)


async def test_smtp_server_without_starttls_is_critical(ca: trustme.CA) -> None:
    handler = starttls_handler(StartTls.SMTP, leaf_context(ca, "localhost"), offer=False)
    async with serve(handler) as port:
        result = await run_check(port=port, starttls="smtp")
    assert result.status is Status.CRITICAL
    assert result.summary == f"SMTP server at 127.0.0.1:{port} does not offer STARTTLS"


async def test_refused_connection_is_critical() -> None:
    port = free_port()
    result = await run_check(port=port)
    assert (result.status, result.summary) == (Status.CRITICAL,
                                               f"connection refused by 127.0.0.1:{port}")


async def test_silent_server_times_out_before_the_hard_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()

    async with serve(silent) as port:
        result = await run_check(port=port, timeout=0.5)
    assert result.status is Status.CRITICAL
    assert result.summary == f"timeout after 450ms during the TLS handshake with 127.0.0.1:{port}"


async def test_plain_text_server_fails_the_handshake() -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n" * 20)
        await writer.drain()
        await _hold(reader, writer)

    async with serve(banner) as port:
        result = await run_check(port=port)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(f"TLS handshake with 127.0.0.1:{port} failed: ")


# --- pure judgement ------------------------------------------------------------------------

def cert(days_left: float, names: tuple[str, ...] = ("shop.example",)) -> CertInfo:
    now = NOW.timestamp()
    return CertInfo(not_before=now - 30 * 86400, not_after=now + days_left * 86400,
                    subject_cn="shop.example", dns_names=names, ip_addresses=(),
                    self_issued=False)


@dataclass(frozen=True)
class Judged:
    """A certificate's days left and the verification outcome, and the expected verdict."""

    id: str
    days: float
    status: Status
    summary: str
    chain: ChainError | None = None
    verify: bool = True


JUDGED = [
    Judged("ok", 30.5, Status.OK, "TLS 1.3, certificate valid for 30d 12h"),
    Judged("days-are-for-thresholds", 6.5, Status.OK,
           "TLS 1.3, certificate valid for 6d 12h more"),
    Judged("hours", 0.25, Status.OK, "TLS 1.3, certificate valid for 6h more"),
    # Expired is said, and judged by cert_days_left alone (one alert, not two).
    Judged("expired-hours", -0.2, Status.OK, "certificate expired 4h 48m ago"),
    Judged("expired-verify-off", -3.5, Status.OK, "certificate expired 3d 12h ago",
           verify=False),
    Judged("chain", 90, Status.CRITICAL,
           "certificate is not from a trusted authority (unable to get local issuer "
           "certificate)",
           chain=ChainError(20, "unable to get local issuer certificate")),
    Judged("chain-verify-off", 90, Status.OK, "TLS 1.3, certificate valid",
           chain=ChainError(18, "self-signed certificate"), verify=False),
    Judged("expired-intermediate", 90, Status.CRITICAL,
           "a certificate in the chain has expired",
           chain=ChainError(10, "certificate has expired")),
    Judged("expired-is-said-once", -3.5, Status.OK, "certificate expired 3d 12h ago",
           chain=ChainError(10, "certificate has expired")),
]


@pytest.mark.parametrize("case", JUDGED, ids=lambda c: c.id)
def test_judge_table(case: Judged) -> None:
    verdict = judge(cert(case.days), version="TLSv1.3", server_name="shop.example",
                    now=NOW.timestamp(), verify=case.verify, chain_error=case.chain)
    assert verdict.status is case.status
    assert verdict.summary.startswith(case.summary), verdict.summary
    if case.id == "expired-is-said-once":
        assert verdict.summary == case.summary


def test_judge_names_every_fault_at_once() -> None:
    verdict = judge(cert(-2.5, names=("a.example", "b.example", "c.example", "d.example")),
                    version="TLSv1.2", server_name="shop.example", now=NOW.timestamp(),
                    verify=True, chain_error=ChainError(18, "self-signed certificate"))
    assert verdict.summary == ("certificate expired 2d 12h ago; self-signed certificate; "
                               "certificate is for a.example, b.example, c.example and 1 more,"
                               " not shop.example")


@pytest.mark.parametrize(("names", "ips", "cn", "host", "matches"), [
    (("shop.example",), (), "", "shop.example", True),
    (("shop.example",), (), "", "SHOP.example.", True),
    (("*.example.com",), (), "", "www.example.com", True),
    (("*.example.com",), (), "", "a.b.example.com", False),
    (("*.example.com",), (), "", "example.com", False),
    (("*.com",), (), "", "example.com", False),
    (("w*.example.com",), (), "", "www.example.com", False),
    ((), ("127.0.0.1",), "", "127.0.0.1", True),
    (("127.0.0.1",), (), "", "127.0.0.1", False),  # a DNS SAN never matches an IP
    ((), ("::1",), "", "[::1]", True),
    ((), (), "legacy.example", "legacy.example", True),  # CN only without any SAN
    (("new.example",), (), "legacy.example", "legacy.example", False),
])
def test_host_name_matching(names: tuple[str, ...], ips: tuple[str, ...], cn: str, host: str,
                            matches: bool) -> None:
    info = CertInfo(not_before=0, not_after=0, subject_cn=cn or None, dns_names=names,
                    ip_addresses=ips, self_issued=False)
    assert matches_host(info, host) is matches


# --- options -------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"host": "x.example", "port": 0}, "port must be from 1 to 65535, got 0"),
    ({"host": "x.example", "port": 70000}, "port must be from 1 to 65535, got 70000"),
    ({"host": "x.example", "starttls": "ftp"}, "starttls must be one of none, smtp, imap"),
    ({"host": "x.example", "ca_file": "/nonexistent/ca.pem"},
     "CA file /nonexistent/ca.pem does not exist"),
    ({"host": "x.example", "warn_days": 5, "crit_days": 10},
     "crit_days (10) must not be more than warn_days (5)"),
    ({"host": "x.example:443"}, "give the port in 'port:'"),
    ({"host": ""}, "expected a host name or IP address"),
    ({"host": "x.example", "hostname": "y"}, "Extra inputs are not permitted"),
])
def test_bad_options_are_rejected_with_a_clear_message(options: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValidationError) as err:
        TlsOptions(**options)
    assert message in str(err.value)


def test_ca_file_that_is_not_pem_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("hello")
    with pytest.raises(ValidationError, match="cannot be used"):
        TlsOptions(host="x.example", ca_file=bad)


@pytest.mark.parametrize(("starttls", "port"), [
    ("none", 443), ("smtp", 25), ("IMAP", 143), ("pop3", 110), (False, 443)])
def test_default_port_follows_starttls(starttls: str | bool, port: int) -> None:
    options = TlsOptions.model_validate({"host": "x.example", "starttls": starttls})
    assert options.effective_port == port


def test_tls_kind_is_registered() -> None:
    assert load_kind("tls") is TlsCheck


@pytest.mark.parametrize(("yaml_thresholds", "days", "statuses"), [
    ("", 10, [Status.WARNING]),
    ("", 3, [Status.CRITICAL]),
    ("", 30, []),
    ('\n    thresholds:\n      cert_days_left: {warn: "< 40", crit: "< 14"}', 30,
     [Status.WARNING]),
    ('\n    thresholds:\n      cert_days_left: {crit: "< 2"}', 10, []),
    ("", -3, [Status.CRITICAL]),
    ('\n    thresholds:\n      cert_days_left: {warn: "< 40", crit: "< 14"}', -0.5,
     [Status.CRITICAL]),
])
def test_days_left_are_one_alert_on_cert_days_left(
        tmp_path: Path, yaml_thresholds: str, days: float, statuses: list[Status]) -> None:
    """warn_days/crit_days are the default thresholds of cert_days_left, and the check's
    own status does not judge days again: ten days left is one problem, not two."""
    from agent.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path}\nchecks:\n  - name: site\n"
                    f"    kind: tls\n    host: shop.example{yaml_thresholds}\n")
    (check,) = load_config(path).checks
    info = cert(days)
    verdict = judge(info, version="TLSv1.3", server_name="shop.example", now=NOW.timestamp(),
                    verify=True, chain_error=None)
    result = CheckResult(verdict.status, verdict.summary,
                         (Sample("cert_days_left", info.days_left(NOW.timestamp())),))
    found = Judge("h").judge(check, result, NOW.timestamp())
    assert [f.status for f in found.problems()] == statuses
    assert all(f.key.metric == "cert_days_left" for f in found.problems())
