"""The ``tls`` check: a server's certificate (days left, chain, host name) and TLS version.

Works on any host:port, directly or after STARTTLS (SMTP, IMAP, POP3). The check's own
status is CRITICAL for a not yet valid, self-signed, unverifiable or wrongly named
certificate. ``warn_days`` / ``crit_days`` (21 and 7 by default) are the default
thresholds of ``cert_days_left`` (``thresholds: cert_days_left:`` replaces them), so a
certificate running out, or run out (negative days), is one alert, on ``cert_days_left``.
``cert_days_left`` is reported even when the chain does not verify: the certificate is
then read in a second, non-verifying handshake.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult, Status
from agent.thresholds.rules import ThresholdRule, parse_comparison
from agent.timefmt import utc_date
from checks.shared.net import CaFile, Host, Port, host_port
from checks.tls.cert import CertInfo, day_span, matches_host, parse_certificate
from checks.tls.failures import expired, not_valid_yet, verify_failure, wrong_name
from checks.tls.probe import (
    ChainVerifyError,
    Handshake,
    ProbeError,
    StartTls,
    handshake,
    insecure_context,
    verifying_context,
)

#: Share of the check's timeout the handshakes may use, so that our own precise
#: "timeout after ..." wins over the agent's hard timeout.
_TIMEOUT_SHARE = 0.9

_VERSIONS = {"TLSv1.3": 1.3, "TLSv1.2": 1.2, "TLSv1.1": 1.1, "TLSv1": 1.0, "SSLv3": 0.3}


class TlsOptions(CheckOptions):
    """Options of the ``tls`` check."""

    host: Host
    #: Default: 443, or the usual port of the ``starttls`` protocol (25, 143, 110).
    port: Port | None = None
    #: Name sent as SNI and matched against the certificate (default: ``host``).
    server_name: Host | None = None
    starttls: StartTls = StartTls.NONE
    #: Extra CA certificates (PEM) trusted besides the system store, for a private PKI.
    ca_file: CaFile | None = None
    #: Check the chain and the host name. Off: only dates and version are judged.
    verify: bool = True
    #: The check turns WARNING / CRITICAL when fewer days are left (null: never).
    warn_days: float | None = Field(default=21.0, ge=0)
    crit_days: float | None = Field(default=7.0, ge=0)

    @field_validator("starttls", mode="before")
    @classmethod
    def _starttls(cls, v: Any) -> Any:
        if v is None or v is False:  # YAML reads a bare ``no`` as false
            return StartTls.NONE
        if isinstance(v, str):
            text = v.strip().lower()
            if text not in {s.value for s in StartTls}:
                raise ValueError(f"starttls must be one of none, smtp, imap, pop3, got {v!r}")
            return text
        return v

    @model_validator(mode="after")
    def _days_order(self) -> TlsOptions:
        if (self.warn_days is not None and self.crit_days is not None
                and self.crit_days > self.warn_days):
            raise ValueError(f"crit_days ({self.crit_days:g}) must not be more than "
                             f"warn_days ({self.warn_days:g})")
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else self.starttls.default_port

    @property
    def effective_server_name(self) -> str:
        return self.server_name or self.host


@dataclass(frozen=True, slots=True)
class ChainError:
    """Why the chain did not verify, as OpenSSL said it."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class TlsVerdict:
    """The check's own judgement of one handshake."""

    status: Status
    summary: str
    host_matches: bool


def version_label(version: str) -> str:
    """``TLSv1.3`` -> ``TLS 1.3`` (``TLSv1`` -> ``TLS 1.0``)."""
    if version == "TLSv1":
        return "TLS 1.0"
    return version.replace("TLSv", "TLS ")


def days_left_metric(info: CertInfo, now: float) -> float:
    """``cert_days_left``: the days left, to about a minute."""
    return round(info.days_left(now), 3)


def judge(info: CertInfo, *, version: str, server_name: str, now: float, verify: bool,
          chain_error: ChainError | None) -> TlsVerdict:
    """The check's status and summary for a certificate met at ``now``.

    Hard faults (not yet valid, chain, name) are CRITICAL and named precisely; otherwise it
    is OK and says how long the certificate is still valid. The days left are judged by
    the thresholds of ``cert_days_left`` only, an expired certificate's too (it is said,
    but it is one alert, on ``cert_days_left``, not a second one on the status).
    """
    host_matches = matches_host(info, server_name)
    days_left = info.days_left(now)
    expiry = expired(info, now) if days_left < 0 else None
    faults: list[str] = []
    if info.not_before > now:
        faults.append(not_valid_yet(info))
    if verify and chain_error is not None:
        words = verify_failure(chain_error.code, chain_error.message, info, server_name, now)
        # OpenSSL's "expired" / "not yet valid" about the leaf itself is said already.
        if words not in faults and words != expiry:
            faults.append(words)
    if verify and not host_matches:
        faults.append(wrong_name(info, server_name))
    if faults:
        said = [expiry, *faults] if expiry else faults
        return TlsVerdict(Status.CRITICAL, "; ".join(said), host_matches)
    if expiry:
        return TlsVerdict(Status.OK, expiry, host_matches)

    label = version_label(version)
    until = f"until {utc_date(info.not_after)}"
    checked = "" if verify else " (not verified)"
    # The metric's figure, so the summary says what the cert_days_left alert says.
    shown = day_span(days_left_metric(info, now))
    return TlsVerdict(Status.OK, f"{label}, certificate valid for {shown} more "
                      f"({until}){checked}", host_matches)


class TlsCheck(Check[TlsOptions]):
    """Certificate expiry, chain, host name and protocol version of a TLS server."""

    kind: ClassVar[str] = "tls"
    Options: ClassVar[type[CheckOptions]] = TlsOptions
    metrics: ClassVar[frozenset[str]] = frozenset(
        {"cert_days_left", "tls_version", "handshake_ms", "chain_valid", "hostname_match"})

    @classmethod
    def targets(cls, options: TlsOptions) -> tuple[str, ...]:
        return (str(options.host),)

    @classmethod
    def where(cls, options: TlsOptions) -> str | None:
        return host_port(str(options.host), options.effective_port)

    @classmethod
    def default_thresholds(cls, options: Any) -> dict[str, ThresholdRule]:
        """``cert_days_left`` below ``warn_days`` warns, below ``crit_days`` is critical."""
        o: TlsOptions = options
        metric = "cert_days_left"
        warn = parse_comparison(f"< {o.warn_days:g}", metric) if o.warn_days else None
        crit = parse_comparison(f"< {o.crit_days:g}", metric) if o.crit_days else None
        if warn is None and crit is None:
            return {}
        return {metric: ThresholdRule(metric, warn=warn, crit=crit)}

    def __init__(self, name: str, options: TlsOptions) -> None:
        super().__init__(name, options)
        self._verifying: ssl.SSLContext | None = None

    def _verifying_context(self) -> ssl.SSLContext:
        # Loading the system trust store costs a few ms: do it once per check.
        if self._verifying is None:
            ca = str(self.options.ca_file) if self.options.ca_file else None
            self._verifying = verifying_context(ca)
        return self._verifying

    async def _handshake(self, ctx: CheckContext, context: ssl.SSLContext,
                         timeout: float) -> Handshake:
        o = self.options
        return await handshake(o.host, o.effective_port, server_name=o.effective_server_name,
                               context=context, timeout=timeout, starttls=o.starttls,
                               client_name=ctx.host or "localhost")

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Handshake (verifying, then without verifying if the chain fails) and judge."""
        o = self.options
        budget = ctx.timeout * _TIMEOUT_SHARE
        start = ctx.clock.monotonic()
        chain_error: ChainError | None = None
        try:
            if not o.verify:
                hs = await self._handshake(ctx, insecure_context(), budget)
            else:
                try:
                    hs = await self._handshake(ctx, self._verifying_context(), budget)
                except ChainVerifyError as e:
                    chain_error = ChainError(e.code, e.message)
                    left = max(budget - (ctx.clock.monotonic() - start), 0.1)
                    hs = await self._handshake(ctx, insecure_context(), left)
        except ProbeError as e:
            if chain_error is not None:
                words = verify_failure(chain_error.code, chain_error.message, None,
                                       o.effective_server_name, ctx.clock.wall())
                text = f"{words}; then {e}"
                return CheckResult.failed(Status.CRITICAL, text, error=text)
            return CheckResult.failed(Status.CRITICAL, str(e), error=str(e))
        try:
            info = parse_certificate(hs.certificate_der)
        except ValueError as e:
            text = f"the certificate sent by {o.host} cannot be read: {e}"
            return CheckResult.failed(Status.CRITICAL, text, error=text)

        verdict = judge(info, version=hs.version, server_name=o.effective_server_name,
                        now=ctx.clock.wall(), verify=o.verify, chain_error=chain_error)
        metrics: dict[str, float] = {
            "cert_days_left": days_left_metric(info, ctx.clock.wall()),
            "handshake_ms": round(hs.elapsed_ms, 2),
            "hostname_match": 1.0 if verdict.host_matches else 0.0,
        }
        if hs.version in _VERSIONS:
            metrics["tls_version"] = _VERSIONS[hs.version]
        if o.verify:
            metrics["chain_valid"] = 0.0 if chain_error is not None else 1.0
        if verdict.status is Status.OK:
            return CheckResult.ok(verdict.summary, metrics)
        return CheckResult.failed(verdict.status, verdict.summary, metrics=metrics)
