"""Certificates for TLS tests, made on the spot with trustme (and cryptography, which
trustme brings along, for the self-signed one). Nothing here touches the network."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: How long ago the ``expired`` certificate stopped being valid.
EXPIRED_DAYS_AGO = 3
#: How long the ``valid`` certificate has left.
VALID_DAYS = 90


@dataclass(frozen=True)
class ServerCert:
    """A certificate chain and key in PEM, ready for a server's SSLContext."""

    chain_pem: bytes
    key_pem: bytes

    def server_context(self, tmp: Path) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert = tmp / f"cert-{id(self)}.pem"
        key = tmp / f"key-{id(self)}.pem"
        cert.write_bytes(self.chain_pem)
        key.write_bytes(self.key_pem)
        ctx.load_cert_chain(cert, key)
        return ctx


@dataclass(frozen=True)
class TestCerts:
    """A CA (write ``ca_pem`` to a file and trust it) and server certificates it issued."""

    __test__ = False  # not a pytest test class, despite the name

    ca_pem: bytes
    valid: ServerCert
    expired: ServerCert
    wrong_host: ServerCert
    self_signed: ServerCert

    def ca_file(self, tmp: Path) -> Path:
        path = tmp / "ca.pem"
        path.write_bytes(self.ca_pem)
        return path


def _leaf(cert: trustme.LeafCert) -> ServerCert:
    chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
    return ServerCert(chain, cert.private_key_pem.bytes())


def make_certs(now: dt.datetime | None = None) -> TestCerts:
    """Valid (localhost, 127.0.0.1, ::1), expired, wrong-host and self-signed certificates."""
    now = now or dt.datetime.now(dt.UTC)
    ca = trustme.CA()
    names = ("localhost", "127.0.0.1", "::1")
    valid = ca.issue_cert(*names, not_before=now - dt.timedelta(days=1),
                          not_after=now + dt.timedelta(days=VALID_DAYS))
    expired = ca.issue_cert(*names, not_before=now - dt.timedelta(days=30),
                            not_after=now - dt.timedelta(days=EXPIRED_DAYS_AGO, hours=1))
    wrong = ca.issue_cert("other.example", not_before=now - dt.timedelta(days=1),
                          not_after=now + dt.timedelta(days=VALID_DAYS))
    return TestCerts(ca.cert_pem.bytes(), _leaf(valid), _leaf(expired), _leaf(wrong),
                     self_signed_cert(names, now))


def self_signed_cert(names: tuple[str, ...], now: dt.datetime) -> ServerCert:
    """A certificate that signs itself (issuer == subject), for ``names``."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    return ServerCert(cert.public_bytes(serialization.Encoding.PEM),
                      key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
