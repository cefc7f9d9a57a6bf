"""DNS answers as comparable text: what the server sent and what the config expects.

Both sides go through the same canonical form, so ``10 MAIL.example.com.`` equals
``10 mail.example.com``, ``2001:DB8:0::1`` equals ``2001:db8::1`` and a TXT record reads as
its text, without the quoting of the zone file.
"""

from __future__ import annotations

import enum

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT


class RecordType(enum.Enum):
    """The record types the dns check asks for."""

    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    MX = "MX"
    TXT = "TXT"
    NS = "NS"
    SOA = "SOA"
    CAA = "CAA"
    SRV = "SRV"
    PTR = "PTR"

    @property
    def rdtype(self) -> dns.rdatatype.RdataType:
        return dns.rdatatype.RdataType[self.value]


#: How to write an expected answer of the types whose form is not obvious.
_HOWTO = {
    RecordType.A: "an IPv4 address, e.g. 192.0.2.1",
    RecordType.AAAA: "an IPv6 address, e.g. 2001:db8::1",
    RecordType.MX: "'PREFERENCE NAME', e.g. '10 mail.example.com'",
    RecordType.SRV: "'PRIORITY WEIGHT PORT TARGET', e.g. '10 5 5060 sip.example.com'",
    RecordType.CAA: "'FLAGS TAG VALUE', e.g. '0 issue \"letsencrypt.org\"'",
    RecordType.SOA: "'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'",
}


def canonical(rdata: dns.rdata.Rdata) -> str:
    """One record as comparable text: lower case, no trailing dots, TXT unquoted.

    TXT is data, not a name: its case is kept and its strings are joined, as a receiver
    (SPF, DKIM) reads them.
    """
    if isinstance(rdata, TXT):
        return b"".join(rdata.strings).decode("utf-8", errors="backslashreplace")
    return " ".join(_undot(tok) for tok in rdata.to_text().split()).lower()


def canonical_expected(rtype: RecordType, text: str) -> str:
    """An expected answer from the config in canonical form.

    Raises ValueError naming the type and how to write it when ``text`` is not a valid
    answer of ``rtype``.
    """
    text = text.strip()
    if rtype is RecordType.TXT and not text.startswith('"'):
        return text  # bare text is the record's text, spaces and all
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rtype.rdtype, text,
                                    origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError) as e:
        how = _HOWTO.get(rtype)
        hint = f"; write {how}" if how else ""
        raise ValueError(f"{text!r} is not a valid {rtype.value} answer ({e}){hint}") from None
    return canonical(rdata)


def describe(rtype: RecordType, answers: tuple[str, ...] | frozenset[str],
             limit: int = 5) -> str:
    """Answers for a summary: ``192.0.2.1, 192.0.2.2 and 3 more``; ``no answer`` if none."""
    items = sorted(answers)
    if not items:
        return "no answer"
    if rtype is RecordType.TXT:
        items = [f'"{a}"' for a in items]
    elif rtype is RecordType.SOA:
        items = [_soa_words(a) for a in items]
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def soa_serial(answer: str) -> int | None:
    """The serial of a canonical SOA answer, or None if it is not one."""
    parts = answer.split()
    return int(parts[2]) if len(parts) == 7 and parts[2].isdigit() else None


def _soa_words(answer: str) -> str:
    parts = answer.split()
    return f"{parts[0]} serial {parts[2]}" if len(parts) == 7 else answer


def _undot(token: str) -> str:
    return token[:-1] if len(token) > 1 and token.endswith(".") else token
