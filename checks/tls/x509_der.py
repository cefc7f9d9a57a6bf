"""A tiny reader of DER-encoded X.509 certificates: just the fields checks report.

``ssl.SSLObject.getpeercert()`` returns an empty dict when verification is off, and the
standard library has no public certificate parser, so checks read the DER bytes
(``getpeercert(binary_form=True)``) here: validity dates, subject common name, subject
alternative names (DNS and IP) and whether the certificate signed itself. Anything
malformed raises ValueError; nothing here does I/O.
"""

from __future__ import annotations

import calendar
import ipaddress
from dataclasses import dataclass

_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OID = 0x06
_OCTET_STRING = 0x04
_BOOLEAN = 0x01
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_VERSION = 0xA0  # [0] EXPLICIT
_EXTENSIONS = 0xA3  # [3] EXPLICIT
_SAN_DNS = 0x82  # GeneralName dNSName [2] IMPLICIT IA5String
_SAN_IP = 0x87  # GeneralName iPAddress [7] IMPLICIT OCTET STRING

_OID_COMMON_NAME = bytes([0x55, 0x04, 0x03])  # 2.5.4.3
_OID_SUBJECT_ALT_NAME = bytes([0x55, 0x1D, 0x11])  # 2.5.29.17

_STRING_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                  0x1E: "utf-16-be", 0x1C: "utf-32-be"}


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What a check reports of a certificate. Times are seconds since the epoch (UTC)."""

    not_before: float
    not_after: float
    subject_cn: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    #: Issuer and subject are the same name (a self-signed certificate or a root CA).
    self_issued: bool

    @property
    def names(self) -> tuple[str, ...]:
        """The names the certificate is for: its SANs, else its common name."""
        alt = self.dns_names + self.ip_addresses
        if alt:
            return alt
        return (self.subject_cn,) if self.subject_cn else ()

    def days_left(self, now: float) -> float:
        """Days until ``not_after`` (negative once expired)."""
        return (self.not_after - now) / 86400.0


class _Reader:
    """Walks the TLVs of one DER value."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek_tag(self) -> int | None:
        return None if self.at_end() else self.data[self.pos]

    def read(self, expect: int | None = None) -> tuple[int, int, int]:
        """The next value as (tag, content start, content end); moves past it."""
        if self.pos + 2 > self.end:
            raise ValueError("certificate is truncated")
        tag = self.data[self.pos]
        if expect is not None and tag != expect:
            raise ValueError(f"unexpected DER tag 0x{tag:02x} (wanted 0x{expect:02x})")
        first = self.data[self.pos + 1]
        pos = self.pos + 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > self.end:
                raise ValueError("bad DER length")
            length = int.from_bytes(self.data[pos:pos + count], "big")
            pos += count
        if pos + length > self.end:
            raise ValueError("certificate is truncated")
        self.pos = pos + length
        return tag, pos, pos + length

    def enter(self, expect: int) -> _Reader:
        """A reader over the contents of the next value (which must have tag ``expect``)."""
        _, start, end = self.read(expect)
        return _Reader(self.data, start, end)

    def raw(self, expect: int) -> bytes:
        """The next value's whole encoding (tag and length included)."""
        begin = self.pos
        self.read(expect)
        return self.data[begin:self.pos]


def parse_certificate(der: bytes) -> CertInfo:
    """Read a DER certificate. Raises ValueError when it is not one."""
    try:
        return _parse(der)
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed certificate: {exc}") from None


def _parse(der: bytes) -> CertInfo:
    cert = _Reader(der).enter(_SEQUENCE)
    tbs = cert.enter(_SEQUENCE)
    if tbs.peek_tag() == _VERSION:
        tbs.read(_VERSION)
    tbs.read(_INTEGER)  # serial number
    tbs.read(_SEQUENCE)  # signature algorithm
    issuer = tbs.raw(_SEQUENCE)
    validity = tbs.enter(_SEQUENCE)
    not_before = _time(validity)
    not_after = _time(validity)
    subject_at = tbs.pos
    subject = tbs.raw(_SEQUENCE)
    cn = _common_name(_Reader(der, subject_at).enter(_SEQUENCE))
    tbs.read(_SEQUENCE)  # subject public key info
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    while not tbs.at_end():
        tag = tbs.peek_tag()
        if tag == _EXTENSIONS:
            dns, ips = _alt_names(tbs.enter(_EXTENSIONS).enter(_SEQUENCE))
        else:
            tbs.read()  # issuer/subject unique IDs
    return CertInfo(not_before, not_after, cn, dns, ips, self_issued=issuer == subject)


def _time(r: _Reader) -> float:
    tag, start, end = r.read()
    text = r.data[start:end].decode("ascii")
    if not text.endswith("Z"):
        raise ValueError(f"certificate time {text!r} is not in UTC")
    digits = text[:-1]
    if tag == _UTC_TIME and len(digits) == 12:
        year = int(digits[:2])
        year += 1900 if year >= 50 else 2000  # RFC 5280: YY >= 50 means 19YY
        rest = digits[2:]
    elif tag == _GENERALIZED_TIME and len(digits) == 14:
        year = int(digits[:4])
        rest = digits[4:]
    else:
        raise ValueError(f"bad certificate time {text!r}")
    month, day, hour, minute, second = (int(rest[i:i + 2]) for i in range(0, 10, 2))
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def _common_name(name: _Reader) -> str | None:
    found = None
    while not name.at_end():
        rdn = name.enter(_SET)
        while not rdn.at_end():
            attr = rdn.enter(_SEQUENCE)
            _, o_start, o_end = attr.read(_OID)
            tag, v_start, v_end = attr.read()
            if attr.data[o_start:o_end] == _OID_COMMON_NAME and tag in _STRING_CODECS:
                found = attr.data[v_start:v_end].decode(_STRING_CODECS[tag])
    return found


def _alt_names(exts: _Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    dns: list[str] = []
    ips: list[str] = []
    while not exts.at_end():
        ext = exts.enter(_SEQUENCE)
        _, o_start, o_end = ext.read(_OID)
        if ext.peek_tag() == _BOOLEAN:
            ext.read(_BOOLEAN)  # critical
        _, v_start, v_end = ext.read(_OCTET_STRING)
        if ext.data[o_start:o_end] != _OID_SUBJECT_ALT_NAME:
            continue
        names = _Reader(ext.data, v_start, v_end).enter(_SEQUENCE)
        while not names.at_end():
            tag, start, end = names.read()
            value = names.data[start:end]
            if tag == _SAN_DNS:
                dns.append(value.decode("ascii"))
            elif tag == _SAN_IP and len(value) in (4, 16):
                ips.append(str(ipaddress.ip_address(value)))
    return tuple(dns), tuple(ips)
