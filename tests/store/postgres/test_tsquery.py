"""The SQL a query becomes (bot/store/postgres/tsquery.py), run on a real PostgreSQL.

A condition marked exact is trusted to count matches without re-checking each
candidate in Python: for those, the rows the SQL selects must be exactly the
items the query language matches. Titles here put stems and raw forms apart
("policies" stems to "polici", "happy" to "happi", "chips" to "chip").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.find.query.nodes import Prefix
from bot.find.query.question import parse_question
from bot.find.search.analysis import prepare_doc_fast
from bot.models import Item
from bot.store.postgres.store import PgStore
from bot.store.postgres.tsquery import translate

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TITLES = [
    "New export policies for chips",
    "Police raid in the port",
    "Policy paper on happy outcomes",
    "Apolitical view of happiness",
    "Chipmakers and the politics of wafers",
    "Export controls tightened",
]


@pytest.fixture
def stored(database_url: str) -> Iterator[tuple[PgStore, list[Item]]]:
    with PgStore.open(database_url) as store:
        items = [Item(id=f"i{n}", feed_id="f", title=title) for n, title in enumerate(TITLES)]
        with store.transaction() as tx:
            added = tx.items.add(items, now=NOW)
        yield store, added


@pytest.mark.parametrize(
    "text",
    ["polic*", "polici*", "happi*", "happy*", "chip*", "chips*", "export* -polic*", "wafer*"],
)
def test_a_one_token_prefix_is_exact_sql(stored: tuple[PgStore, list[Item]], text: str) -> None:
    store, items = stored
    query = parse_question(text)
    condition = translate(query.root, NOW, lambda tag: ())
    assert condition.exact
    with store.pool.connection() as conn:
        rows = conn.execute(
            f"SELECT seq FROM items WHERE {condition.sql} ORDER BY seq".encode(), condition.params
        ).fetchall()
    selected = [int(row[0]) for row in rows]
    expected = [i.seq for i in items if query.matches(prepare_doc_fast(i), now=NOW)]
    assert selected == expected
    assert expected, "each prefix matches something here"


def test_a_prefix_after_other_words_stays_a_superset() -> None:
    # A head's stem next to the last token's raw form: the SQL can pair them, the matcher not.
    node = Prefix(head=("export",), raw_head=("exports",), prefix="polic")
    assert not translate(node, NOW, lambda tag: ()).exact
