"""Recorded Federal Register documents as a store, for the chart and monthly-briefing tests.

Real BIS Entity List abstracts (tests/fixtures/entitylist/real_abstracts.json)
and 37 documents of a real documents-API search response
(tests/fixtures/monthly/fr_2024-01_sample.json) are served as RSS feeds from
a loopback server and stored by real polls, so the Entity List facts are
the ones the poll extracts. The Federal Register facts are then set on the
stored items with `FederalRegisterFacts.from_api` on the recorded documents,
as the enrichment does after the poll that stored them.

Feeds: `fr-bis` (the Entity List rules, at the dates the test gives),
`fr-docs` (the 37 documents, at their publication dates, noon UTC) and
`bis-news`, which carries the first Entity List rule again (the same link):
the story linking makes it a duplicate, which no count may count twice.

What the tests expect is computed here from the fixtures' own fields and
from the counts written by reading the abstracts (tests/ingest/bisabstracts.py),
never with the code under test.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app.runtime import Runtime
from bot.config.model import Config
from bot.config.schema import parse_config_text
from bot.ingest.fedreg.facts import FederalRegisterFacts
from tests.ingest.bisabstracts import DOCUMENTS, ENTRIES, EXPECTED
from tests.support import paths
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

__all__ = [
    "ENTITY_DOCS",
    "FR_DOCS",
    "NOT_STATED",
    "added_by_destination",
    "recorded_config",
    "recorded_config_text",
    "store_recorded",
]

ENTITY_DOCS: list[dict[str, Any]] = [d for d in DOCUMENTS if d["kind"] == "entity-list"]
FR_DOCS: list[dict[str, Any]] = json.loads(
    (paths.FIXTURES / "monthly" / "fr_2024-01_sample.json").read_text(encoding="utf-8")
)["results"]
NOT_STATED = "Not stated"
TOPICS = (
    "topics:\n"
    "  - id: entity-list\n    query: '\"entity list\"'\n    description: Entity List\n"
    "  - id: export\n    query: export\n    description: Export controls\n"
)


def added_by_destination(document_number: str) -> Counter[str]:
    """The entries a rule adds per destination, as the abstract states them (read by hand)."""
    _action, added, _revised, _removed, destinations = EXPECTED[document_number]
    if destinations:
        return Counter(dict(destinations))
    number = ENTRIES.get(document_number, added)
    return Counter({NOT_STATED: number}) if number else Counter()


def recorded_config_text(server: FeedServer, data_dir: Path, extra: str = "") -> str:
    """feeds.yaml for the three feeds and two topics (`extra` appended: digests, ...)."""
    feeds = "".join(
        f"  - id: {feed_id}\n    url: {server.url(f'/{feed_id}.rss')}\n    allow_private: true\n"
        for feed_id in ("fr-bis", "fr-docs", "bis-news")
    )
    return f"settings:\n  data_dir: {data_dir}\nfeeds:\n{feeds}{TOPICS}{extra}"


def recorded_config(
    server: FeedServer, data_dir: Path, extra: str = "", env: Mapping[str, str] | None = None
) -> Config:
    text = recorded_config_text(server, data_dir, extra)
    return parse_config_text(text, "recorded-feeds.yaml", env=env or {})


def store_recorded(runtime: Runtime, server: FeedServer, entity_dates: Sequence[datetime]) -> None:
    """Serve and poll the three feeds; the i-th Entity List rule is dated `entity_dates[i]`."""
    rules = [
        Entry(
            d["title"],
            d["html_url"],
            guid=d["document_number"],
            summary=d["abstract"],
            published=when,
        )
        for d, when in zip(ENTITY_DOCS, entity_dates, strict=False)
    ]
    documents = [
        Entry(
            d["title"],
            d["html_url"],
            guid=d["document_number"],
            summary=d["abstract"] or "",
            published=datetime.fromisoformat(d["publication_date"]).replace(hour=12, tzinfo=UTC),
        )
        for d in FR_DOCS
    ]
    server.add("/fr-bis.rss", make_rss(rules))
    server.add("/fr-docs.rss", make_rss(documents))
    server.add("/bis-news.rss", make_rss([]))
    runtime.poll(force=True)
    # The same rule again from another feed, after the first poll: a new item, a repeat.
    server.add("/bis-news.rss", make_rss(rules[:1]))
    runtime.poll(force=True)
    by_number = {d["document_number"]: d for d in FR_DOCS}
    with runtime.store.transaction() as tx:
        for item in list(tx.items.after(0, feed_ids={"fr-docs"})):
            document = by_number[item.guid or ""]
            facts = FederalRegisterFacts.from_api(document).as_extras()
            tx.items.update_extras(item.feed_id, item.id, {"federal_register": facts})
