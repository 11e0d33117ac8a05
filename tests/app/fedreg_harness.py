"""Shared set-up of the Federal Register tests: a feed of FR documents, the API, a Runtime."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.runtime import Runtime
from bot.config.addresses import PUBLIC_ONLY
from bot.config.schema import parse_config_text
from bot.ingest.fedreg.enrich import EnrichOptions
from bot.ingest.fetch.client import Network
from tests.support.backends import Backend
from tests.support.fedregapi import DocumentsApi, recorded_documents
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver

__all__ = ["Clock", "fr_entries", "open_runtime"]

# 2024-01-10: the recorded documents' dates (Jan-Mar 2024) are ahead.
START = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
NUMBERS = ("2023-27783", "2023-27019", "2024-00190")


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fr_entries(numbers: tuple[str, ...] = NUMBERS) -> list[Entry]:
    """Feed entries linking to the recorded documents, as federalregister.gov's RSS does."""
    docs = recorded_documents()
    return [
        Entry(
            title=docs[n]["title"],
            link=docs[n]["html_url"],
            guid=docs[n]["html_url"],
            summary=docs[n].get("abstract") or "",
            published=START - timedelta(days=1, minutes=i),
        )
        for i, n in enumerate(numbers)
    ]


def config_text(feed_url: str, api: str, data_dir: Path, *, extra: str = "") -> str:
    return (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 3\n"
        "  backoff_base_seconds: 5m\n"
        "  parse_workers: 0\n"
        f"  federal_register_api: {api}\n"
        "feeds:\n"
        f"  - id: fr-bis\n    url: {feed_url}\n    allow_private: true\n"
        "    enrich: federal-register\n    tags: [bis]\n"
        "topics:\n"
        "  - id: bis\n    query: tag:bis\n"
        f"{extra}"
    )


@contextmanager
def open_runtime(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    clock: Clock,
    *,
    extra: str = "",
    network: Network | None = None,
    backend: Backend,
) -> Iterator[Runtime]:
    """A Runtime polling fr-bis from `feed_server`, enriching from `api` (both on loopback).

    By default loopback counts as public (the API stands in for federalregister.gov);
    the feed itself has allow_private.
    """
    text = config_text(feed_server.url("/fr.rss"), api.base, tmp_path / "data", extra=extra)
    config = parse_config_text(text, "test-feeds.yaml", env=backend.env())
    if network is None:
        network = Network(resolver=FakeResolver({}), policy=PUBLIC_ONLY.allowing(["127.0.0.0/8"]))
    with Runtime.open(config, clock=clock, network=network) as runtime:
        runtime.enrich_options = EnrichOptions(spacing=0.0)
        yield runtime


def serve_feed(feed_server: FeedServer, numbers: tuple[str, ...] = NUMBERS) -> None:
    feed_server.add("/fr.rss", make_rss(fr_entries(numbers), title="FR"))


def new_api() -> DocumentsApi:
    return DocumentsApi(recorded_documents())
