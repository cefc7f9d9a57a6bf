"""The ``dns`` check: ask one or more DNS servers directly and judge what they say.

Listed resolvers are asked at once, each on its own (UDP, TCP on truncation); without a
list the servers of resolv.conf are asked in turn, like the system's stub resolver. The
check is CRITICAL for an unexpected rcode, unexpected answers, a silent server or, with
``consistent: true``, resolvers that disagree (a half-propagated change).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from agent.check import Check, CheckContext, CheckOptions
from agent.model import CheckResult, Sample, Status, make_labels
from agent.units import format_duration
from checks.dns.answers import RecordType, describe, soa_serial
from checks.dns.options import DnsOptions, Match
from checks.dns.query import Failure, Outcome, Reply, ask, ask_in_turn, system_resolvers

#: Share of the check's timeout the queries may use, so that our own precise
#: "timeout after ..." wins over the agent's hard timeout.
_TIMEOUT_SHARE = 0.8
#: At most this many problems are spelled out in one summary.
_MAX_PROBLEMS = 3


@dataclass(frozen=True, slots=True)
class Question:
    """What was asked and what counts as a good answer."""

    #: The name as the user wrote it (an IP for PTR), for summaries.
    label: str
    rtype: RecordType
    rcode: str = "NOERROR"
    expected: frozenset[str] = frozenset()
    match: Match = Match.EXACT
    consistent: bool = False

    @property
    def text(self) -> str:
        return f"{self.label} {self.rtype.value}"


@dataclass(frozen=True, slots=True)
class DnsVerdict:
    status: Status
    summary: str


def judge(question: Question, outcomes: Sequence[Outcome], *, name_servers: bool) -> DnsVerdict:
    """The check's status and summary for what the servers said.

    ``name_servers``: say which server each problem came from even where a single
    server's summary would not (several servers were asked).
    """
    problems: list[str] = []
    for outcome in outcomes:
        problem = _problem(question, outcome, name_servers)
        if problem:
            problems.append(problem)
    replies = [o for o in outcomes if isinstance(o, Reply)]
    if question.consistent:
        disagreement = _disagreement(question, replies)
        if disagreement:
            problems.append(disagreement)
    if problems:
        summary = "; ".join(problems[:_MAX_PROBLEMS])
        if len(problems) > _MAX_PROBLEMS:
            summary += f" (and {len(problems) - _MAX_PROBLEMS} more)"
        return DnsVerdict(Status.CRITICAL, summary)
    return DnsVerdict(Status.OK, _ok_summary(question, replies))


def _problem(q: Question, outcome: Outcome, name_servers: bool) -> str | None:
    server = str(outcome.resolver)
    source = f" from {server}" if name_servers else ""
    if isinstance(outcome, Failure):
        return f"{outcome.reason} from {server}"
    if outcome.rcode != q.rcode:
        if outcome.rcode == "NXDOMAIN":
            return f"NXDOMAIN for {q.text}{source}"
        if outcome.rcode == "NOERROR":
            return f"expected {q.rcode} for {q.text}, got NOERROR{source}"
        return f"{outcome.rcode} from {server}"
    if q.rcode != "NOERROR":
        return None
    got = frozenset(outcome.answers)
    if q.expected:
        if q.match is Match.EXACT and got != q.expected:
            return (f"expected {describe(q.rtype, q.expected)}, "
                    f"got {describe(q.rtype, got)}{source}")
        missing = q.expected - got
        if q.match is Match.CONTAINS and missing:
            return (f"expected {describe(q.rtype, missing)} among the answers, "
                    f"got {describe(q.rtype, got)}{source}")
    elif not got:
        return f"no {q.rtype.value} record for {q.label}{source}"
    return None


def _said(q: Question, reply: Reply) -> str:
    return describe(q.rtype, reply.answers) if reply.rcode == "NOERROR" else reply.rcode


def _disagreement(q: Question, replies: list[Reply]) -> str | None:
    """``resolvers disagree: B says X; A, C say Y`` (the odd ones out first), or None."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for r in replies:
        groups.setdefault((r.rcode, r.answers), []).append(str(r.resolver))
    if len(groups) < 2:
        return None
    # Stable sort: bigger groups last, ties in the order the resolvers were listed.
    ordered = sorted(groups.items(), key=lambda kv: len(kv[1]))
    parts = []
    for (rcode, answers), servers in ordered:
        said = describe(q.rtype, answers) if rcode == "NOERROR" else rcode
        verb = "says" if len(servers) == 1 else "say"
        parts.append(f"{', '.join(servers)} {verb} {said}")
    return "resolvers disagree: " + "; ".join(parts)


def _ok_summary(q: Question, replies: list[Reply]) -> str:
    if not replies:
        return f"{q.text}: no reply"
    first = replies[0]
    said = _said(q, first) if q.rcode == "NOERROR" else f"{first.rcode} as expected"
    slowest = max(r.response_ms for r in replies)
    if len(replies) == 1:
        how = " over TCP after a truncated UDP answer" if first.over_tcp else ""
        return f"{q.text}: {said} in {format_duration(slowest / 1000)} from {first.resolver}{how}"
    same = "" if len({(r.rcode, r.answers) for r in replies}) == 1 else " (first of them)"
    return (f"{q.text}: {said}{same} from {len(replies)} resolvers, "
            f"slowest {format_duration(slowest / 1000)}")


def samples(q: Question, outcomes: Sequence[Outcome], *, labelled: bool) -> list[Sample]:
    """``response_ms``, ``answers`` and (for SOA) ``soa_serial`` of each reply.

    ``labelled``: one series per resolver (label ``resolver``), when several are listed.
    """
    out: list[Sample] = []
    for o in outcomes:
        if not isinstance(o, Reply):
            continue
        labels = make_labels({"resolver": str(o.resolver)}) if labelled else ()
        out.append(Sample("response_ms", round(o.response_ms, 3), labels))
        out.append(Sample("answers", float(len(o.answers)), labels))
        if q.rtype is RecordType.SOA and o.answers:
            serial = soa_serial(o.answers[0])
            if serial is not None:
                out.append(Sample("soa_serial", float(serial), labels))
    return out


class DnsCheck(Check[DnsOptions]):
    """Resolve a name at given (or the system's) DNS servers and judge the answers."""

    kind: ClassVar[str] = "dns"
    Options: ClassVar[type[CheckOptions]] = DnsOptions
    metrics: ClassVar[frozenset[str]] = frozenset({"response_ms", "answers", "soa_serial"})

    @classmethod
    def targets(cls, options: DnsOptions) -> tuple[str, ...]:
        # No resolver given: those of resolv.conf, somewhere on the network.
        return tuple(r.ip for r in options.resolvers) or ("resolv.conf",)

    @classmethod
    def where(cls, options: DnsOptions) -> str | None:
        asked = ", ".join(str(r) for r in options.resolvers)
        return f"{options.query} {options.type.value} @ {asked or 'resolv.conf'}"

    def __init__(self, name: str, options: DnsOptions) -> None:
        super().__init__(name, options)
        self._qname = options.query_name()
        self.question = Question(
            label=options.query.rstrip(".") or ".", rtype=options.type, rcode=options.rcode,
            expected=options.expected_answers(), match=options.match,
            consistent=options.consistent)

    async def run(self, ctx: CheckContext) -> CheckResult:
        """Ask, judge, report."""
        o = self.options
        limit = ctx.timeout * _TIMEOUT_SHARE
        timeout = min(o.query_timeout, limit) if o.query_timeout else limit
        outcomes: list[Outcome]
        if o.resolvers:
            outcomes = list(await asyncio.gather(
                *(ask(r, self._qname, o.type, timeout) for r in o.resolvers)))
        else:
            outcomes = [await ask_in_turn(system_resolvers(), self._qname, o.type, timeout)]
        several = len(o.resolvers) > 1
        verdict = judge(self.question, outcomes, name_servers=several)
        found = samples(self.question, outcomes, labelled=several)
        if verdict.status is Status.OK:
            return CheckResult.ok(verdict.summary, samples=found)
        return CheckResult.failed(verdict.status, verdict.summary, samples=found)
