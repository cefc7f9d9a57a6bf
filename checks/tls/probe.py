"""Opening a TLS session to host:port, directly or after a STARTTLS dialogue (SMTP, IMAP, POP3).

The probe only connects and reports what it met: the peer's certificate, the protocol
version, how long it took. Judging the certificate is the caller's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.errors import CheckError
from agent.textsafe import shortened
from agent.units import format_duration
from checks.shared.net import host_port
from checks.tls.failures import handshake_failure


class StartTls(enum.Enum):
    """How TLS starts: at once, or after the protocol's own upgrade command."""

    NONE = "none"
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"

    @property
    def default_port(self) -> int:
        """The usual port for this way of starting TLS."""
        return _DEFAULT_PORTS[self]


_DEFAULT_PORTS = {StartTls.NONE: 443, StartTls.SMTP: 25, StartTls.IMAP: 143, StartTls.POP3: 110}


@dataclass(frozen=True, slots=True)
class Handshake:
    """What one completed handshake showed."""

    certificate_der: bytes
    #: As OpenSSL names it: ``TLSv1.3``, ``TLSv1.2``, ...
    version: str
    cipher: str
    elapsed_ms: float


class ProbeError(CheckError):
    """The session could not be opened; the message says where and why, for a summary."""


class ChainVerifyError(Exception):
    """The handshake failed because the certificate chain did not verify."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verifying_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system trust store (plus ``ca_file``); host names are matched by the caller.

    Matching names apart from the chain lets one run report both a bad chain and a wrong
    name, with words of our own.
    """
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def insecure_context() -> ssl.SSLContext:
    """A context that accepts any certificate: to read one that does not verify."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def handshake(host: str, port: int, *, server_name: str, context: ssl.SSLContext,
                    timeout: float, starttls: StartTls = StartTls.NONE,
                    client_name: str = "localhost") -> Handshake:
    """Connect, upgrade to TLS and return what the handshake showed.

    ``client_name`` is the name sent in SMTP's EHLO. Raises ChainVerifyError when the chain
    does not verify under ``context`` and ProbeError for every other failure.
    """
    target = host_port(host, port)
    phase = [""]  # what was going on, for the message; "" while connecting
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            return await _handshake(host, port, server_name=server_name, context=context,
                                    starttls=starttls, client_name=client_name, phase=phase,
                                    started=started)
    except TimeoutError:
        doing = f"during the {phase[0]} with" if phase[0] else "connecting to"
        raise ProbeError(f"timeout after {format_duration(timeout)} {doing} {target}") from None
    except ssl.SSLCertVerificationError as e:
        raise ChainVerifyError(e.verify_code, e.verify_message or str(e)) from None
    except ssl.SSLError as e:
        raise ProbeError(f"TLS handshake with {target} failed: "
                         f"{handshake_failure(e)}") from None
    except ConnectionRefusedError:
        raise ProbeError(f"connection refused by {target}") from None
    except socket.gaierror as e:
        raise ProbeError(f"cannot resolve {host}: {e.strerror or e}") from None
    except (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError):
        during = f" during the {phase[0]}" if phase[0] else ""
        raise ProbeError(f"{target} closed the connection{during}") from None
    except OSError as e:
        raise ProbeError(f"cannot connect to {target}: {e.strerror or e}") from None


async def _handshake(host: str, port: int, *, server_name: str, context: ssl.SSLContext,
                     starttls: StartTls, client_name: str, phase: list[str],
                     started: float) -> Handshake:
    target = host_port(host, port)
    if starttls is StartTls.NONE:
        phase[0] = "TLS handshake"
        reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                       server_hostname=server_name)
    else:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            phase[0] = f"{starttls.name} dialogue"
            await _DIALOGUES[starttls](reader, writer, target, client_name)
            phase[0] = "TLS handshake"
            await writer.start_tls(context, server_hostname=server_name)
        except BaseException:
            writer.close()
            raise
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject):
            raise ProbeError(f"no TLS session with {target}")
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            raise ProbeError(f"{target} sent no certificate")
        cipher = ssl_object.cipher()
        return Handshake(der, ssl_object.version() or "unknown",
                         cipher[0] if cipher else "", elapsed_ms)
    finally:
        # Say goodbye politely (mail servers log abrupt hang-ups), without waiting long.
        with contextlib.suppress(Exception):
            writer.write(_GOODBYE[starttls])
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 0.5)


_GOODBYE = {StartTls.NONE: b"", StartTls.SMTP: b"QUIT\r\n", StartTls.IMAP: b"z LOGOUT\r\n",
            StartTls.POP3: b"QUIT\r\n"}


async def _line(reader: asyncio.StreamReader, target: str, proto: str) -> str:
    raw = await reader.readline()
    if not raw:
        raise ProbeError(f"{proto} server at {target} closed the connection")
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _short(text: str, limit: int = 80) -> str:
    return shortened(text.strip(), limit + 3)


async def _smtp_reply(reader: asyncio.StreamReader, target: str) -> tuple[int, list[str]]:
    """One SMTP reply: the code and the text of each line (``250-...`` continues)."""
    lines: list[str] = []
    while True:
        line = await _line(reader, target, "SMTP")
        if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
            raise ProbeError(f"{target} does not speak SMTP: {_short(line)!r}")
        lines.append(line[4:])
        if line[3:4] != "-":
            return int(line[:3]), lines


async def _send(writer: asyncio.StreamWriter, text: str) -> None:
    writer.write(text.encode("ascii") + b"\r\n")
    await writer.drain()


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str,
                client_name: str) -> None:
    code, lines = await _smtp_reply(reader, target)
    if code != 220:
        raise ProbeError(f"SMTP server at {target} greeted with {code} {_short(lines[0])}")
    await _send(writer, f"EHLO {client_name}")
    code, lines = await _smtp_reply(reader, target)
    if code != 250:
        raise ProbeError(f"SMTP server at {target} refused EHLO: {code} {_short(lines[0])}")
    if not any(line.split()[:1] == ["STARTTLS"] for line in (x.upper() for x in lines)):
        raise ProbeError(f"SMTP server at {target} does not offer STARTTLS")
    await _send(writer, "STARTTLS")
    code, lines = await _smtp_reply(reader, target)
    if code != 220:
        raise ProbeError(f"SMTP server at {target} refused STARTTLS: {code} {_short(lines[0])}")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str,
                client_name: str) -> None:
    greeting = await _line(reader, target, "IMAP")
    if not greeting.upper().startswith("* OK"):
        raise ProbeError(f"IMAP server at {target} greeted with {_short(greeting)!r}")
    await _send(writer, "a1 STARTTLS")
    while True:
        line = await _line(reader, target, "IMAP")
        if line.startswith("*"):
            continue  # untagged data (capabilities) before the tagged answer
        if line.upper().startswith("A1 OK"):
            return
        raise ProbeError(f"IMAP server at {target} refused STARTTLS: {_short(line)}")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str,
                client_name: str) -> None:
    greeting = await _line(reader, target, "POP3")
    if not greeting.startswith("+OK"):
        raise ProbeError(f"POP3 server at {target} greeted with {_short(greeting)!r}")
    await _send(writer, "STLS")
    line = await _line(reader, target, "POP3")
    if not line.startswith("+OK"):
        raise ProbeError(f"POP3 server at {target} refused STLS: {_short(line)}")


_Dialogue = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str, str], Awaitable[None]]
_DIALOGUES: dict[StartTls, _Dialogue] = {
    StartTls.SMTP: _smtp, StartTls.IMAP: _imap, StartTls.POP3: _pop3,
}
