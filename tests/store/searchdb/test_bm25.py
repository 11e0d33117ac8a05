"""Ranking a broad multi-term query: the same page, order and scores as one `bm25()` statement."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.find.query.parser import parse_query
from bot.find.search.times import micros
from bot.models import Item
from bot.store.searchdb.bm25 import SMALL, rank_bm25, rank_joined
from bot.store.searchdb.index import FtsIndex
from bot.store.searchdb.translate import match_sql, translate
from tests.find.search.sample import NOW, make_item

FEED_TAGS = {"fr-bis": ("us", "export-controls"), "reuters": ("news",), "nikkei": ("japan",)}
#: A vocabulary from common to rare (the rare words' idf is the largest).
WORDS = [
    "trade",
    "tariff",
    "china",
    "export",
    "control",
    "chip",
    "rule",
    "agency",
    "notice",
    "market",
    "gallium",
    "lithography",
    "wafer",
    "sanction",
    "embargo",
    "germanium",
    "ukraine",
    "gaza",
]
QUERIES = [
    "trade OR gallium",  # the best items hold only the rarer term
    "gallium OR trade OR germanium",
    "ukraine OR gaza OR embargo",
    "china OR tariff",
    "trade china",
    "chip AND export AND rule",
    '"export control" OR gallium',
    '"trade tariff" china',
    "wafer* OR lithography",
    "(china OR trade) tariff",
    "(trade OR china) -tariff",
    "(sanction OR embargo) NOT gaza",
    "feed:reuters (trade OR gallium)",
    "tag:japan (chip OR wafer)",
    "tag:export-controls china tariff",
]
JOINED = ("fts CROSS JOIN docs d ON d.seq = fts.rowid", "fts MATCH ?")


def corpus(count: int, seed: int) -> list[Item]:
    """Items of words drawn from a skewed vocabulary, repeated at times, over 90 days
    (some dated ahead), with exact copies of a text and date (ties) and story copies."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(WORDS))]
    items: list[Item] = []
    for seq in range(1, count + 1):
        if seq > 10 and rng.random() < 0.05:
            source = items[rng.randrange(len(items))]
            items.append(_item(seq, source.title, source.summary, source.when, source.feed_id))
            continue
        title = " ".join(rng.choices(WORDS, weights, k=rng.randint(2, 7)))
        summary = " ".join(rng.choices(WORDS, weights, k=rng.randint(4, 30)))
        when = NOW - timedelta(hours=rng.uniform(-48, 90 * 24))
        feed = rng.choice(sorted(FEED_TAGS))
        copy_of = rng.randrange(1, seq) if seq > 10 and rng.random() < 0.03 else None
        items.append(_item(seq, title, summary, when, feed, copy_of))
    return items


def _item(
    seq: int, title: str, summary: str, when: datetime, feed: str, copy_of: int | None = None
) -> Item:
    extras = None if copy_of is None else {"duplicate_of": copy_of}
    return make_item(seq, title, summary, feed_id=feed, age=NOW - when, extras=extras)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> FtsIndex:
    found = FtsIndex(tmp_path_factory.mktemp("bm25"), feed_tags=FEED_TAGS)
    found.add_many(corpus(1500, seed=11))
    return found


def expression(index: FtsIndex, text: str) -> str:
    cond = translate(parse_query(text).root, NOW, index.feeds_with_tag)
    found = match_sql(cond)
    assert cond.sql is None and found is not None, text  # ranked by `rank_bm25` in a search
    return found


@pytest.mark.parametrize("text", QUERIES)
def test_the_threshold_ranking_is_the_one_statement_ranking(index: FtsIndex, text: str) -> None:
    """Every window and probe size: the same (seq, story, score) list, bit for bit, so
    a bound that let a match through too early (the boost's 1.5 forgotten, a rarer
    term's item skipped) would show as a different page."""
    conn, match, now_us = index.connection(), expression(index, text), micros(NOW)
    for window in (1, 3, 10, 28, 120):
        expected = rank_joined(conn, *JOINED, [match], now_us, window)
        assert len(expected) == min(window, len(rank_joined(conn, *JOINED, [match], now_us, None)))
        for probe in (1, 2, 8, 40, 200, 5000):
            found = rank_bm25(conn, match, now_us, window, small=0, probe=probe)
            assert found == expected, (text, window, probe)


def test_a_fresh_item_with_only_the_rarer_term_leads_a_broad_or(tmp_path: Path) -> None:
    """Past `SMALL` matches (the threshold path), through a search: the fresh item
    holding only the rare term is on top, and the page, its scores and the total are
    the one statement's."""
    old = NOW - timedelta(days=200)
    items = [
        _item(seq, f"Trade talks trade {seq}", "Trade and tariffs: trade news.", old, "reuters")
        for seq in range(1, SMALL + 101)
    ]
    fresh = _item(SMALL + 101, "Gallium curbs", "New rules.", NOW - timedelta(hours=1), "reuters")
    middle = _item(SMALL + 102, "Gallium and trade", "Trade.", NOW - timedelta(days=20), "nikkei")
    index = FtsIndex(tmp_path, feed_tags=FEED_TAGS)
    index.add_many([*items, fresh, middle])
    results = index.search(parse_query("trade OR gallium"), now=NOW, limit=10)
    match, now_us = expression(index, "trade OR gallium"), micros(NOW)
    expected = rank_joined(index.connection(), *JOINED, [match], now_us, 10)
    assert [hit.item.seq for hit in results.hits] == [seq for seq, _, _ in expected]
    assert results.hits[0].item.title == "Gallium curbs"
    assert [hit.score for hit in results.hits] == [score for _, _, score in expected]
    assert (results.total, results.total_exact) == (SMALL + 102, True)
    index.close()
