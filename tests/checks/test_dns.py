"""The dns check against real DNS servers on 127.0.0.1 (tests/dnsserver)."""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import pytest
from pydantic import ValidationError

from agent.check import CheckContext, load_kind
from agent.errors import CheckError
from agent.model import CheckResult, Status
from checks.dns.answers import RecordType, canonical, canonical_expected
from checks.dns.check import DnsCheck
from checks.dns.options import DnsOptions, Resolver
from checks.dns.query import Reply, ask_in_turn, system_resolvers
from tests.dnsserver import DnsServer

SOA = "ns1.example.test. hostmaster.example.test. {} 3600 600 86400 300"
RECORDS = {
    ("www.example.test", "A"): ["192.0.2.1", "192.0.2.2"],
    ("www.example.test", "AAAA"): ["2001:db8::1"],
    ("alias.example.test", "CNAME"): ["WWW.example.test."],
    ("example.test", "MX"): ["10 mail.example.test.", "20 backup.example.test."],
    ("example.test", "TXT"): ['"v=spf1 ip4:192.0.2.0/24 -all"', '"part one " "part two"'],
    ("example.test", "NS"): ["ns1.example.test.", "ns2.example.test."],
    ("example.test", "SOA"): [SOA.format(2024010101)],
    ("example.test", "CAA"): ['0 issue "letsencrypt.org"'],
    ("_sip._tcp.example.test", "SRV"): ["10 5 5060 sip.example.test."],
    ("1.0.0.127.in-addr.arpa", "PTR"): ["host.example.test."],
    ("big.example.test", "A"): [f"192.0.2.{i}" for i in range(1, 41)],
    ("slow.example.test", "A"): ["192.0.2.9"],
}


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with DnsServer(RECORDS, servfail=["broken.example.test"],
                         slow={"slow.example.test": 3.0}, truncate=["big.example.test"]) as s:
        yield s


async def run_check(timeout: float = 5.0, **options: Any) -> CheckResult:
    check = DnsCheck("dns", DnsOptions(**options))
    result = await check.run(CheckContext(check_name="dns", host="testhost", timeout=timeout))
    assert result.problems() == []
    assert {s.metric for s in result.samples} <= DnsCheck.metrics
    return result


@dataclass(frozen=True)
class Case:
    """Options for one query to the test server and what the check must say."""

    id: str
    options: dict[str, Any]
    status: Status
    #: The summary's start; ``{server}`` stands for the server's address.
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)


CASES = [
    Case("a-exact", {"query": "www.example.test", "expect": ["192.0.2.2", "192.0.2.1"]},
         Status.OK, "www.example.test A: 192.0.2.1, 192.0.2.2 in ", {"answers": 2}),
    Case("a-exact-differs", {"query": "www.example.test", "expect": "192.0.2.1"},
         Status.CRITICAL, "expected 192.0.2.1, got 192.0.2.1, 192.0.2.2"),
    Case("a-contains", {"query": "www.example.test", "expect": ["192.0.2.1"],
                        "match": "contains"}, Status.OK, "www.example.test A: "),
    Case("a-contains-missing", {"query": "www.example.test", "expect": ["192.0.2.3"],
                                "match": "contains"}, Status.CRITICAL,
         "expected 192.0.2.3 among the answers, got 192.0.2.1, 192.0.2.2"),
    Case("aaaa-written-long", {"query": "www.example.test", "type": "aaaa",
                               "expect": ["2001:DB8:0:0::1"]}, Status.OK,
         "www.example.test AAAA: 2001:db8::1 in "),
    Case("cname", {"query": "alias.example.test", "type": "CNAME",
                   "expect": ["www.EXAMPLE.test"]}, Status.OK, "alias.example.test CNAME: "),
    Case("a-through-cname", {"query": "alias.example.test",
                             "expect": ["192.0.2.1", "192.0.2.2"]}, Status.OK,
         "alias.example.test A: 192.0.2.1, 192.0.2.2"),
    Case("mx", {"query": "example.test", "type": "MX",
                "expect": ["10 MAIL.example.test.", "20 backup.example.test"]}, Status.OK,
         "example.test MX: 10 mail.example.test, 20 backup.example.test"),
    Case("txt-bare", {"query": "example.test", "type": "TXT", "match": "contains",
                      "expect": ["v=spf1 ip4:192.0.2.0/24 -all"]}, Status.OK,
         'example.test TXT: "part one part two", "v=spf1 ip4:192.0.2.0/24 -all"'),
    Case("txt-quoted-strings", {"query": "example.test", "type": "TXT", "match": "contains",
                                "expect": ['"part one " "part two"']}, Status.OK,
         "example.test TXT: "),
    Case("txt-case-matters", {"query": "example.test", "type": "TXT", "match": "contains",
                              "expect": ["V=SPF1 ip4:192.0.2.0/24 -all"]}, Status.CRITICAL,
         'expected "V=SPF1 ip4:192.0.2.0/24 -all" among the answers'),
    Case("ns", {"query": "example.test.", "type": "NS",
                "expect": ["ns2.example.test", "NS1.example.test."]}, Status.OK,
         "example.test NS: ns1.example.test, ns2.example.test"),
    Case("caa", {"query": "example.test", "type": "CAA",
                 "expect": ['0 ISSUE "LetsEncrypt.org"']}, Status.OK,
         'example.test CAA: 0 issue "letsencrypt.org"'),
    Case("srv", {"query": "_sip._tcp.example.test", "type": "SRV",
                 "expect": ["10 5 5060 sip.example.test"]}, Status.OK,
         "_sip._tcp.example.test SRV: 10 5 5060 sip.example.test"),
    Case("ptr-from-ip", {"query": "127.0.0.1", "type": "PTR", "expect": "host.example.test"},
         Status.OK, "127.0.0.1 PTR: host.example.test in "),
    Case("soa-serial", {"query": "example.test", "type": "SOA"}, Status.OK,
         "example.test SOA: ns1.example.test serial 2024010101 in ",
         {"soa_serial": 2024010101, "answers": 1}),
    Case("nxdomain", {"query": "missing.example.test"}, Status.CRITICAL,
         "NXDOMAIN for missing.example.test A", {"answers": 0}),
    Case("nxdomain-wanted", {"query": "missing.example.test", "rcode": "nxdomain"}, Status.OK,
         "missing.example.test A: NXDOMAIN as expected in "),
    Case("nxdomain-wanted-but-exists", {"query": "www.example.test", "rcode": "NXDOMAIN"},
         Status.CRITICAL, "expected NXDOMAIN for www.example.test A, got NOERROR"),
    Case("no-record-of-the-type", {"query": "www.example.test", "type": "MX"},
         Status.CRITICAL, "no MX record for www.example.test"),
    Case("servfail", {"query": "broken.example.test"}, Status.CRITICAL,
         "SERVFAIL from {server}"),
    Case("timeout", {"query": "slow.example.test", "query_timeout": "300ms"},
         Status.CRITICAL, "timeout after 300ms from {server}"),
    Case("truncated-retries-over-tcp", {"query": "big.example.test"}, Status.OK,
         "big.example.test A: 192.0.2.1, 192.0.2.10, 192.0.2.11, 192.0.2.12, 192.0.2.13 "
         "and 35 more in ", {"answers": 40}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_answers_from_a_real_server(server: DnsServer, case: Case) -> None:
    result = await run_check(resolvers=[server.address], **case.options)
    assert result.status is case.status, result.summary
    expected = case.summary.format(server=server.address)
    assert result.summary.startswith(expected), result.summary
    for metric, value in case.metrics.items():
        assert result.metrics[metric] == value
    if case.status is Status.OK:
        assert 0 < result.metrics["response_ms"] < 2000


async def test_truncated_udp_answer_is_asked_again_over_tcp(server: DnsServer) -> None:
    result = await run_check(resolvers=[server.address], query="big.example.test")
    assert result.summary.endswith(f"from {server.address} over TCP after a truncated "
                                   "UDP answer")
    assert [h.transport for h in server.heard] == ["udp", "tcp"]


async def test_exact_failure_summaries_name_the_server(server: DnsServer) -> None:
    failing = await run_check(resolvers=[server.address], query="broken.example.test")
    assert failing.summary == f"SERVFAIL from {server.address}"
    assert failing.metrics["answers"] == 0
    late = await run_check(resolvers=[server.address], query="slow.example.test",
                           query_timeout=0.3)
    assert late.summary == f"timeout after 300ms from {server.address}"
    assert late.samples == ()


async def test_query_timeout_never_outlasts_the_check_timeout(server: DnsServer) -> None:
    result = await run_check(timeout=0.5, resolvers=[server.address],
                             query="slow.example.test", query_timeout="10s")
    assert result.summary == f"timeout after 400ms from {server.address}"


class _StrayFirst(asyncio.DatagramProtocol):
    """Answers each query first with ``stray`` (a reply for another query id, as a late
    answer to an earlier query or a spoofing attempt is, or an unreadable one), then, when
    ``then_right``, with the right one."""

    def __init__(self, server: DnsServer, stray: str, then_right: bool = True) -> None:
        self.server = server
        self.stray = stray
        self.then_right = then_right
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = await self.server.respond(data, "udp")
        assert answer is not None and self.transport is not None
        if self.stray == "other id":
            stray = struct.pack("!H", struct.unpack("!H", answer[:2])[0] ^ 0x5A5A) + answer[2:]
        else:  # a question name that is a compression pointer to itself
            stray = answer[:2] + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"
        self.transport.sendto(stray, addr)
        await asyncio.sleep(0.05)
        if self.then_right:
            self.transport.sendto(answer, addr)


async def _ask_stray(stray: str, then_right: bool = True, **options: Any) -> CheckResult:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _StrayFirst(DnsServer(RECORDS), stray, then_right),
        local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        return await run_check(timeout=2.0, resolvers=[f"127.0.0.1:{port}"],
                               query="www.example.test", **options)
    finally:
        transport.close()


@pytest.mark.parametrize("stray", ["other id", "unreadable"])
async def test_a_stray_reply_is_ignored_like_a_stub_resolver_does(stray: str) -> None:
    result = await _ask_stray(stray)
    assert result.status is Status.OK, result
    assert result.summary.startswith("www.example.test A: 192.0.2.1, 192.0.2.2 in ")


@pytest.mark.parametrize(("stray", "ignored"), [
    ("other id", r"a reply for another query \(id \d+\)"),
    ("unreadable", "a bad reply: A DNS compression pointer points forward instead of backward"),
])
async def test_a_timeout_names_the_stray_reply_it_ignored(stray: str, ignored: str) -> None:
    result = await _ask_stray(stray, then_right=False, query_timeout=0.3)
    assert re.fullmatch(rf"timeout after 300ms \(ignored {ignored}\) from 127\.0\.0\.1:\d+",
                        result.summary), result.summary


# --- several resolvers ---------------------------------------------------------------------

def zone(serial: int, address: str = "192.0.2.1") -> dict[tuple[str, str], list[str]]:
    return {("example.test", "SOA"): [SOA.format(serial)], ("www.example.test", "A"): [address]}


async def test_consistent_resolvers_report_per_resolver_metrics() -> None:
    async with DnsServer(zone(7)) as a, DnsServer(zone(7)) as b:
        result = await run_check(query="example.test", type="SOA", consistent=True,
                                 resolvers=[a.address, b.address])
    assert result.status is Status.OK
    assert result.summary.startswith("example.test SOA: ns1.example.test serial 7 from 2 "
                                     "resolvers, slowest ")
    serials = {s.labels: s.value for s in result.samples if s.metric == "soa_serial"}
    assert serials == {(("resolver", a.address),): 7, (("resolver", b.address),): 7}
    assert result.metrics == {}  # every series carries its resolver


async def test_half_propagated_change_names_the_odd_resolver_out() -> None:
    async with (DnsServer(zone(7)) as a, DnsServer(zone(8)) as b, DnsServer(zone(7)) as c):
        result = await run_check(query="example.test", type="SOA", consistent=True,
                                 resolvers=[a.address, b.address, c.address])
    assert result.status is Status.CRITICAL
    assert result.summary == (f"resolvers disagree: {b.address} says ns1.example.test serial 8;"
                              f" {a.address}, {c.address} say ns1.example.test serial 7")


async def test_disagreement_is_only_a_problem_when_consistency_is_asked() -> None:
    async with DnsServer(zone(1, "192.0.2.1")) as a, DnsServer(zone(1, "192.0.2.2")) as b:
        options: dict[str, Any] = {"query": "www.example.test",
                                   "resolvers": [a.address, b.address]}
        lenient = await run_check(**options)
        strict = await run_check(consistent=True, **options)
    assert lenient.status is Status.OK
    assert "(first of them) from 2 resolvers" in lenient.summary
    assert strict.summary == (f"resolvers disagree: {a.address} says 192.0.2.1; "
                              f"{b.address} says 192.0.2.2")


async def test_problems_from_several_resolvers_say_where_they_come_from() -> None:
    async with DnsServer(zone(1)) as a, DnsServer({}) as b:
        result = await run_check(query="www.example.test", expect="192.0.2.1",
                                 resolvers=[a.address, b.address])
    assert result.summary == f"NXDOMAIN for www.example.test A from {b.address}"


# --- the system's resolvers ----------------------------------------------------------------

async def test_ask_in_turn_moves_on_from_a_silent_server() -> None:
    async with (DnsServer(zone(1), slow={"www.example.test": 5}) as dead,
                DnsServer(zone(1)) as live):
        started = time.perf_counter()
        outcome = await ask_in_turn((parse(dead.address), parse(live.address)),
                                    dns.name.from_text("www.example.test"), RecordType.A, 1.0)
    assert isinstance(outcome, Reply)
    assert (outcome.resolver, outcome.answers) == (parse(live.address), ("192.0.2.1",))
    assert time.perf_counter() - started < 1.0


def parse(address: str) -> Resolver:
    ip, _, port = address.rpartition(":")
    return Resolver(ip, int(port))


def test_system_resolvers_come_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 127.0.0.1\nnameserver ::1\n")
    assert system_resolvers(str(conf)) == (Resolver("127.0.0.1"), Resolver("::1"))
    conf.write_text("search example.test\n")
    with pytest.raises(CheckError, match="no name server found"):
        system_resolvers(str(conf))


# --- answers in canonical form -------------------------------------------------------------

@pytest.mark.parametrize(("rtype", "wire_text", "written"), [
    (RecordType.A, "192.0.2.1", "192.0.2.1"),
    (RecordType.AAAA, "2001:db8::1", "2001:DB8:0::1"),
    (RecordType.CNAME, "www.example.com.", "WWW.Example.com"),
    (RecordType.MX, "10 mail.example.com.", "10 Mail.Example.COM."),
    (RecordType.MX, "0 .", "0 ."),
    (RecordType.TXT, '"v=spf1 -all"', "v=spf1 -all"),
    (RecordType.TXT, '"v=spf1 " "-all"', '"v=spf1 -all"'),
    (RecordType.CAA, '0 issue "letsencrypt.org"', '0 issue "LetsEncrypt.org"'),
    (RecordType.SRV, "10 5 443 web.example.com.", "10 5 443 web.example.com"),
    (RecordType.SOA, SOA.format(5), "NS1.example.test hostmaster.example.test 5 3600 600 "
                                    "86400 300"),
])
def test_written_and_served_answers_compare_equal(rtype: RecordType, wire_text: str,
                                                  written: str) -> None:
    served = dns.rdata.from_text("IN", rtype.value, wire_text)
    assert canonical(served) == canonical_expected(rtype, written)


# --- options -------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"query": "example.com", "type": "AXFR"},
     "unknown record type 'AXFR'; use one of A, AAAA, CNAME, MX, TXT, NS, SOA, CAA, SRV, PTR"),
    ({"query": "example.com", "resolvers": ["127.0.0.1:70000"]},
     "resolver '127.0.0.1:70000': port must be between 1 and 65535"),
    ({"query": "example.com", "resolvers": ["127.0.0.1:0"]}, "port must be between 1 and"),
    ({"query": "example.com", "resolvers": ["dns.example.net"]},
     "resolver 'dns.example.net' must be an IP address or IP:port"),
    ({"query": "example.com", "resolvers": ["300.1.1.1"]}, "must be an IP address or IP:port"),
    ({"query": "example.com", "resolvers": ["[::1"]}, "is not 'IP' or 'IP:port'"),
    ({"query": "example.com", "resolvers": ["127.0.0.1", "127.0.0.1:53"]},
     "resolver 127.0.0.1:53 is listed twice"),
    ({"query": "example.com", "type": "PTR"},
     "PTR needs an IP address as query (or a name under in-addr.arpa or ip6.arpa), "
     "got 'example.com'"),
    ({"query": "example.com", "rcode": "NOPE"}, "unknown rcode 'NOPE'; use one of NOERROR"),
    ({"query": "example.com", "rcode": "NXDOMAIN", "expect": ["192.0.2.1"]},
     "expect needs rcode NOERROR"),
    ({"query": "example.com", "consistent": True, "resolvers": ["127.0.0.1"]},
     "consistent: true needs at least two resolvers"),
    ({"query": "example.com", "type": "MX", "expect": ["mail.example.com"]},
     "expect[0]: 'mail.example.com' is not a valid MX answer"),
    ({"query": "example.com", "expect": ["192.0.2.1", "www.example.com"]},
     "expect[1]: 'www.example.com' is not a valid A answer"),
    ({"query": "a" * 64 + ".example.com"}, "is not a valid DNS name"),
    ({"query": "example.com", "query_timeout": "0s"}, "query_timeout must be longer than 0s"),
    ({"query": "example.com", "query_timeout": "soon"}, "expected a duration"),
    ({"query": "example.com", "match": "some"}, "'exact' or 'contains'"),
    ({"query": "example.com", "server": "127.0.0.1"}, "Extra inputs are not permitted"),
])
def test_bad_options_are_rejected_with_a_clear_message(options: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValidationError) as err:
        DnsOptions(**options)
    assert message in str(err.value)


@pytest.mark.parametrize(("text", "resolver"), [
    ("192.0.2.53", Resolver("192.0.2.53", 53)),
    ("192.0.2.53:5353", Resolver("192.0.2.53", 5353)),
    ("::1", Resolver("::1", 53)),
    ("[2001:DB8::53]:5353", Resolver("2001:db8::53", 5353)),
])
def test_resolver_addresses(text: str, resolver: Resolver) -> None:
    options = DnsOptions.model_validate({"query": "example.com", "resolvers": [text]})
    assert options.resolvers == (resolver,)


@pytest.mark.parametrize(("name", "qname"), [
    ("192.0.2.7", "7.2.0.192.in-addr.arpa."),
    ("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
    ("7.2.0.192.in-addr.arpa", "7.2.0.192.in-addr.arpa."),
])
def test_ptr_names_become_reverse_names(name: str, qname: str) -> None:
    options = DnsOptions.model_validate({"query": name, "type": "ptr"})
    assert options.query_name().to_text() == qname


def test_dns_kind_is_registered() -> None:
    assert load_kind("dns") is DnsCheck
