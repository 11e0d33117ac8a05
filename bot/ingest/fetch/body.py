"""A response body read within `max_bytes`: streamed, decoded here a bounded piece at a time.

Bodies are decompressed here, a bounded piece at a time (a decoder that
inflates a whole 64 KiB network read at once, as httpx's does, makes ~64 MiB
of zeros of a gzip bomb before any cap can look at it). `max_bytes` applies
to the decoded bytes, while streaming.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Final

from bot.ingest.fetch.errors import FetchFailure
from bot.ingest.fetch.wire import WireResponse

__all__ = ["ACCEPT_ENCODING", "read_body"]

# Only what _BodyDecoder can decode.
ACCEPT_ENCODING: Final = "gzip, deflate"
# Largest piece the decoder inflates in one step (bounds memory for bombs).
_DECODE_PIECE: Final = 64 * 1024


async def read_body(response: WireResponse, limit: int) -> bytes:
    """The decoded body, or FetchFailure when it is (or is declared) over `limit` bytes."""
    declared = (response.header("content-length") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise FetchFailure(
            f"response larger than the {format_size(limit)} limit "
            f"(Content-Length: {int(declared)} bytes)"
        )
    decoder = _BodyDecoder(response.header("content-encoding"))
    body = bytearray()

    def add(piece: bytes) -> None:
        body.extend(piece)
        if len(body) > limit:
            raise FetchFailure(f"response larger than the {format_size(limit)} limit")

    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            add(piece)
    for piece in decoder.flush():
        add(piece)
    return bytes(body)


class _BodyDecoder:
    """Undoes one Content-Encoding (identity, gzip, deflate) in bounded pieces."""

    def __init__(self, content_encoding: str | None) -> None:
        coding = (content_encoding or "identity").strip().lower()
        self._coding = coding
        if coding in ("identity", ""):
            self._mode = "identity"
        elif coding in ("gzip", "x-gzip"):
            self._mode = "gzip"
        elif coding == "deflate":
            self._mode = "deflate"
        else:
            raise FetchFailure(f"unsupported Content-Encoding {content_encoding!r}")
        self._inflater = self._new_inflater()
        self._started = False

    def _new_inflater(self, *, raw: bool = False) -> Any:
        if self._mode == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # RFC 9110 §8.4.1.2: "deflate" is the zlib format, but some servers send
        # a bare deflate stream; fall back to that when the zlib header is wrong.
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._mode == "identity":
            if data:
                yield data
            return
        pending = data
        while pending:
            try:
                out = self._inflater.decompress(pending, _DECODE_PIECE)
            except zlib.error as exc:
                if self._mode == "deflate" and not self._started:
                    self._inflater = self._new_inflater(raw=True)
                    self._started = True
                    continue
                raise FetchFailure(f"could not decode the {self._coding} body: {exc}") from None
            self._started = True
            if out:
                yield out
            if self._inflater.eof:
                rest = self._inflater.unused_data
                # A gzip body may hold several members (RFC 1952 §2.2); other
                # trailing bytes are ignored, as browsers do.
                if self._mode != "gzip" or not rest.startswith(b"\x1f\x8b"):
                    self._mode = "identity-done"
                    return
                self._inflater = self._new_inflater()
                pending = rest
                continue
            tail = self._inflater.unconsumed_tail
            if not out and tail == pending:
                return  # no progress: wait for more input
            pending = tail

    def flush(self) -> Iterator[bytes]:
        if self._mode in ("gzip", "deflate"):
            rest = self._inflater.flush()
            if rest:
                yield rest


def format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
