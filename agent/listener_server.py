"""The listener's sockets: bind, accept a few connections per turn of the event loop, close.

Accepting is ours rather than ``asyncio.start_server``'s, which takes up to its whole
backlog in one go: a burst of hundreds of new connections would then push one that had
already sent its request out of the connection table before it was read. A few at a time,
every connection is read within a turn or two of being accepted. The backlog itself is
deep, so a flood does not drop a ping's connection attempt on the floor.

At start the soft limit of open files is raised to ``WANTED_OPEN_FILES`` (or the hard
limit, if lower) so the connection table fits in it twice over; where it cannot be, the
table is shrunk to fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
from dataclasses import dataclass

from agent.errors import WatchkeeperError
from agent.listen_address import ListenAddress
from agent.listener_connection import HttpConnection, Hub, Responder
from agent.listener_policy import ConnectionLimits, Phase, open_files_target

log = logging.getLogger("watchkeeper.http")

#: Linux caps it to net.core.somaxconn (4096 by default).
BACKLOG = 4096
#: Connections accepted per turn of the event loop (see the module's docstring).
ACCEPT_BATCH = 8
#: Open files the agent asks for: the listener's table twice over, and room for the rest.
WANTED_OPEN_FILES = 4096
#: Out of descriptors with nothing to drop: accepting pauses this long.
_RESOURCE_PAUSE = 0.1
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True, slots=True)
class OpenFiles:
    """The soft open files limit before and after the listener asked for more."""

    before: int
    after: int
    hard: int
    #: Why it could not be raised as far as wanted (None when it was, or had no need).
    failure: str | None = None

    def report(self, wanted: int = WANTED_OPEN_FILES) -> tuple[int, str] | None:
        """A log level and line for the agent's log, None when there is nothing to say."""
        if self.failure is not None:
            return logging.WARNING, (f"cannot raise the open files limit from {self.before}: "
                                     f"{self.failure}")
        if self.after > self.before:
            return logging.INFO, f"open files limit raised from {self.before} to {self.after}"
        if self.after < wanted:
            keeps = ConnectionLimits().within_open_files(self.after).total
            return logging.WARNING, (f"the open files limit is {self.after} (hard limit "
                                     f"{self.hard}): the listener keeps at most {keeps} "
                                     "connections")
        return None


def raise_open_files_limit(wanted: int = WANTED_OPEN_FILES) -> OpenFiles:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (within the hard limit), once per
    process: later calls find it raised already."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    shown_hard = -1 if hard == resource.RLIM_INFINITY else hard
    target = open_files_target(soft, shown_hard, wanted)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            return OpenFiles(soft, soft, shown_hard, str(exc))
    return OpenFiles(soft, target, shown_hard)


class Listener:
    """A running listener; ``port`` is the one bound (useful when asked for port 0)."""

    def __init__(self, sockets: list[socket.socket], address: ListenAddress, hub: Hub,
                 open_files: OpenFiles) -> None:
        self._sockets = sockets
        #: What became of the open files limit at start (the agent logs it).
        self.open_files = open_files
        self.address = address
        self.hub = hub
        self._loop = asyncio.get_running_loop()
        self._starting: set[asyncio.Task[object]] = set()
        for sock in sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    @property
    def port(self) -> int:
        return int(self._sockets[0].getsockname()[1])

    @property
    def limits(self) -> ConnectionLimits:
        return self.hub.limits

    async def close(self) -> None:
        """Stop accepting; drop waiting connections, give answers under way a moment."""
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in list(self._starting):
            task.cancel()
        for conn in list(self.hub.live.values()):
            if self.hub.table.phase(conn.id) is not Phase.HANDLING:
                conn.drop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.hub.limits.linger + 1):
                while self.hub.live:
                    await asyncio.sleep(0.05)
        for conn in list(self.hub.live.values()):
            conn.drop()

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    log.warning("listener: accepting a connection failed: %s", exc)
                    return
                self._out_of_descriptors(sock, exc)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._loop.connect_accepted_socket(
                lambda: HttpConnection(self.hub), conn))
            self._starting.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[object]) -> None:
        self._starting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("listener: a connection could not be set up: %s", task.exception())

    def _out_of_descriptors(self, sock: socket.socket, exc: OSError) -> None:
        """Make room by dropping the oldest waiting connection; with none, pause a moment
        (the pending connection stays in the backlog)."""
        victim = self.hub.table.make_room()
        self.hub.evict((victim,) if victim is not None else (), self._loop.time(),
                       f"out of file descriptors ({exc.strerror})")
        if victim is None:
            self._loop.remove_reader(sock.fileno())
            self._loop.call_later(_RESOURCE_PAUSE, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self._loop.add_reader(sock.fileno(), self._accept, sock)


async def bind(address: ListenAddress) -> list[socket.socket]:
    """Listening sockets for every address ``address.host`` names; WatchkeeperError when
    the address cannot be used."""
    loop = asyncio.get_running_loop()
    sockets: list[socket.socket] = []
    try:
        # An ASCII name goes as bytes: a str is encoded with the "idna" codec, whose
        # import (unicodedata, stringprep) costs some 400 kB the agent keeps for good.
        host = address.host.encode("ascii") if address.host.isascii() else address.host
        infos = await loop.getaddrinfo(host, address.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        for family, kind, proto, _, sockaddr in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        # The errno says it in a few words (a name lookup's error has its own text).
        why = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
        raise WatchkeeperError(f"cannot listen on {address}: {why.lower()}") from None
    return sockets


async def start_listener(address: ListenAddress, responder: Responder,
                         limits: ConnectionLimits) -> Listener:
    """Bind and start serving ``responder`` within ``limits`` (shrunk to the open files
    limit); raises WatchkeeperError when the address cannot be used."""
    open_files = raise_open_files_limit()
    sockets = await bind(address)
    hub = Hub(responder, limits.within_open_files(open_files.after))
    return Listener(sockets, address, hub, open_files)
