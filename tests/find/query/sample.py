"""Documents and topics the tests of the query language match against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict, Unpack

from bot.find.query.document import MatchDoc, prepare_doc
from bot.find.query.parser import parse_query
from bot.models import Item

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# The topics the shipped feeds.yaml carries (issue 3, item 2).
TOPICS = {
    "entity-list": '"entity list"',
    "export-controls": (
        '"export control" OR "export administration regulations" OR EAR OR ITAR'
        ' OR "foreign direct product"'
    ),
    "semiconductors": (
        'semiconductor* OR chip OR chips OR "integrated circuit" OR lithography OR wafer*'
    ),
    "ipef": 'IPEF OR "indo-pacific economic framework"',
    "economic-security": '"economic security" OR "supply chain resilience"',
    "rare-earths": '"rare earth" OR "critical mineral" OR gallium OR germanium',
}


def make_doc(
    title: str,
    summary: str = "",
    *,
    feed_id: str = "fr-bis",
    tags: tuple[str, ...] = (),
    published: datetime | None = None,
    feed_tags: tuple[str, ...] = (),
) -> MatchDoc:
    item = Item(
        id="1", feed_id=feed_id, title=title, summary=summary, tags=tags, published=published
    )
    return prepare_doc(item, feed_tags=feed_tags)


class DocFields(TypedDict, total=False):
    """The keyword arguments of make_doc, passed on by matches."""

    feed_id: str
    tags: tuple[str, ...]
    published: datetime | None
    feed_tags: tuple[str, ...]


def matches(query: str, title: str, summary: str = "", **doc: Unpack[DocFields]) -> bool:
    return parse_query(query).matches(make_doc(title, summary, **doc), now=NOW)
