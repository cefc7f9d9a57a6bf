"""The running agent's local control socket: one JSON request, one JSON answer.

``<state_dir>/control.sock`` is a Unix stream socket of mode 0660, so root and the agent's
group reach it whether or not the HTTP listener is on. A client connects, writes one JSON
object (``{"op": "status"}``) on one line, and reads one JSON object back before the agent
closes the connection: ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error":
"..."}``. A request is at most ``MAX_REQUEST`` bytes and must arrive within
``REQUEST_TIMEOUT``; anything malformed gets an error answer, and the server goes on.

A request kind is an ``Op``, a request model, a method of ``Answers`` and one entry of
``_ROUTES``; the runtime provides the ``Answers``. ``serve_control`` replaces a socket
file left by an agent that died (the agent holds the state lock, so no live one can be
there); ``ask`` is the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from agent.alerting.silences import MAX_SILENCE, MIN_SILENCE
from agent.errors import StateError, WatchkeeperError
from agent.textsafe import control_problem

if TYPE_CHECKING:
    from agent.reports import BaselineReport, StatusReport

log = logging.getLogger("watchkeeper.control")

SOCKET_NAME = "control.sock"
#: Root and the agent's group may connect (connecting needs write permission).
SOCKET_MODE = 0o660
MAX_REQUEST = 64 * 1024
#: What a client reads at most (the baseline answer carries every learned series).
MAX_ANSWER = 64 * 1024 * 1024
REQUEST_TIMEOUT = 5.0
#: The longest path a Unix socket address holds (sun_path, with its terminating NUL).
_SUN_PATH_MAX = 107

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


def _one_line(value: str) -> str:
    problem = control_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: Text kept to be shown later (a reason, a comment, a name): no control characters.
OneLine = Annotated[str, AfterValidator(_one_line)]


class ControlError(WatchkeeperError):
    """Asking the agent failed: it refused, did not answer in time, or answered nonsense."""


class RequestRefusedError(ControlError):
    """The agent understood the request and refuses it (no such incident): its words go
    back to the client."""


class AgentNotRunning(ControlError):  # noqa: N818 - a state, not a failure of the caller
    """No agent answers on this state directory's control socket."""


class Op(enum.Enum):
    """What a client may ask the agent."""

    STATUS = "status"
    BASELINE = "baseline"
    SILENCE_ADD = "silence_add"
    SILENCE_REMOVE = "silence_remove"
    ACK = "ack"
    UNACK = "unack"


class Request(BaseModel):
    """A request to the agent; each kind a subclass of its own."""

    # Built on first use, not at import (as the reports are).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    op: Op


class StatusRequest(Request):
    """Who the agent is, its open alerts, queued notifications and silences."""

    op: Op = Op.STATUS


class BaselineRequest(Request):
    """What every learned series knows now."""

    op: Op = Op.BASELINE


class SilenceAddRequest(Request):
    """Hold back the alerts of checks matching ``check`` (and ``metric``) from now for
    ``duration`` seconds."""

    op: Op = Op.SILENCE_ADD
    check: str = Field(min_length=1, max_length=512)
    metric: str | None = Field(default=None, max_length=512)
    duration: float = Field(ge=MIN_SILENCE, le=MAX_SILENCE)
    reason: OneLine = Field(default="", max_length=2000)


class SilenceRemoveRequest(Request):
    """End silence ``id`` now."""

    op: Op = Op.SILENCE_REMOVE
    id: int = Field(ge=1)


class SilenceAdded(BaseModel):
    """The silence the agent added."""

    model_config = ConfigDict(defer_build=True)

    id: int
    starts_at: float
    ends_at: float


class SilenceRemoved(BaseModel):
    """Whether there was such a silence to end."""

    model_config = ConfigDict(defer_build=True)

    removed: bool


class AckRequest(Request):
    """``by`` is on ``incident`` (an id, or a unique start of one): reminders stop."""

    op: Op = Op.ACK
    incident: str = Field(min_length=1, max_length=200)
    by: OneLine = Field(min_length=1, max_length=200)
    comment: OneLine = Field(default="", max_length=2000)


class UnackRequest(Request):
    """Nobody is on ``incident`` any more: reminders go on."""

    op: Op = Op.UNACK
    incident: str = Field(min_length=1, max_length=200)
    by: OneLine = Field(min_length=1, max_length=200)


class Acked(BaseModel):
    """The incident as it now stands: its full id, and who is on it (None: nobody)."""

    model_config = ConfigDict(defer_build=True)

    incident: str
    alert: str
    acked_by: str | None


class _Head(BaseModel):
    """The part of any request that says which it is."""

    model_config = ConfigDict(defer_build=True)

    op: Op


class Answers(Protocol):
    """What the running agent answers from its live state (coroutines: what they read of
    the store they read off the event loop)."""

    async def status(self) -> StatusReport: ...

    async def baseline(self) -> BaselineReport: ...

    async def add_silence(self, request: SilenceAddRequest) -> SilenceAdded: ...

    async def remove_silence(self, request: SilenceRemoveRequest) -> SilenceRemoved: ...

    async def ack(self, request: AckRequest | UnackRequest) -> Acked: ...


@dataclass(frozen=True, slots=True)
class _Route:
    request: type[Request]
    answer: Callable[[Answers, Any], Awaitable[BaseModel]]


#: One entry per request kind: its model, and how the answer to it is made.
_ROUTES: dict[Op, _Route] = {
    Op.STATUS: _Route(StatusRequest, lambda answers, _req: answers.status()),
    Op.BASELINE: _Route(BaselineRequest, lambda answers, _req: answers.baseline()),
    Op.SILENCE_ADD: _Route(SilenceAddRequest, lambda answers, req: answers.add_silence(req)),
    Op.SILENCE_REMOVE: _Route(SilenceRemoveRequest,
                              lambda answers, req: answers.remove_silence(req)),
    Op.ACK: _Route(AckRequest, lambda answers, req: answers.ack(req)),
    Op.UNACK: _Route(UnackRequest, lambda answers, req: answers.ack(req)),
}


class _Envelope(BaseModel, Generic[_T]):
    """What goes back: ``result`` when ``ok``, else ``error``."""

    model_config = ConfigDict(defer_build=True)

    ok: bool
    result: _T | None = None
    error: str = ""


# -- server ----------------------------------------------------------------------------


class ControlServer:
    """The listening control socket; ``close`` stops it and removes its file."""

    def __init__(self, server: asyncio.Server, path: Path, inode: int) -> None:
        self._server = server
        self.path = path
        self._inode = inode

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        # Only our own file: an agent started after us may have taken the name over.
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()


async def serve_control(state_dir: Path, answers: Answers,
                        request_timeout: float = REQUEST_TIMEOUT) -> ControlServer:
    """Listen on ``state_dir/control.sock``, answering with ``answers``; a client has
    ``request_timeout`` seconds to send its request.

    Call it holding the state directory's lock: a socket file found there is taken to be
    left by an agent that died, and replaced. Raises StateError when the socket cannot be
    made.
    """
    path = Path(state_dir) / SOCKET_NAME
    _take_over(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _address(path) as address:
            sock.bind(address)
        os.chmod(path, SOCKET_MODE)
        inode = path.stat().st_ino
        sock.setblocking(False)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _serve_one(answers, reader, writer, request_timeout)

        server = await asyncio.start_unix_server(handle, sock=sock, limit=MAX_REQUEST)
    except OSError as exc:
        sock.close()
        raise StateError(f"cannot listen on control socket {path}: "
                         f"{exc.strerror or exc}") from None
    log.debug("control socket on %s", path)
    return ControlServer(server, path, inode)


def _take_over(path: Path) -> None:
    """Remove the socket file an agent that died left behind.

    The caller holds the state directory's lock (``agent.state_lock``), so no other agent
    is using it. Anything there that is not a socket is left alone (StateError).
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot use control socket {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(mode):
        raise StateError(f"{path} exists and is not a socket; move it away")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _serve_one(answers: Answers, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, timeout: float) -> None:
    try:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except TimeoutError:
            answer = _failure(f"no request within {timeout:g}s")
        except ValueError:  # readline's own word for "longer than the limit"
            answer = _failure(f"request longer than {MAX_REQUEST // 1024} KiB")
        else:
            answer = await respond(answers, line)
        writer.write(answer + b"\n")
        await asyncio.wait_for(writer.drain(), timeout)
    except (OSError, TimeoutError):
        pass  # the client went away; nothing to tell it
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def respond(answers: Answers, line: bytes) -> bytes:
    """The JSON answer to one request line (an error answer when it is malformed)."""
    try:
        route = _ROUTES[_Head.model_validate_json(line).op]
        request = route.request.model_validate_json(line)
    except ValidationError as exc:
        return _failure(f"malformed request: {_first_problem(exc)}")
    try:
        result = await route.answer(answers, request)
    except RequestRefusedError as exc:
        return _failure(str(exc))
    except Exception as exc:  # a bug in one answer must not stop the socket
        log.exception("answering %s on the control socket failed", request.op.value)
        return _failure(f"the agent failed to answer {request.op.value}: "
                        f"{type(exc).__name__}")
    return _Envelope[Any](ok=True, result=result).model_dump_json().encode()


def _failure(error: str) -> bytes:
    return _Envelope[Any](ok=False, error=error).model_dump_json().encode()


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    ops = f" (ops: {', '.join(op.value for op in Op)})" if where == "op" else ""
    return f"{where + ': ' if where else ''}{first['msg']}{ops}"


# -- client ----------------------------------------------------------------------------


def ask(state_dir: Path, request: Request, answer: type[_M],
        timeout: float = REQUEST_TIMEOUT) -> _M:
    """Send ``request`` to the agent running on ``state_dir``; its answer as ``answer``.

    Raises AgentNotRunning when no agent listens there, ControlError when the agent
    cannot be asked or its answer is an error or does not fit ``answer``.
    """
    path = Path(state_dir) / SOCKET_NAME
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            with _address(path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            raise AgentNotRunning(f"no agent answers on {path}") from None
        except PermissionError:
            raise ControlError(f"not allowed to connect to {path} (root and the agent's "
                               "group are)") from None
        data = _exchange(sock, request.model_dump_json().encode() + b"\n")
    except TimeoutError:
        raise ControlError(f"the agent did not answer on {path} within {timeout:g}s") from None
    except OSError as exc:
        raise ControlError(f"asking the agent on {path} failed: {exc.strerror or exc}") from None
    finally:
        sock.close()
    try:
        envelope = _Envelope[answer].model_validate_json(data)  # type: ignore[valid-type]
    except ValidationError:
        raise ControlError(f"the agent on {path} answered something this watchkeeper does "
                           "not understand (a different version?)") from None
    if not envelope.ok or envelope.result is None:
        raise ControlError(f"the agent refused the request: {envelope.error or 'no answer'}")
    result: _M = envelope.result
    return result


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    chunks: list[bytes] = []
    size = 0
    while chunk := sock.recv(256 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER:
            raise ControlError(f"the agent's answer is longer than {MAX_ANSWER >> 20} MiB")
    return b"".join(chunks)


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits a Unix socket address, however deep the path."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    # Through the directory's descriptor: /proc/self/fd/N/control.sock is short.
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
