"""`PgSearch` scoped to the configured feeds: the feeds it is given tags of, again at each change.

The runtime gives it the configured feeds (`bot.app.storage.database_search`)
and, after a change made from Slack, the new ones (`set_feed_tags`): the
scope follows without a call of its own.
"""

from __future__ import annotations

import pytest

from bot.find.search.engine import SearchEngine
from bot.store.postgres.db import Pooled
from bot.store.postgres.importer import import_items
from bot.store.postgres.search import PgSearch
from bot.store.postgres.store import PgStore
from tests.find.search.sample import NOW, make_item, seqs


@pytest.fixture
def store(database_url: str) -> PgStore:
    opened = PgStore.open(database_url)
    with opened.transaction() as tx:
        import_items(
            tx,
            [
                make_item(1, "Gallium curbs", feed_id="fr-bis"),
                make_item(2, "Gallium prices", feed_id="reuters"),
            ],
        )
    return opened


def test_a_scoped_search_follows_the_configured_feeds(store: PgStore) -> None:
    with store:
        search: SearchEngine = PgSearch(Pooled(store.pool), feed_tags={"fr-bis": ()}, scoped=True)
        assert seqs(search.search_text("gallium", now=NOW)) == [1], "reuters is not configured"
        search.set_feed_tags({"fr-bis": (), "reuters": ("news",)})  # a feed added from Slack
        assert sorted(seqs(search.search_text("gallium", now=NOW))) == [1, 2]
        assert seqs(search.search_text("gallium tag:news", now=NOW)) == [2]
        search.set_feed_tags({"reuters": ("news",)})  # one removed
        assert seqs(search.search_text("gallium", now=NOW)) == [2]


def test_an_unscoped_search_reads_every_feed_in_the_database(store: PgStore) -> None:
    with store:
        search = PgSearch(Pooled(store.pool), feed_tags={"fr-bis": ()})
        assert sorted(seqs(search.search_text("gallium", now=NOW))) == [1, 2]
