"""Sockets that fail in a chosen way, all on 127.0.0.1.

- ``refused_port``: a port that is bound but not listening, so a connect is refused, and no
  other test can take the port while the block runs.
- ``full_backlog_port``: a listener whose accept queue is full and is never drained, so a
  new connect hangs until the client's connect timeout (Linux drops the SYNs).
- ``silent_port``: a listener that accepts at the TCP level and never says a word, so a
  client waiting for a server greeting times out.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator


@contextlib.contextmanager
def refused_port(host: str = "127.0.0.1") -> Iterator[int]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((host, 0))
        listener.listen(1)
        yield listener.getsockname()[1]


@contextlib.contextmanager
def full_backlog_port(host: str = "127.0.0.1") -> Iterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((host, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # With a backlog of 0 the queue holds one connection; a few more make sure it is
        # full whatever the kernel rounds the backlog to.
        for _ in range(3):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect((host, port))
            fillers.append(c)
        time.sleep(0.02)
        yield port
    finally:
        for c in fillers:
            c.close()
        listener.close()
