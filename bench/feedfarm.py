"""A feed farm on loopback: N feeds made from recorded real feeds, with ETags, changes and latency.

`FeedFarm` serves `http://127.0.0.H:PORT/feeds/N.xml` for N in 0..feeds-1. Feed
N is recorded file N mod (number of files), rewritten without parsing it
(byte-level regular expressions) so that no two feeds are alike:

- every GUID, Atom id and link gets a marker of its feed (`?bbf=N`, or `-fN`
  for an id that is not a URL), and Federal Register document numbers are
  renumbered per feed, so items are distinct across feeds as they would be in
  1,000 different feeds;
- two words of every title are swapped for other real title words, so the
  same story does not appear under one title in 30 feeds (the bot would link
  them all as one story, which real feeds rarely do).

`advance(share, seed)` makes a share of the feeds change "since the last poll":
each gets 1 to 5 new items (copies of its first item with a new title, new
ids, a new document number and today's date) prepended, and a new ETag. The
choice is stratified: every block of 100 consecutive feeds gets the same
number of changes, so a client polling the first 100 feeds sees the same share
as one polling all of them. `reset()` goes back to the unchanged feeds.

Each answer waits `latency` seconds first (a distant server). Conditional GETs
(RFC 9110 §13.1.2, If-None-Match, weak comparison) get 304 Not Modified when
the ETag is current. Bodies are gzip-encoded when the client accepts it, as
most publishers do, and precomputed, so serving costs almost no CPU.

Feeds are spread over `hosts` loopback addresses (127.0.0.1, 127.0.0.2, ...;
all of 127.0.0.0/8 is loopback on Linux), one listening server each, so a
client's per-host connection limit applies as it would to many publishers.
Where only 127.0.0.1 can be bound, every feed is served from it.

Run it in a process of its own (`python -m bench.feedfarm`, or `FarmProcess`)
so that serving does not take the measured process's CPU or GIL; the first
line it prints is JSON with the feed URLs and the control URL
(`POST /_farm/advance`, `POST /_farm/reset`, `GET /_farm/stats`).
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import json
import random
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.corpus import FeedFile, source_files

__all__ = [
    "FarmFeeds",
    "FarmProcess",
    "FarmServer",
    "FeedFarm",
    "main",
    "vary_entry",
    "vary_feed",
]

# Largest number of new items one change prepends.
MAX_NEW_ITEMS = 5
# Changes are spread evenly over blocks of this many consecutive feeds.
STRATUM = 100

_ENTRY_RE = re.compile(rb"<(item|entry)\b[^>]*>.*?</\1>", re.DOTALL)
_TITLE_RE = re.compile(rb"(<title\b[^>]*>)(.*?)(</title>)", re.DOTALL)
# A word of a title that can be swapped: letters only, between spaces or punctuation,
# never part of an entity (&quot;) or of a CDATA marker.
_WORD_RE = re.compile(rb"(?<=[\s(\"])[A-Za-z]{4,}(?=[\s,.:;!?)\"])")
# guid, id and link elements with text content; `(?<!/)>` leaves out <link href=".."/>.
_ID_ELEMENT_RE = re.compile(rb"(<(guid|id|link)\b[^>]*(?<!/)>)(.*?)(</\2>)", re.DOTALL)
_URL_ATTR_RE = re.compile(rb"""\b(href|rdf:about|rdf:resource)="(https?://[^"]*)\"""")
_FR_NUMBER_RE = re.compile(rb"\b(20\d\d)-(\d{5})\b")
_DATE_RE = re.compile(
    rb"(<(pubDate|updated|published|dc:date|a10:updated)\b[^>]*>)(.*?)(</\2>)", re.DOTALL
)
_CDATA_START, _CDATA_END = b"<![CDATA[", b"]]>"


# --------------------------------------------------------------------------- rewriting


def _marked_url(url: bytes, marker: bytes) -> bytes:
    """`url` with a query parameter `marker` added (before any fragment); XML-escaped `&`."""
    base, hash_mark, fragment = url.partition(b"#")
    joiner = b"&amp;" if b"?" in base else b"?"
    return base + joiner + marker + hash_mark + fragment


def _mark_id_text(text: bytes, marker: bytes) -> bytes:
    stripped = text.strip()
    if stripped.startswith(_CDATA_START) and stripped.endswith(_CDATA_END):
        inner = stripped[len(_CDATA_START) : -len(_CDATA_END)]
        return _CDATA_START + _mark_id_text(inner, marker) + _CDATA_END
    if not stripped:
        return text
    if re.match(rb"https?://", stripped):
        return _marked_url(stripped, marker)
    return stripped + b"-" + marker.replace(b"=", b"")


def _mark_ids(body: bytes, marker: bytes) -> bytes:
    """Every GUID, Atom id and link (element text or href/rdf:about attribute) marked."""
    body = _ID_ELEMENT_RE.sub(
        lambda m: m.group(1) + _mark_id_text(m.group(3), marker) + m.group(4), body
    )
    return _URL_ATTR_RE.sub(
        lambda m: m.group(1) + b'="' + _marked_url(m.group(2), marker) + b'"', body
    )


def _renumber(body: bytes, offset: int) -> bytes:
    """Federal Register document numbers (2025-15432) shifted by `offset`, per year."""
    return _FR_NUMBER_RE.sub(
        lambda m: m.group(1) + b"-" + b"%05d" % ((int(m.group(2)) + offset) % 100_000), body
    )


def _swap_title_words(
    body: bytes, rng: random.Random, vocabulary: Sequence[bytes], *, least: int, share: float
) -> bytes:
    """Swap `share` of each title's words (at least `least`) for vocabulary words."""

    def swap(match: re.Match[bytes]) -> bytes:
        text = match.group(2)
        words = list(_WORD_RE.finditer(text))
        if not words or not vocabulary:
            return match.group(0)
        count = min(len(words), max(least, round(share * len(text.split()))))
        chosen = sorted(rng.sample(range(len(words)), count))
        out, last = [], 0
        for index in chosen:
            word = words[index]
            out += [text[last : word.start()], rng.choice(vocabulary)]
            last = word.end()
        out.append(text[last:])
        return match.group(1) + b"".join(out) + match.group(3)

    return _TITLE_RE.sub(swap, body)


def title_vocabulary(files: Sequence[FeedFile]) -> list[bytes]:
    """Every swappable word of every title in `files`, sorted (deterministic choices)."""
    words: set[bytes] = set()
    for feed in files:
        for match in _TITLE_RE.finditer(feed.body):
            words.update(w.group(0) for w in _WORD_RE.finditer(match.group(2)))
    return sorted(words)


def vary_feed(body: bytes, index: int, vocabulary: Sequence[bytes]) -> bytes:
    """Recorded feed `body` made into feed number `index` (see the module docstring)."""
    rng = random.Random(index)
    body = _mark_ids(body, b"bbf=%d" % index)
    body = _renumber(body, index * 1009)
    return _swap_title_words(body, rng, vocabulary, least=2, share=0.25)


def vary_entry(
    entry: bytes,
    *,
    feed: int,
    version: int,
    number: int,
    vocabulary: Sequence[bytes],
    now: datetime,
) -> bytes:
    """A new item made from `entry` (the feed's first): new title, ids, number and date."""
    rng = random.Random(f"{feed}/{version}/{number}")
    entry = _mark_ids(entry, b"bbn=%d.%d" % (version, number))
    entry = _renumber(entry, 50_000 + version * 101 + number * 7)
    entry = _swap_title_words(entry, rng, vocabulary, least=4, share=0.5)
    rfc822 = email.utils.format_datetime(now, usegmt=True).encode()
    iso = now.strftime("%Y-%m-%dT%H:%M:%SZ").encode()

    def redate(match: re.Match[bytes]) -> bytes:
        value = rfc822 if match.group(2) == b"pubDate" else iso
        return match.group(1) + value + match.group(4)

    return _DATE_RE.sub(redate, entry)


# --------------------------------------------------------------------------- the feeds


@dataclass
class _Feed:
    base: bytes  # the varied recorded feed
    content_type: str
    version: int = 0
    # New items by version (1, 2, ...), each a list of entry blocks.
    added: list[bytes] = field(default_factory=list)
    body: bytes = b""
    gzipped: bytes = b""
    etag: str = ""


class FarmFeeds:
    """The feeds' contents and versions; thread-safe. Serving reads `current(n)`."""

    def __init__(
        self, count: int, files: Sequence[FeedFile], *, now: datetime | None = None
    ) -> None:
        if count < 1:
            raise ValueError(f"a feed farm needs at least one feed, not {count}")
        if not files:
            raise ValueError("a feed farm needs at least one recorded feed file")
        self._lock = threading.Lock()
        self._now = now or datetime.now(UTC).replace(microsecond=0)
        self._vocabulary = title_vocabulary(files)
        self._feeds: list[_Feed] = []
        self.sources: list[str] = []
        for n in range(count):
            source = files[n % len(files)]
            feed = _Feed(vary_feed(source.body, n, self._vocabulary), source.content_type)
            self._render(n, feed)
            self._feeds.append(feed)
            self.sources.append(source.name)
        self.changes = 0

    def __len__(self) -> int:
        return len(self._feeds)

    def _render(self, index: int, feed: _Feed) -> None:
        body = feed.base
        if feed.version:
            first = _ENTRY_RE.search(body)
            at = first.start() if first else body.rfind(b"</channel>")
            if at < 0:
                at = body.rfind(b"</feed>")
            newest_first = b"".join(reversed(feed.added))
            body = body[:at] + newest_first + body[at:]
        feed.body = body
        feed.gzipped = gzip.compress(body, compresslevel=5, mtime=0)
        feed.etag = f'"{index}-{feed.version}-{zlib.crc32(body):08x}"'

    def current(self, index: int) -> tuple[str, bytes, bytes, str]:
        """(ETag, body, gzipped body, content type) of feed `index`; KeyError if none."""
        if not 0 <= index < len(self._feeds):
            raise KeyError(index)
        with self._lock:
            feed = self._feeds[index]
            return feed.etag, feed.body, feed.gzipped, feed.content_type

    def changed_feeds(self, share: float, seed: int) -> list[int]:
        """Which feeds a change of `share` touches: the same count in every block of 100."""
        rng = random.Random(seed)
        chosen: list[int] = []
        for start in range(0, len(self._feeds), STRATUM):
            block = range(start, min(start + STRATUM, len(self._feeds)))
            take = round(share * len(block))
            chosen.extend(sorted(rng.sample(block, take)))
        return chosen

    def advance(self, share: float, seed: int) -> dict[int, int]:
        """Prepend new items to a `share` of the feeds; return {feed index: items added}."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, not {share}")
        rng = random.Random(seed * 7919 + 1)
        added: dict[int, int] = {}
        with self._lock:
            for index in self.changed_feeds(share, seed):
                feed = self._feeds[index]
                first = _ENTRY_RE.search(feed.base)
                if first is None:
                    continue
                feed.version += 1
                count = rng.randint(1, MAX_NEW_ITEMS)
                feed.added.append(
                    b"".join(
                        vary_entry(
                            first.group(0),
                            feed=index,
                            version=feed.version,
                            number=k,
                            vocabulary=self._vocabulary,
                            now=self._now,
                        )
                        for k in range(count)
                    )
                )
                self._render(index, feed)
                added[index] = count
            self.changes += 1
        return added

    def reset(self) -> None:
        """Back to the unchanged feeds (version 0 everywhere)."""
        with self._lock:
            for index, feed in enumerate(self._feeds):
                if feed.version:
                    feed.version, feed.added = 0, []
                    self._render(index, feed)
            self.changes = 0


# --------------------------------------------------------------------------- serving


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    bytes_sent: int = 0

    def count(self, status: int, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self.bytes_sent += size

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "bytes_sent": self.bytes_sent,
            }

    def clear(self) -> None:
        with self.lock:
            self.requests, self.by_status, self.bytes_sent = 0, {}, 0


class FarmServer(ThreadingHTTPServer):
    """One listening address of the farm: a thread per connection, a deep accept queue."""

    # http.server's backlog of 5 drops SYNs under a concurrent poller; each
    # dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, feeds: FarmFeeds, counters: _Counters, latency: float, farm: FeedFarm
    ) -> None:
        self.feeds = feeds
        self.counters = counters
        self.latency = latency
        self.farm = farm
        super().__init__((host, 0), _FarmHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn), which
        # can stall for seconds without DNS; loopback needs no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Headers and body leave in separate writes: with Nagle's algorithm the
        # client's delayed ACK would add ~40 ms to each answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


class _FarmHandler(BaseHTTPRequestHandler):
    server: FarmServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real publishers
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_farm/stats":
            self._send_json(self.server.farm.stats())
            return
        match = re.fullmatch(r"/feeds/(\d+)(?:\.xml)?", path)
        try:
            etag, body, gzipped, content_type = self.server.feeds.current(
                int(match.group(1)) if match else -1
            )
        except KeyError:
            self._send(404, b"no such feed\n", {"Content-Type": "text/plain"})
            return
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        if _etag_matches(self.headers.get("If-None-Match"), etag):
            self._send(304, b"", {"ETag": etag})
            return
        headers = {"Content-Type": content_type, "ETag": etag}
        if "gzip" in (self.headers.get("Accept-Encoding") or "").lower():
            headers["Content-Encoding"] = "gzip"
            body = gzipped
        self._send(200, body, headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b"{}"
        try:
            params = json.loads(raw or b"{}")
            if self.path == "/_farm/advance":
                added = self.server.feeds.advance(float(params["share"]), int(params["seed"]))
                self._send_json({"added": {str(k): v for k, v in added.items()}})
            elif self.path == "/_farm/reset":
                self.server.feeds.reset()
                self.server.counters.clear()
                self._send_json({"ok": True})
            elif self.path == "/_farm/clear-stats":
                self.server.counters.clear()
                self._send_json({"ok": True})
            else:
                self._send(404, b"no such control\n", {"Content-Type": "text/plain"})
        except (KeyError, TypeError, ValueError) as exc:
            self._send(400, f"bad control request: {exc}\n".encode(), {})

    def _send_json(self, data: Any) -> None:
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        if not self.path.startswith("/_farm/"):
            self.server.counters.count(status, len(body))


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match with weak comparison (RFC 9110 §8.8.3.2): W/ prefixes ignored."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class FeedFarm:
    """The farm in this process: the feeds and one server per loopback address."""

    def __init__(
        self,
        feeds: int,
        *,
        latency: float = 0.02,
        hosts: int = 8,
        files: Sequence[FeedFile] | None = None,
    ) -> None:
        self.feeds = FarmFeeds(feeds, files if files is not None else source_files())
        self.counters = _Counters()
        self.servers: list[FarmServer] = []
        self._threads: list[threading.Thread] = []
        for h in range(1, max(1, hosts) + 1):
            try:
                server = FarmServer(f"127.0.0.{h}", self.feeds, self.counters, latency, self)
            except OSError:
                if h == 1:
                    raise
                break  # only 127.0.0.1 can be bound here: serve everything from it
            self.servers.append(server)

    def start(self) -> Self:
        for server in self.servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"feedfarm-{server.server_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def hosts(self) -> int:
        return len(self.servers)

    def url(self, index: int) -> str:
        server = self.servers[index % len(self.servers)]
        return f"http://{server.server_name}:{server.server_port}/feeds/{index}.xml"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in range(len(self.feeds))]

    @property
    def control_url(self) -> str:
        server = self.servers[0]
        return f"http://{server.server_name}:{server.server_port}"

    def advance(self, share: float, seed: int) -> dict[int, int]:
        return self.feeds.advance(share, seed)

    def reset(self) -> None:
        self.feeds.reset()
        self.counters.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counters.snapshot(), "feeds": len(self.feeds), "hosts": self.hosts}


# --------------------------------------------------------------------------- in a process


class FarmProcess:
    """The farm in a child process (`python -m bench.feedfarm`), driven over HTTP."""

    def __init__(
        self, feeds: int, *, latency: float, hosts: int = 8, smallest: int | None = None
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "bench.feedfarm",
            "--feeds",
            str(feeds),
            "--latency",
            str(latency),
            "--hosts",
            str(hosts),
        ]
        if smallest is not None:
            command += ["--smallest", str(smallest)]
        root = Path(__file__).resolve().parents[1]
        self._process = subprocess.Popen(
            command,
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=10)
            error = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"the feed farm did not start: {error.strip()[-2000:]}")
        hello = json.loads(line)
        self.urls: list[str] = hello["urls"]
        self.control_url: str = hello["control"]
        self.hosts: int = hello["hosts"]
        self.sources: list[str] = hello["sources"]

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.control_url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:  # loopback control only
            return json.loads(answer.read())

    def advance(self, share: float, seed: int) -> dict[int, int]:
        added = self._call("POST", "/_farm/advance", {"share": share, "seed": seed})["added"]
        return {int(k): int(v) for k, v in added.items()}

    def reset(self) -> None:
        self._call("POST", "/_farm/reset", {})

    def clear_stats(self) -> None:
        self._call("POST", "/_farm/clear-stats", {})

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_farm/stats")
        return result

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the farm's cue to stop
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each answer")
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses to spread over")
    parser.add_argument("--smallest", type=int, default=None, help="use only the n smallest files")
    args = parser.parse_args(argv)
    farm = FeedFarm(
        args.feeds,
        latency=args.latency,
        hosts=args.hosts,
        files=source_files(smallest=args.smallest),
    ).start()
    hello = {
        "urls": farm.urls,
        "control": farm.control_url,
        "hosts": farm.hosts,
        "sources": farm.feeds.sources,
    }
    print(json.dumps(hello), flush=True)
    try:
        # Serve until stdin closes: the parent closed it, or died (so no farm outlives
        # its benchmark). SIGTERM ends the process as well.
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        farm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
