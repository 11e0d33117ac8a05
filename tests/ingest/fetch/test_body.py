"""Response bodies (bot/ingest/fetch/body.py): the size cap, gzip bombs, Content-Encodings."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from tests.ingest.fetch.fetching import RSS, fetch_one, local_feed
from tests.support.feedserver import FeedServer

BOMB = b"\0" * (50 * 1024 * 1024)


@pytest.mark.parametrize(
    ("route", "error"),
    [
        pytest.param(
            {"body": b"", "endless": True},
            "response larger than the 64 KiB limit",
            id="endless-body",
        ),
        pytest.param(
            {"body": b"y" * 100_000},
            "response larger than the 64 KiB limit (Content-Length: 100000 bytes)",
            id="content-length-over-cap",
        ),
        pytest.param(
            {"body": b"tiny", "headers": {"Content-Length": "5000000000"}},
            "response larger than the 64 KiB limit (Content-Length: 5000000000 bytes)",
            id="content-length-lie",
        ),
        pytest.param(
            {"body": BOMB, "gzip": True},
            "response larger than the 64 KiB limit",
            id="gzip-bomb",
        ),
    ],
)
def test_size_cap(feed_server: FeedServer, route: dict[str, object], error: str) -> None:
    feed = local_feed(feed_server, "/big")
    feed_server.add("/big", **route)  # type: ignore[arg-type]
    result = fetch_one(feed)
    assert (result.ok, result.status_code, result.error, result.body) == (False, 200, error, b"")
    assert result.elapsed < 2.0


def test_gzip_bomb_never_inflates_much_past_the_cap(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/bomb")
    feed_server.add("/bomb", BOMB, gzip=True)  # ~50 KiB on the wire
    tracemalloc.start()
    try:
        result = fetch_one(feed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error == "response larger than the 64 KiB limit"
    # Inflating a whole network read at once would peak near 50 MiB here.
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("wire", "encoding"),
    [
        pytest.param(gzip.compress(RSS), "gzip", id="gzip"),
        pytest.param(
            gzip.compress(RSS[:50]) + gzip.compress(RSS[50:]), "gzip", id="gzip-2-members"
        ),
        pytest.param(zlib.compress(RSS), "deflate", id="deflate-zlib"),
        pytest.param(_deflate_raw(RSS), "deflate", id="deflate-raw"),
        pytest.param(RSS, "identity", id="identity"),
    ],
)
def test_compressed_bodies_are_decoded(feed_server: FeedServer, wire: bytes, encoding: str) -> None:
    feed = local_feed(feed_server, "/z")
    feed_server.add("/z", wire, headers={"Content-Encoding": encoding})
    result = fetch_one(feed)
    assert (result.ok, result.body) == (True, RSS)
    assert feed_server.requests()[0].header("accept-encoding") == "gzip, deflate"


def test_gzip_option_of_the_server(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/gz")
    feed_server.add("/gz", RSS * 50, gzip=True)
    result = fetch_one(feed)
    assert result.body == RSS * 50
    assert result.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("wire", "encoding", "error"),
    [
        pytest.param(
            b"\x1f\x8b\x08\x00garbage-not-gzip" * 4,
            "gzip",
            "could not decode the gzip body: ",
            id="corrupt-gzip",
        ),
        pytest.param(RSS, "br", "unsupported Content-Encoding 'br'", id="brotli-unasked"),
    ],
)
def test_undecodable_bodies(
    feed_server: FeedServer, wire: bytes, encoding: str, error: str
) -> None:
    feed = local_feed(feed_server, "/bad-encoding")
    feed_server.add("/bad-encoding", wire, headers={"Content-Encoding": encoding})
    result = fetch_one(feed)
    assert result.ok is False
    assert result.error is not None and result.error.startswith(error)
