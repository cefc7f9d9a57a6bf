"""The certificate an HTTPS server presented, and a failed handshake in plain words.

``cert_days_left`` comes from the certificate on the connection that answered (read as DER,
so it works with verification off too). When verification fails, the handshake is repeated
once without verification to fetch the certificate, so the summary can say *how* it is
wrong: "TLS: certificate expired 3 days ago", "TLS: certificate is for other.example, not
localhost", "TLS: self-signed certificate".
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from agent.ipfamily import IpFamily
from checks.tls.cert import parse_ip
from checks.tls.failures import handshake_failure, verify_failure
from checks.tls.probe import insecure_context
from checks.tls.x509_der import CertInfo, parse_certificate


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
    server_name = None if parse_ip(host.strip("[]")) is not None else host
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=insecure_context(), server_hostname=server_name or "",
                family=family.socket_family)
    except (OSError, TimeoutError, ssl.SSLError, UnicodeError):
        return None
    try:
        return certificate_of(writer.get_extra_info("ssl_object"))
    finally:
        writer.transport.abort()


def describe_tls_failure(err: ssl.SSLError, cert: CertInfo | None, host: str,
                         now: float) -> str:
    """The summary for a failed TLS handshake with ``host``; ``cert`` is the one presented
    (when it could be fetched)."""
    if not isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: {handshake_failure(err)}"
    code = getattr(err, "verify_code", None)
    message = getattr(err, "verify_message", None) or "certificate verify failed"
    return f"TLS: {verify_failure(code, message, cert, host, now)}"
