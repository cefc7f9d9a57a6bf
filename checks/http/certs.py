"""The certificate an HTTPS server presented, and TLS failures in plain words.

``cert_days_left`` comes from the certificate on the connection that answered (read as DER,
so it works with verification off too). When verification fails, the handshake is repeated
once without verification to fetch the certificate, so the summary can say *how* it is
wrong: "TLS: certificate expired 3 days ago", "TLS: certificate is for other.example, not
localhost", "TLS: self-signed certificate".
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from typing import Any

from agent.ipfamily import IpFamily
from agent.units import format_duration
from checks.tls.x509_der import CertInfo, parse_certificate

# OpenSSL X509_V_ERR_* codes (SSLCertVerificationError.verify_code).
UNABLE_TO_GET_ISSUER_CERT = 2
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
CERT_REVOKED = 23
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64

_UNTRUSTED = {UNABLE_TO_GET_ISSUER_CERT, UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
              UNABLE_TO_VERIFY_LEAF_SIGNATURE}
_FAMILIES = {IpFamily.ANY: socket.AF_UNSPEC, IpFamily.IPV4: socket.AF_INET,
             IpFamily.IPV6: socket.AF_INET6}
_NAMES_SHOWN = 3


def certificate_of(ssl_object: Any) -> CertInfo | None:
    """The peer certificate of an ``ssl.SSLObject``/``SSLSocket``, or None."""
    if ssl_object is None:
        return None
    try:
        der = ssl_object.getpeercert(binary_form=True)
    except (ValueError, ssl.SSLError):  # handshake not done / connection gone
        return None
    if not der:
        return None
    try:
        return parse_certificate(der)
    except ValueError:
        return None


def peer_certificate(network_stream: Any) -> CertInfo | None:
    """The certificate on an httpcore network stream (``response.extensions``), or None."""
    if network_stream is None:
        return None
    return certificate_of(network_stream.get_extra_info("ssl_object"))


async def fetch_certificate(host: str, port: int, family: IpFamily,
                            timeout: float) -> CertInfo | None:
    """Handshake once without verification and return the presented certificate.

    Used only to explain a verification failure; every error is swallowed (None).
    """
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    server_name = None if _is_ip(host) else host
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=ctx, server_hostname=server_name or "",
                family=_FAMILIES[family])
    except (OSError, TimeoutError, ssl.SSLError, UnicodeError):
        return None
    try:
        return certificate_of(writer.get_extra_info("ssl_object"))
    finally:
        writer.transport.abort()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def describe_tls_failure(err: ssl.SSLError, cert: CertInfo | None, host: str,
                         now: float) -> str:
    """The summary for a failed TLS handshake with ``host``; ``cert`` is the one presented
    (when it could be fetched)."""
    if not isinstance(err, ssl.SSLCertVerificationError):
        reason = getattr(err, "reason", None)
        detail = reason.lower().replace("_", " ") if reason else str(err)
        return f"TLS handshake failed: {detail}"
    code = getattr(err, "verify_code", None)
    message = getattr(err, "verify_message", None) or "certificate verify failed"
    if code == CERT_HAS_EXPIRED:
        if cert is None:
            return "TLS: certificate expired"
        if cert.not_after > now:
            return "TLS: a certificate in the chain has expired"
        return f"TLS: certificate expired {_ago(now - cert.not_after)}"
    if code == CERT_NOT_YET_VALID:
        if cert is None or cert.not_before <= now:
            return "TLS: a certificate in the chain is not valid yet"
        return f"TLS: certificate is not valid before {_date(cert.not_before)}"
    if code in (HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH):
        if cert is None or not cert.names:
            return f"TLS: certificate is not valid for {host}"
        return f"TLS: certificate is for {_names(cert.names)}, not {host}"
    if code == DEPTH_ZERO_SELF_SIGNED_CERT:
        return "TLS: self-signed certificate"
    if code == SELF_SIGNED_CERT_IN_CHAIN:
        return "TLS: self-signed certificate in the chain (untrusted root)"
    if code in _UNTRUSTED:
        return f"TLS: certificate is not from a trusted authority ({message})"
    if code == CERT_REVOKED:
        return "TLS: certificate has been revoked"
    return f"TLS: certificate verification failed: {message}"


def _ago(seconds: float) -> str:
    return f"{format_duration(seconds)} ago"


def _date(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")

