"""Whether a certificate is for a host name, and certificate facts in words.

Works on ``checks.tls.x509_der.CertInfo`` (read from DER with the standard library only).
Matching here rather than in OpenSSL lets a check report a wrong name and a bad chain in
the same run.
"""

from __future__ import annotations

import ipaddress

from agent.units import format_duration
from checks.tls.x509_der import CertInfo, parse_certificate

__all__ = ["CertInfo", "day_span", "format_names", "matches_host", "parse_certificate",
           "parse_ip"]

_SECONDS_PER_DAY = 86400.0


def matches_host(cert: CertInfo, hostname: str) -> bool:
    """Whether ``cert`` covers ``hostname`` (RFC 6125 rules, as browsers apply them).

    An IP address matches only an IP SAN entry. A name matches a DNS SAN entry, with a
    wildcard allowed as the whole leftmost label; the common name counts only when the
    certificate has no SAN at all (as OpenSSL does).
    """
    host = hostname.strip().rstrip(".").lower()
    ip = parse_ip(host.strip("[]"))
    if ip is not None:
        return ip in {parse_ip(a) for a in cert.ip_addresses}
    patterns = cert.dns_names
    if not patterns and not cert.ip_addresses and cert.subject_cn:
        patterns = (cert.subject_cn,)
    return any(_name_matches(p, host) for p in patterns)


def format_names(names: tuple[str, ...], limit: int = 3) -> str:
    """``a.example, b.example, c.example and 4 more`` (``no name`` for none)."""
    if not names:
        return "no name"
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def day_span(days: float) -> str:
    """A span of days written as every duration is: ``13d 5h``, ``5h 3m``."""
    return format_duration(days * _SECONDS_PER_DAY)


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``text`` spells, or None for a host name."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _name_matches(pattern: str, host: str) -> bool:
    pat = pattern.strip().rstrip(".").lower()
    if not pat or not host:
        return False
    if "*" not in pat:
        return pat == host
    # Only a whole leftmost label may be a wildcard; it covers exactly one label and
    # never sits right above a single label ("*.com").
    first, _, rest = pat.partition(".")
    if first != "*" or "*" in rest or "." not in rest:
        return False
    h_first, _, h_rest = host.partition(".")
    return bool(h_first) and h_rest == rest
