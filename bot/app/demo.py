"""`briefbot demo`: the pipeline offline, on recorded feeds served over loopback.

The bundled feeds (bot/demo_feeds/) are served by a small HTTP server on
127.0.0.1 with a random port, with ETag support, in two phases: "yesterday"
(the newest entries of each feed held back) and "today" (everything). Polling
both phases shows what the bot does for real: the first poll records a feed's
items as backlog (which `/brief latest` already lists), the second stores
only what is new, a third gets 304s.

The same server answers the Federal Register documents API
(`/api/v1/documents/A,B.json`, the multi-document form) from
bot/demo_feeds/fr-documents_synthetic.json, with its dates moved to the days
around the demo's today, so the enrichment fills in each document's line and
the digest has a "Deadlines this week" section. It also serves a small
Consolidated Screening List (bot/demo_feeds/csl-entity-list_synthetic.csv,
invented Entity List rows citing two of the rules), configured as the
`screening_list:` source: its first download becomes the snapshot, and the
rules that cite it get their named entities in the digest once the enrichment
has given them their citations (the poll after). Nothing leaves loopback.
Last, the Entity List chart is drawn and written as a PNG into a directory
that outlives the demo (printed, to open), as `briefbot chart entity-list
--out FILE.png` does.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rich.console import Console

from bot.app.fedreg import enrich_documents
from bot.app.reports import chart_data
from bot.app.runtime import Runtime
from bot.app.terminal import (
    print_items,
    print_poll_table,
    print_search_results,
    print_slack_messages,
    print_text,
)
from bot.config.addresses import PUBLIC_ONLY
from bot.config.model import Config, DigestConfig, ScreeningListConfig
from bot.ingest.fedreg.enrich import EnrichOptions
from bot.ingest.fetch.client import Network
from bot.ingest.screening.entities import EXTRAS_KEY as ENTITIES_KEY
from bot.models import FeedConfig
from bot.render.charts import draw_chart

# Entries withheld in the "yesterday" phase, per feed.
HELD_BACK = 3
# The demo feeds' display names (their ids are the file names without suffix).
DEMO_FEED_NAMES = {
    "fr-bis-documents": "Federal Register: BIS documents",
    "fr-entity-list-search": "Federal Register: Entity List rules",
    "fr-trade-documents": "Federal Register: trade and sanctions documents",
    "japan-economic-security_synthetic": "Economic security desk (synthetic)",
    "trade-semiconductor-news_synthetic": "ChipWire (synthetic)",
}

_FEED_SUFFIXES = (".xml", ".rss", ".rdf", ".atom")
DOCUMENTS_FILE = "fr-documents_synthetic.json"
SCREENING_FILE = "csl-entity-list_synthetic.csv"
API_PREFIX = "/api/v1/documents/"
# The demo server is on loopback by design: the enrichment may reach it there.
DEMO_NETWORK = Network(policy=PUBLIC_ONLY.allowing(["127.0.0.0/8"]))
_ENTRY = re.compile(rb"<(item|entry)\b[^>]*>.*?</\1>", re.DOTALL)


def demo_feed_files() -> dict[str, bytes]:
    """The bundled demo feeds by file name."""
    folder = resources.files("bot.demo_feeds")
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name.endswith(_FEED_SUFFIXES)
    }


def demo_documents(today: date) -> dict[str, dict[str, Any]]:
    """The bundled documents-API answers by number, their dates counted from `today`."""
    raw = resources.files("bot.demo_feeds").joinpath(DOCUMENTS_FILE).read_text("utf-8")
    found: dict[str, dict[str, Any]] = {}
    for doc in json.loads(raw)["results"]:
        doc = dict(doc)
        for days_key, field in (
            ("effective_in_days", "effective_on"),
            ("comments_close_in_days", "comments_close_on"),
        ):
            days = doc.pop(days_key, None)
            doc[field] = None if days is None else (today + timedelta(days=days)).isoformat()
        found[doc["document_number"]] = doc
    return found


def documents_answer(documents: dict[str, dict[str, Any]], path: str) -> bytes:
    """The multi-document answer for `path` (/api/v1/documents/A,B.json): {count, results}."""
    numbers = unquote(path[len(API_PREFIX) :]).removesuffix(".json").split(",")
    results = [documents[n] for n in numbers if n in documents]
    payload: dict[str, Any] = {"count": len(results), "results": results}
    missing = [n for n in numbers if n not in documents]
    if missing:
        payload["errors"] = {"not_found": missing}
    return json.dumps(payload).encode()


def hold_back_entries(body: bytes, count: int) -> bytes:
    """The feed without its first `count` entries (feeds list the newest first)."""
    return _ENTRY.sub(b"", body, count=count)


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _DemoHandler)
        self.files = files
        self.phase = "yesterday"
        self.requests = 0
        self.documents = demo_documents(datetime.now(UTC).date())
        self.screening_list = (
            resources.files("bot.demo_feeds").joinpath(SCREENING_FILE).read_bytes()
        )

    def body_for(self, name: str) -> bytes | None:
        body = self.files.get(name)
        if body is None or self.phase == "today":
            return body
        return hold_back_entries(body, HELD_BACK)

    def url(self, name: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/{name}"

    @property
    def api_base(self) -> str:
        return self.url("api/v1/")


class _DemoHandler(BaseHTTPRequestHandler):
    server: _DemoServer

    def do_GET(self) -> None:
        self.server.requests += 1
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX):
            body: bytes | None = documents_answer(self.server.documents, path)
            kind = "application/json; charset=utf-8"
        elif path == f"/{SCREENING_FILE}":
            body, kind = self.server.screening_list, "text/csv; charset=utf-8"
        else:
            body, kind = self.server.body_for(path.lstrip("/")), "application/xml"
        if body is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the demo prints its own summary


@contextmanager
def serve_demo_feeds() -> Iterator[_DemoServer]:
    """Serve the bundled feeds on loopback for the duration of the block."""
    server = _DemoServer(demo_feed_files())
    thread = threading.Thread(target=server.serve_forever, name="briefbot-demo", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def demo_config(base: Config, server: _DemoServer, data_dir: str) -> Config:
    """`base` (for its topics and settings) watching the demo feeds instead."""
    feeds = tuple(
        FeedConfig(
            id=name.rsplit(".", 1)[0],
            url=server.url(name),
            name=DEMO_FEED_NAMES.get(name.rsplit(".", 1)[0], name.rsplit(".", 1)[0]),
            tags=("demo",),
            interval_seconds=3600,
            allow_private=True,  # the demo's server is on loopback by design
            enrich="federal-register" if name.startswith("fr-") else None,
        )
        for name in sorted(server.files)
    )
    settings = replace(base.settings, data_dir=data_dir, federal_register_api=server.api_base)
    screening = ScreeningListConfig(url=server.url(SCREENING_FILE), allow_private=True)
    return replace(base, feeds=feeds, digests=(), settings=settings, screening_list=screening)


def run_demo(
    base: Config, console: Console, *, data_dir: str | None = None, out_dir: str | None = None
) -> None:
    """The walkthrough `briefbot demo` prints: polls, a digest, a search, a chart, on a
    throwaway store; the chart goes to `out_dir` (by default a new temporary directory, kept)."""
    with tempfile.TemporaryDirectory(prefix="briefbot-demo-") as tmp:
        directory = data_dir or str(Path(tmp) / "data")
        with serve_demo_feeds() as server:
            config = demo_config(base, server, directory)
            print_text(console, f"Serving {len(config.feeds)} recorded feeds on {server.url('')}")
            print_text(console, f"Data directory: {directory}\n")
            with Runtime.open(config, network=DEMO_NETWORK) as runtime:
                runtime.enrich_options = EnrichOptions(spacing=0.0)  # our own loopback server
                _demo_polls(runtime, server, console)
                _demo_digest_and_search(runtime, console)
                _demo_chart(runtime, console, out_dir)
                print_text(console, f"\nThe store holds {runtime.store.items.count()} items.")


def _demo_polls(runtime: Runtime, server: _DemoServer, console: Console) -> None:
    print_text(
        console,
        "1. Yesterday: the first poll records each feed's items as "
        "backlog (nobody is alerted about old news).",
        "bold",
    )
    print_poll_table(console, runtime.poll(force=True))
    _screening_list(runtime, console)
    _enrich(runtime, console)
    print_items(
        console,
        runtime.latest(limit=5),
        title="/brief latest on day one (already published when the bot started)",
        feed_names=runtime.feed_names(),
    )
    first_seq = runtime.store.items.last_seq
    server.phase = "today"
    print_text(console, "\n2. Today: new entries appeared; only they are stored.", "bold")
    print_poll_table(console, runtime.poll(force=True))
    _enrich(runtime, console)
    new_today = list(runtime.store.items.after(first_seq))
    print_items(console, new_today, title="New today", feed_names=runtime.feed_names())
    print_text(
        console,
        "\n3. Polling again: nothing changed, the server answers "
        "304 Not Modified, nothing is stored twice.",
        "bold",
    )
    print_poll_table(console, runtime.poll(force=True))
    named = {
        str(item.extras[ENTITIES_KEY].get("citation"))
        for item in runtime.store.items.newest_first(500)
        if isinstance(item.extras.get(ENTITIES_KEY), dict)
    }
    print_text(
        console,
        f"Entity List rules named from the screening list: {', '.join(sorted(named)) or 'none'} "
        "(each poll names the rules the enrichment has given a citation since).",
    )


def _screening_list(runtime: Runtime, console: Console) -> None:
    snapshot = runtime.screening.snapshot()
    if snapshot is not None:
        print_text(
            console,
            f"Consolidated Screening List (synthetic sample): {len(snapshot.entries)} entries "
            "read; the first download is the snapshot later ones are compared with.",
        )


def _enrich(runtime: Runtime, console: Console) -> None:
    """The enrichment job, run after the poll as the service runs it (its own job)."""
    report = enrich_documents(runtime)
    if report.requests:
        print_text(
            console,
            f"Federal Register documents API: {len(report.enriched)} document(s) enriched "
            f"in {report.requests} batched request(s).",
        )


def _demo_digest_and_search(runtime: Runtime, console: Console) -> None:
    digest = DigestConfig(channel="C0DEMO", at=time(8, 30), timezone="Asia/Tokyo")
    print_text(
        console,
        "\n4. The morning digest channel C0DEMO would get (grouped by topic; a story in "
        "two feeds shown once; what matches no topic listed last, under Other new items):",
        "bold",
    )
    _view, messages = runtime.build_digest(digest)
    print_slack_messages(console, messages)
    query = '"entity list"'
    print_text(console, f"\n5. /brief {query}: search what the bot has seen.", "bold")
    results = runtime.search(query, limit=5)
    print_search_results(
        console, results.hits, results.total, query, feed_names=runtime.feed_names()
    )


def _demo_chart(runtime: Runtime, console: Console, out_dir: str | None) -> None:
    print_text(
        console,
        "\n6. briefbot chart entity-list --period 12m --out FILE.png: Entity List additions "
        "by destination, by month (/brief chart entity-list 12m posts the same image).",
        "bold",
    )
    data = chart_data(runtime, "entity-list", "12m")
    if data.is_empty:  # the recorded rules are older than a year: take two
        data = chart_data(runtime, "entity-list", "24m")
    if data.is_empty:
        print_text(console, "No Entity List additions are stored: nothing to chart.")
        return
    drawn = draw_chart(data)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="briefbot-demo-out-"))
    path = folder / drawn.filename
    path.write_bytes(drawn.png)
    print_text(console, f"Wrote {path} ({drawn.width}x{drawn.height} PNG): {data.title}")
