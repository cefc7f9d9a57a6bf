"""The tiny DER certificate reader, checked against cryptography's full parser."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.timefmt import utc_date
from checks.tls.x509_der import CertInfo, parse_certificate
from tests.servers.certs import self_signed_cert

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def der_of(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize(("names", "common_name"), [
    (("localhost", "127.0.0.1", "::1"), None),
    (("shop.example", "*.shop.example"), "Shop"),
    (("10.0.0.1",), None),
])
def test_fields_match_the_full_parser(ca: trustme.CA, names: tuple[str, ...],
        common_name: str | None) -> None:
    leaf = ca.issue_cert(*names, common_name=common_name,
                         not_before=NOW - dt.timedelta(days=2),
                         not_after=NOW + dt.timedelta(days=30))
    der = der_of(leaf.cert_chain_pems[0].bytes())
    info = parse_certificate(der)
    full = x509.load_der_x509_certificate(der)
    assert info.not_before == full.not_valid_before_utc.timestamp()
    assert info.not_after == full.not_valid_after_utc.timestamp()
    san = full.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert info.dns_names == tuple(san.get_values_for_type(x509.DNSName))
    assert info.ip_addresses == tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    assert info.subject_cn == common_name
    assert not info.self_issued
    assert info.days_left(NOW.timestamp()) == pytest.approx(30.0)


def test_a_self_signed_certificate_is_self_issued() -> None:
    pem = self_signed_cert(("localhost",), NOW).chain_pem
    info = parse_certificate(der_of(pem))
    assert info.self_issued
    assert info.subject_cn == "localhost" and info.names == ("localhost",)


def test_a_ca_certificate_without_names_has_none(ca: trustme.CA) -> None:
    info = parse_certificate(der_of(ca.cert_pem.bytes()))
    assert info.self_issued and info.dns_names == () and info.ip_addresses == ()


def test_names_fall_back_to_the_common_name() -> None:
    info = CertInfo(0, 0, "legacy.example", (), (), False)
    assert info.names == ("legacy.example",)
    assert CertInfo(0, 0, None, (), (), False).names == ()


def test_dates_after_2049_use_generalized_time(ca: trustme.CA) -> None:
    far = dt.datetime(2060, 5, 1, tzinfo=dt.UTC)
    leaf = ca.issue_cert("far.example", not_before=NOW, not_after=far)
    info = parse_certificate(der_of(leaf.cert_chain_pems[0].bytes()))
    assert info.not_after == far.timestamp()
    assert utc_date(info.not_after) == "2060-05-01"


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x30\x05\x02\x01", b"\x02\x01\x00",
                                 b"\x30\x84\xff\xff\xff\xff", b"\x30\x80"])
def test_malformed_input_raises_value_error(der: bytes) -> None:
    with pytest.raises(ValueError):
        parse_certificate(der)


@pytest.fixture(scope="module")
def leaf_der(ca: trustme.CA) -> bytes:
    return der_of(ca.issue_cert("a.example").cert_chain_pems[0].bytes())


@settings(max_examples=300)
@given(st.data())
def test_a_damaged_certificate_raises_only_value_error(leaf_der: bytes, data: Any) -> None:
    der = bytearray(leaf_der)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(der) - 1))
        der[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    with contextlib.suppress(ValueError):
        parse_certificate(bytes(der[:cut]))


def test_ip_addresses_are_rendered_in_their_usual_form(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("::1", "192.0.2.7")
    info = parse_certificate(der_of(leaf.cert_chain_pems[0].bytes()))
    assert {ipaddress.ip_address(a) for a in info.ip_addresses} == {
        ipaddress.ip_address("::1"), ipaddress.ip_address("192.0.2.7")}
    assert info.ip_addresses == ("::1", "192.0.2.7")
