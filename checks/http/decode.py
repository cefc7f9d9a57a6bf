"""Bounded decoding of a response body's ``Content-Encoding``.

httpx's own decoders inflate each network chunk whole: 64 KB of gzip can become 64 MB in
one call, before any cap is looked at. Here every step asks zlib for at most the bytes the
caller still has room for (``max_length``), so a gzip bomb, nested (``gzip, gzip``) or
chunked, never costs more memory than the cap plus one network chunk.

Decoded: ``gzip`` (also ``x-gzip`` and several members in a row) and ``deflate`` (zlib or
raw, as httpx accepts it); the client asks for nothing else
(``agent.http_client.ACCEPT_ENCODING``). An
encoding named by the server but not decoded here is passed through as it is, as httpx
does.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import httpx

#: Largest piece one stage of a nested encoding hands to the next.
_STEP = 64 * 1024

_GZIP = zlib.MAX_WBITS | 16
_DECODED = frozenset({"gzip", "x-gzip", "deflate"})
#: More layers than this are no real server's doing; each costs a zlib window (~40 KB).
MAX_LAYERS = 4


class _Inflater:
    """One zlib stream (gzip or deflate) decoded a bounded piece at a time."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(_GZIP if gzip else zlib.MAX_WBITS)
        # A "deflate" body is sometimes raw deflate without the zlib header.
        self._may_be_raw = not gzip
        self._tail = b""
        self._ended = False

    def feed(self, data: bytes) -> None:
        self._tail = self._tail + data if self._tail else data

    def pull(self, limit: int) -> bytes:
        """At most ``limit`` (> 0) decoded bytes; empty when it needs more input."""
        while not self._ended:
            try:
                out = self._obj.decompress(self._tail, limit)
            except zlib.error as exc:
                if not self._may_be_raw:
                    raise httpx.DecodingError(str(exc)) from exc
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self._may_be_raw = False
                continue
            self._may_be_raw = False
            self._tail = self._obj.unconsumed_tail
            if self._obj.eof:
                self._next_member()
            if out:
                return out
            if not self._tail:
                return b""
        return b""

    def _next_member(self) -> None:
        """After the end of a stream: the next gzip member, if one follows (else done;
        bytes after a deflate stream are ignored, as httpx does)."""
        rest = self._obj.unused_data
        if self._gzip and rest.strip(b"\0"):
            self._obj = zlib.decompressobj(_GZIP)
            self._tail = rest
        else:
            self._ended = True
            self._tail = b""


class BodyDecoder:
    """Raw body bytes in (``feed``), decoded bytes out in bounded pieces (``pull``)."""

    def __init__(self, encodings: Sequence[str]) -> None:
        """``encodings`` in the order the server applied them (each one we decode)."""
        # The last encoding applied is the first to undo.
        self._stages = [_Inflater(gzip=e != "deflate") for e in reversed(encodings)]

    def feed(self, raw: bytes) -> None:
        self._stages[0].feed(raw)

    def pull(self, limit: int) -> bytes:
        """At most ``limit`` (> 0) decoded bytes of what was fed; empty when all of it
        is decoded (feed more, or the body is complete)."""
        return self._pull(len(self._stages) - 1, limit)

    def _pull(self, i: int, limit: int) -> bytes:
        stage = self._stages[i]
        while True:
            out = stage.pull(limit)
            if out or i == 0:
                return out
            more = self._pull(i - 1, _STEP)
            if not more:
                return b""
            stage.feed(more)


def body_decoder(headers: httpx.Headers) -> BodyDecoder | None:
    """The decoder for a response's ``Content-Encoding``; None when the body is sent as
    it is (nothing to decode)."""
    encodings = [v.strip().lower()
                 for v in headers.get_list("content-encoding", split_commas=True)]
    encodings = [e for e in encodings if e in _DECODED]
    if len(encodings) > MAX_LAYERS:
        raise httpx.DecodingError(f"{len(encodings)} layers of Content-Encoding, "
                                  f"at most {MAX_LAYERS} are decoded")
    return BodyDecoder(encodings) if encodings else None
