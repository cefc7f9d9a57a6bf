"""A certificate that fails verification, in words: OpenSSL's codes and what they mean.

Both the ``tls`` and the ``http`` check explain a failed verification the same way
("certificate expired 3 days ago", "certificate is for other.example, not localhost",
"self-signed certificate"), from the code OpenSSL gave and, when it could be read, the
certificate the server presented.
"""

from __future__ import annotations

import enum
import ssl

from agent.timefmt import utc_date
from checks.tls.cert import day_span, format_names
from checks.tls.x509_der import CertInfo


class VerifyCode(enum.IntEnum):
    """The OpenSSL ``X509_V_ERR_*`` codes that get words of their own
    (``ssl.SSLCertVerificationError.verify_code``)."""

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


_UNTRUSTED = {VerifyCode.UNABLE_TO_GET_ISSUER_CERT,
              VerifyCode.UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
              VerifyCode.UNABLE_TO_VERIFY_LEAF_SIGNATURE}
_NAME_MISMATCH = {VerifyCode.HOSTNAME_MISMATCH, VerifyCode.IP_ADDRESS_MISMATCH}


def expired(cert: CertInfo, now: float) -> str:
    """``certificate expired 3 days ago``."""
    return f"certificate expired {day_span(-cert.days_left(now))} ago"


def not_valid_yet(cert: CertInfo) -> str:
    """``certificate is not valid before 2027-01-17``."""
    return f"certificate is not valid before {utc_date(cert.not_before)}"


def wrong_name(cert: CertInfo | None, host: str) -> str:
    """``certificate is for other.example, not localhost``."""
    if cert is None or not cert.names:
        return f"certificate is not valid for {host}"
    return f"certificate is for {format_names(cert.names)}, not {host}"


def verify_failure(code: int | None, message: str, cert: CertInfo | None, host: str,
                   now: float) -> str:
    """Why verifying the certificate of ``host`` failed with OpenSSL's ``code`` and
    ``message``; ``cert`` is the one presented, when it could be read.

    An expiry or start date that is not the presented certificate's own is said to be
    another certificate's of the chain.
    """
    if code == VerifyCode.CERT_HAS_EXPIRED:
        if cert is None:
            return "certificate expired"
        if cert.not_after > now:
            return "a certificate in the chain has expired"
        return expired(cert, now)
    if code == VerifyCode.CERT_NOT_YET_VALID:
        if cert is None or cert.not_before <= now:
            return "a certificate in the chain is not valid yet"
        return not_valid_yet(cert)
    if code in _NAME_MISMATCH:
        return wrong_name(cert, host)
    if code == VerifyCode.DEPTH_ZERO_SELF_SIGNED_CERT:
        return "self-signed certificate"
    if code == VerifyCode.SELF_SIGNED_CERT_IN_CHAIN:
        return "self-signed certificate in the chain (untrusted root)"
    if code in _UNTRUSTED:
        return f"certificate is not from a trusted authority ({message})"
    if code == VerifyCode.CERT_REVOKED:
        return "certificate has been revoked"
    return f"certificate verification failed: {message}"


def handshake_failure(err: ssl.SSLError) -> str:
    """What went wrong in a handshake that failed for another reason than the certificate:
    OpenSSL's reason in words (``wrong version number``)."""
    reason = getattr(err, "reason", None)
    return reason.lower().replace("_", " ") if reason else str(err)
