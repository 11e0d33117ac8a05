"""The query language on both engines: filters, NOT, phrases, wildcards, CJK, whole result sets.

A property test compares whole result sets with a brute-force scan over random corpora.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.find.search.results import MAX_LIMIT
from bot.models import Item
from tests.find.search.sample import NOW, make_item, search, seqs
from tests.find.search.sample import searchable as index_of

pytestmark = pytest.mark.usefixtures("search_backend")

# --------------------------------------------------------------------------- filters, NOT, phrases

FILTER_ITEMS = [
    make_item(1, "Entity List additions", feed_id="fr-bis", age=timedelta(days=2)),
    make_item(2, "Entity List revisions", feed_id="fr-bis", age=timedelta(days=20)),
    make_item(3, "Entity List story", feed_id="reuters", tags=("Wire",), age=timedelta(days=1)),
    make_item(4, "Japan entity list", feed_id="nikkei", age=timedelta(days=40)),
    make_item(5, "Taiwan chips and the entity list", feed_id="reuters", age=timedelta(days=3)),
]
FEED_TAGS = {"fr-bis": ("us", "export-controls"), "nikkei": ("japan",)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("entity feed:fr-bis", {1, 2}, id="feed"),
        pytest.param("entity feed:fr-bis OR feed:nikkei", {1, 2, 4}, id="feed-or-feed"),
        pytest.param("entity tag:wire", {3}, id="item-tag-any-case"),
        pytest.param("entity tag:export-controls", {1, 2}, id="feed-tag"),
        pytest.param("entity since:7d", {1, 3, 5}, id="since-duration"),
        pytest.param("entity since:2026-11-01", {1, 3, 5}, id="since-date"),
        pytest.param("entity before:7d", {2, 4}, id="before-duration"),
        pytest.param("since:30d before:2d", {2, 5}, id="window-without-words"),
        pytest.param("entity -taiwan", {1, 2, 3, 4}, id="minus-word"),
        pytest.param("entity NOT (japan OR taiwan)", {1, 2, 3}, id="not-group"),
        pytest.param("-feed:fr-bis", {3, 4, 5}, id="not-only"),
        pytest.param("entity -tag:us", {3, 4, 5}, id="not-feed-tag"),
        pytest.param("(japan OR taiwan) entity", {4, 5}, id="or-group"),
        pytest.param("entity feed:nowhere", set(), id="unknown-feed"),
        pytest.param("zeppelin", set(), id="unknown-word"),
    ],
)
def test_filters_and_not(query: str, expected: set[int]) -> None:
    results = search(index_of(*FILTER_ITEMS, feed_tags=FEED_TAGS), query)
    assert set(seqs(results)) == expected
    assert results.total == len(expected)
    assert results.total_exact


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param('"export control"', {1, 4}, id="adjacent-only"),
        pytest.param('"export controls"', {1, 4}, id="plural-tolerant"),
        pytest.param('"control export"', {3}, id="order-matters"),
        pytest.param('export control -"export control"', {2, 3, 5}, id="not-phrase"),
        pytest.param("export-contr*", {1, 4}, id="hyphenated-wildcard"),
        pytest.param("contr*", {1, 2, 3, 4, 5}, id="wildcard"),
    ],
)
def test_phrases_are_verified(query: str, expected: set[int]) -> None:
    index = index_of(
        make_item(1, "New export control rules"),
        make_item(2, "Export rules tighten", "Who will control the flow?"),
        make_item(3, "Rules to control export of chips"),
        make_item(4, "Export controls widened", "More export controls."),
        # A phrase does not run from the title into the summary.
        make_item(5, "Chips for export", "Control of the supply chain."),
    )
    results = search(index, query)
    assert set(seqs(results)) == expected
    assert results.total == len(expected)


def test_wildcard_on_a_plural_form_matches_only_that_form() -> None:
    index = index_of(make_item(1, "New chips plant"), make_item(2, "Chip plant"))
    assert seqs(search(index, "chips*")) == [1]
    assert set(seqs(search(index, "chip*"))) == {1, 2}


def test_wildcards_find_terms_added_after_a_search() -> None:
    index = index_of(*(make_item(seq, f"Notice number {seq}") for seq in range(1, 40)))
    assert search(index, "numb*").total == 39
    index.add(make_item(40, "Germanium curbs"))
    assert seqs(search(index, "germ*")) == [40]


def test_cjk_words_and_characters() -> None:
    index = index_of(
        make_item(1, "経済安全保障推進法の改正"),
        make_item(2, "半導体の輸出管理"),
        make_item(3, "Chips in Japan"),
    )
    assert seqs(search(index, "安全保障")) == [1]
    assert seqs(search(index, "輸")) == [2]
    hit = search(index, "半導体").hits[0]
    assert hit.snippet[hit.spans[0][0] : hit.spans[0][1]].startswith("半導体")


# --------------------------------------------------------------------------- properties

WORDS = ["chip", "chips", "export", "control", "controls", "china", "policy", "policies", "rare"]
FEEDS = ["fr-bis", "reuters", "nikkei"]
ITEM_TEXT = st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join)


@st.composite
def corpora(draw: st.DrawFn) -> list[Item]:
    count = draw(st.integers(1, 25))
    items = []
    for seq in range(1, count + 1):
        items.append(
            make_item(
                seq,
                draw(ITEM_TEXT) or "untitled",
                draw(ITEM_TEXT),
                feed_id=draw(st.sampled_from(FEEDS)),
                tags=tuple(draw(st.lists(st.sampled_from(["us", "asia"]), max_size=2))),
                age=timedelta(hours=draw(st.integers(0, 24 * 20))),
            )
        )
    return items


LEAVES = st.one_of(
    st.sampled_from(WORDS),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(lambda p: f'"{p[0]} {p[1]}"'),
    st.sampled_from(WORDS).map(lambda w: w[: len(w) // 2 + 1] + "*"),
    st.sampled_from(WORDS).map(lambda w: w + "*"),  # "chips*" is not "chip"
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(lambda p: f"{p[0]}-{p[1][:3]}*"),
    st.sampled_from([f"feed:{f}" for f in FEEDS] + ["tag:us", "tag:asia", "since:7d", "before:3d"]),
)
QUERIES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda q: f"NOT ({q})"),
    ),
    max_leaves=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=corpora(), text=QUERIES)
def test_results_are_exactly_the_matching_items(items: list[Item], text: str) -> None:
    query = parse_query(text)
    index = index_of(*items, feed_tags={"nikkei": ("asia",)})
    results = index.search(query, now=NOW, limit=MAX_LIMIT)
    expected = {
        item.seq
        for item in items
        if query.matches(
            prepare_doc(item, feed_tags=index._feed_tags.get(item.feed_id, ())), now=NOW
        )
    }
    assert set(seqs(results)) == expected
    assert results.total == len(expected) and results.total_exact
    scores = [(hit.score, hit.item.when) for hit in results.hits]
    assert scores == sorted(scores, reverse=True)
    # Small pages, which rank only their top candidates in full, add up to the whole.
    pages = [
        seqs(index.search(query, now=NOW, limit=3, offset=start))
        for start in range(0, len(expected), 3)
    ]
    assert [seq for page in pages for seq in page] == seqs(results)
