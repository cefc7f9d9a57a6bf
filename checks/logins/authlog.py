"""Reading OpenSSH's log lines: failed attempts and accepted logins, with their sources.

Which lines count as one failed login attempt (each attempt is counted once, although
OpenSSH and PAM log several lines for it):

* ``Failed <method> for [invalid user] X from IP port N ssh2`` - one attempt each
  (``Failed none`` is left out: the "none" method is the client asking which methods
  exist, not a try).
* ``Invalid user X from IP [port N]`` and ``User X from IP not allowed because ...`` -
  one attempt; the next counted ``Failed`` line of the same sshd process is that same
  attempt and is not counted again.
* ``Connection closed by`` / ``Disconnected from`` ``authenticating user X IP port N
  [preauth]`` (or ``invalid user``) - one attempt, only when the same sshd process logged
  no counted attempt before: a client that offered keys and gave up (failed key offers are
  logged only at LogLevel VERBOSE).

Not counted, because they repeat what the lines above already counted:
``maximum authentication attempts exceeded``, ``Disconnecting ...: Too many
authentication failures``, ``PAM N more authentication failures``, ``pam_unix(sshd:auth):
authentication failure``, ``error: PAM: Authentication failure``, ``ROOT LOGIN REFUSED``.
A connection that never names a user (``Connection closed by IP port N [preauth]``, a port
scanner) is not a login attempt.

Successful logins are ``Accepted <method> for X from IP port N ssh2``.

The user name in these lines is chosen by the client, so patterns take the source address
from the last ``from IP port N`` of the line: a user name that itself contains
``from 1.2.3.4 port 22`` cannot shift the blame to another address.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

#: sshd connections (by pid) whose state is kept; older ones are forgotten.
MAX_TRACKED_CONNECTIONS = 4096

# A syslog line: timestamp (traditional "Jan  5 10:22:33" or RFC 3339), host, then the
# program tag. The tag must come right after the host, so a message that merely contains
# "sshd[1]:" (written with logger by anyone) is not taken for sshd's own.
_SYSLOG = re.compile(
    r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+ (?P<prog>sshd(?:-session|-auth)?)\[(?P<pid>\d+)\]: (?P<msg>.*)$")

_FAILED = re.compile(
    r"^Failed (?P<method>\S+) for (?:invalid user )?(?P<user>.*) from (?P<src>\S+) "
    r"port \d+(?: ssh2(?:: .*)?)?$")
_INVALID = re.compile(r"^Invalid user (?P<user>.*) from (?P<src>\S+)(?: port \d+)?$")
_NOT_ALLOWED = re.compile(r"^User (?P<user>\S+) from (?P<src>\S+) not allowed because .*$")
_GAVE_UP = re.compile(
    r"^(?:Connection closed by|Disconnected from) (?:authenticating|invalid) user "
    r"(?P<user>.*) (?P<src>\S+) port \d+ \[preauth\]$")
_ACCEPTED = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<src>\S+) port \d+"
    r"(?: ssh2(?:: .*)?)?$")


class SshEventKind(enum.Enum):
    """What a recognised sshd line says."""

    FAILED = "failed"
    INVALID_USER = "invalid-user"
    GAVE_UP = "gave-up"
    ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)
class SshEvent:
    """One recognised sshd line: what happened, on which connection (sshd's pid), for
    which user, from which source address."""

    kind: SshEventKind
    pid: int
    user: str
    source: str
    method: str = ""


def normalize_source(text: str) -> str:
    """An address in its canonical form (IPv4-mapped IPv6 as IPv4); a host name (with
    ``UseDNS yes``) lowercased."""
    raw = text.strip("[]")
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return raw.lower()
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def parse_message(message: str, pid: int) -> SshEvent | None:
    """The event in one sshd message (the text after ``sshd[pid]: ``), or None."""
    msg = message.rstrip("\r\n")
    if msg.startswith("Failed "):
        m = _FAILED.match(msg)
        if m:
            return SshEvent(SshEventKind.FAILED, pid, m["user"], normalize_source(m["src"]),
                            m["method"])
    elif msg.startswith("Accepted "):
        m = _ACCEPTED.match(msg)
        if m:
            return SshEvent(SshEventKind.ACCEPTED, pid, m["user"],
                            normalize_source(m["src"]), m["method"])
    elif msg.startswith(("Invalid user ", "User ")):
        m = _INVALID.match(msg) or _NOT_ALLOWED.match(msg)
        if m:
            return SshEvent(SshEventKind.INVALID_USER, pid, m["user"],
                            normalize_source(m["src"]))
    elif msg.startswith(("Connection closed by ", "Disconnected from ")):
        m = _GAVE_UP.match(msg)
        if m:
            return SshEvent(SshEventKind.GAVE_UP, pid, m["user"], normalize_source(m["src"]))
    return None


def parse_syslog_line(line: str) -> SshEvent | None:
    """The event in one auth log line, or None when it is not an sshd line we count."""
    m = _SYSLOG.match(line.rstrip("\r\n"))
    if m is None:
        return None
    return parse_message(m["msg"], int(m["pid"]))


@dataclass
class _Connection:
    counted: int = 0
    #: The "Invalid user" line was counted; the next Failed line is the same attempt.
    absorb_next_failure: bool = False


@dataclass
class LoginTally:
    """What one run found: failed attempts per source, and accepted logins in order."""

    failed: Counter[str] = field(default_factory=Counter)
    accepted: list[SshEvent] = field(default_factory=list)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


class AttemptCounter:
    """Counts failed attempts following the rules in this module's docstring.

    It remembers recent sshd connections (by pid) between calls, so a connection whose
    lines are split across two runs is still counted once; the most recent
    ``max_tracked`` connections are kept.
    """

    def __init__(self, max_tracked: int = MAX_TRACKED_CONNECTIONS) -> None:
        self._connections: OrderedDict[int, _Connection] = OrderedDict()
        self._max = max_tracked

    def attempts(self, event: SshEvent) -> int:
        """How many failed attempts this event adds (0 or 1)."""
        conn = self._connection(event.pid)
        if event.kind is SshEventKind.ACCEPTED:
            conn.absorb_next_failure = False
            return 0
        if event.kind is SshEventKind.INVALID_USER:
            conn.counted += 1
            conn.absorb_next_failure = True
            return 1
        if event.kind is SshEventKind.FAILED:
            if event.method == "none":
                return 0
            if conn.absorb_next_failure:
                conn.absorb_next_failure = False
                return 0
            conn.counted += 1
            return 1
        # GAVE_UP: the connection ends; it counts only if nothing else did.
        self._connections.pop(event.pid, None)
        return 0 if conn.counted else 1

    def tally(self, events: list[SshEvent]) -> LoginTally:
        """Failed attempts per source and accepted logins among ``events`` (in order)."""
        out = LoginTally()
        for event in events:
            n = self.attempts(event)
            if n:
                out.failed[event.source] += n
            if event.kind is SshEventKind.ACCEPTED:
                out.accepted.append(event)
        return out

    def _connection(self, pid: int) -> _Connection:
        conn = self._connections.pop(pid, None) or _Connection()
        self._connections[pid] = conn
        while len(self._connections) > self._max:
            self._connections.popitem(last=False)
        return conn
