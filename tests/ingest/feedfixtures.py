"""The feed fixtures of tests/fixtures/feeds/ (SOURCES.md says what each one is), parsed.

Every expected value in the tests that use them is written out by hand from the
fixture text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.ingest.parse import parse_feed
from bot.models import Item, ParseResult
from tests.support import paths

FIXTURES = paths.FIXTURES / "feeds"
FETCHED_AT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example/sub/feed.xml"
BIS = "Commerce Department, Industry and Security Bureau"


def parse_fixture(name: str, **kwargs: Any) -> ParseResult:
    options: dict[str, Any] = {"url": FEED_URL, "fetched_at": FETCHED_AT, **kwargs}
    return parse_feed("test-feed", (FIXTURES / name).read_bytes(), **options)


def by_title(result: ParseResult) -> dict[str, Item]:
    return {item.title: item for item in result.items}


def by_link(result: ParseResult) -> dict[str | None, Item]:
    return {item.link: item for item in result.items}


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>inline</title>{items}</channel></rss>"
    ).encode()
