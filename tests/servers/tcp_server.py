"""A TCP banner server on 127.0.0.1: greets, answers what it is sent, or stays silent."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import TracebackType


@dataclass
class BannerServer:
    """Sends ``banner`` on connect, then for each received chunk containing a key of
    ``answers`` sends its value. ``close_after_banner`` hangs up right after greeting."""

    banner: bytes = b""
    answers: dict[bytes, bytes] = field(default_factory=dict)
    close_after_banner: bool = False
    #: Send the banner in pieces this far apart (seconds), to test reads that span chunks.
    drip: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    received: bytearray = field(default_factory=bytearray)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> BannerServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            if self.banner:
                if self.drip:
                    for i in range(len(self.banner)):
                        writer.write(self.banner[i:i + 1])
                        await writer.drain()
                        await asyncio.sleep(self.drip)
                else:
                    writer.write(self.banner)
                    await writer.drain()
            if self.close_after_banner:
                return
            while data := await reader.read(4096):
                self.received += data
                for key, answer in self.answers.items():
                    if key in data:
                        writer.write(answer)
                        await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
