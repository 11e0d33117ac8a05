"""Build small RSS 2.0 documents for tests (the recorded real feeds live in fixtures/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Entry:
    title: str
    link: str | None
    guid: str | None = None
    summary: str = ""
    published: datetime | None = None


def make_rss(entries: list[Entry], *, title: str = "Test feed") -> bytes:
    """An RSS 2.0 document with `entries` in the given order (newest first, as feeds do)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link>",
        "<description>test</description>",
    ]
    for e in entries:
        parts.append("<item>")
        parts.append(f"<title>{escape(e.title)}</title>")
        if e.link is not None:
            parts.append(f"<link>{escape(e.link)}</link>")
        if e.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        if e.summary:
            parts.append(f"<description>{escape(e.summary)}</description>")
        if e.published is not None:
            parts.append(f"<pubDate>{format_datetime(e.published)}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def blank_line_first(document: bytes) -> bytes:
    """`document` after a blank line: the XML declaration no longer opens it.

    Some servers send feeds so. A strict XML parser refuses the document
    ("XML or text declaration not at start of entity"); feedparser reads it
    whole with its lenient parser and reports the complaint.
    """
    return b"\n" + document


def numbered_entries(
    start: int, count: int, *, prefix: str = "Story", now: datetime | None = None
) -> list[Entry]:
    """`count` distinct entries numbered from `start`, newest (highest number) first."""
    base = now or datetime.now(UTC)
    return [
        Entry(
            title=f"{prefix} {n}",
            link=f"https://example.org/{prefix.lower()}/{n}",
            guid=f"{prefix.lower()}-{n}",
            summary=f"Summary of {prefix.lower()} {n}.",
            published=base - timedelta(minutes=n),
        )
        for n in range(start + count - 1, start - 1, -1)
    ]


def hostile_rss(item_xml: bytes, *, title: str = "Hostile") -> bytes:
    """An RSS 2.0 document of one item whose inner XML is `item_xml` (title and link given)."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        + f"<title>{escape(title)}</title>".encode()
        + b"<link>https://example.org/</link><description>x</description>"
        b"<item><title>Hostile item</title><link>https://example.org/hostile</link>"
        + item_xml
        + b"</item></channel></rss>"
    )


def angle_brackets_rss(repeats: int = 400_000) -> bytes:
    """One item whose summary is `&lt;a` × `repeats`: `<a<a<a…` once decoded (issue 12)."""
    return hostile_rss(b"<description>" + b"&lt;a" * repeats + b"</description>")


def categories_rss(count: int = 20_000) -> bytes:
    """One item with `count` distinct `<category>` elements (issue 12)."""
    categories = b"".join(b"<category>topic %d</category>" % n for n in range(count))
    return hostile_rss(b"<description>Many categories.</description>" + categories)
