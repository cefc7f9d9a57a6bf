"""Hostile HTTP bodies: compression bombs (gzip, deflate, nested, chunked) and the server
that serves them, on a thread of its own so a test on an event loop and a test driving an
agent process can both use it."""

from __future__ import annotations

import contextlib
import functools
import socketserver
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

MiB = 1 << 20
_BLOCK = bytes(MiB)
_SEND = 64 * 1024


@functools.cache
def zeros_compressed(size: int, encoding: str = "gzip") -> bytes:
    """``size`` zero bytes compressed as ``encoding`` (``gzip``, ``deflate`` for the zlib
    format, ``raw-deflate`` for raw deflate): about a thousandth of ``size``."""
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding]
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [c.compress(_BLOCK) for _ in range(size // MiB)]
    parts.append(c.compress(bytes(size % MiB)))
    parts.append(c.flush())
    return b"".join(parts)


def gzip_layers(data: bytes, layers: int) -> bytes:
    """``data`` gzipped ``layers`` more times (``Content-Encoding: gzip, gzip, ...``)."""
    for _ in range(layers):
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        data = c.compress(data) + c.flush()
    return data


@dataclass(frozen=True)
class Bomb:
    """A body and how it is sent."""

    payload: bytes
    content_encoding: str = "gzip"
    #: Transfer-Encoding: chunked (no Content-Length), else a Content-Length body.
    chunked: bool = False
    content_type: str = "application/json"


class BombServer:
    """Serves ``routes`` (path -> Bomb) on 127.0.0.1 and a free port; one request per
    connection. Use ``with``."""

    def __init__(self, routes: dict[str, Bomb]) -> None:
        self.routes = routes
        routes_ = routes

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request_line = self.rfile.readline(8192).decode("latin-1")
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                parts = request_line.split()
                bomb = routes_.get(parts[1] if len(parts) > 1 else "/")
                # The client may stop reading at its cap and close: as it should.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    _send(self.wfile.write, bomb)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="bomb-server")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> BombServer:
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def _send(write: Callable[[bytes | memoryview], object], bomb: Bomb | None) -> None:
    if bomb is None:
        write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    head = ["HTTP/1.1 200 OK", f"Content-Type: {bomb.content_type}", "Connection: close"]
    if bomb.content_encoding:
        head.append(f"Content-Encoding: {bomb.content_encoding}")
    head.append("Transfer-Encoding: chunked" if bomb.chunked
                else f"Content-Length: {len(bomb.payload)}")
    write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    view = memoryview(bomb.payload)
    for at in range(0, len(view), _SEND):
        piece = view[at:at + _SEND]
        if bomb.chunked:
            write(f"{len(piece):x}\r\n".encode() + bytes(piece) + b"\r\n")
        else:
            write(piece)
    if bomb.chunked:
        write(b"0\r\n\r\n")
