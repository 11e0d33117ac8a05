"""Ranked search: ranking order, filters, NOT, phrases, questions, snippets, stories, threads.

Every search result is also checked against the query language itself
(`Query.matches` on `prepare_doc`), and a property test compares whole result
sets with a brute-force scan over random corpora.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.find.search import (
    MAX_LIMIT,
    SNIPPET_CHARS,
    SearchIndex,
    SearchResults,
    _prepare_doc_fast,
    mark_spans,
)
from bot.find.textindex import fold_and_tokenize, fold_text, tokenize
from bot.ingest.parse import parse_feed
from bot.models import Item, replace
from bot.store.tinydb.engine import Store
from tests.support import paths

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIXTURES = paths.FIXTURES / "feeds"
FILLER = "The notice was published by the agency on its website for readers."


def make_item(
    seq: int,
    title: str,
    summary: str = "",
    *,
    feed_id: str = "fr-bis",
    tags: tuple[str, ...] = (),
    age: timedelta = timedelta(days=1),
    extras: dict[str, Any] | None = None,
) -> Item:
    return Item(
        id=f"item-{seq}",
        feed_id=feed_id,
        title=title,
        summary=summary,
        link=f"https://example.org/{seq}",
        tags=tags,
        published=NOW - age,
        seq=seq,
        extras=extras or {},
    )


def index_of(*items: Item, feed_tags: dict[str, tuple[str, ...]] | None = None) -> SearchIndex:
    index = SearchIndex(feed_tags=feed_tags)
    index.add_many(items)
    return index


def search(index: SearchIndex, text: str, **kwargs: Any) -> SearchResults:
    results = index.search(parse_query(text), now=NOW, **kwargs)
    assert_agrees_with_language(index, results)
    return results


def assert_agrees_with_language(index: SearchIndex, results: SearchResults) -> None:
    """Every hit satisfies the query as the query module reads it."""
    for hit in results.hits:
        feed_tags = index._feed_tags.get(hit.item.feed_id, ())
        doc = prepare_doc(hit.item, feed_tags=feed_tags)
        assert results.query.matches(doc, now=NOW), (results.query, hit.item.title)


def seqs(results: SearchResults) -> list[int]:
    return [hit.item.seq for hit in results.hits]


# --------------------------------------------------------------------------- ranking

RANKING_CASES = [
    pytest.param(
        "entity",
        [
            make_item(1, "Agency rules published", "New rules for entity firms out today."),
            make_item(2, "Entity rules published", "New rules for some firms out today."),
        ],
        [2, 1],
        id="title-hit-beats-summary-hit",
    ),
    pytest.param(
        "gallium OR germanium",
        [
            make_item(1, "Gallium curbs widen again", FILLER),
            make_item(2, "Gallium and germanium curbs", FILLER),
            make_item(3, "Germanium curbs widen again", FILLER),
        ],
        [2],
        id="two-terms-beat-one",
    ),
    pytest.param(
        "tariff",
        [
            make_item(1, "Tariff schedule revised", FILLER, age=timedelta(days=30)),
            make_item(2, "Tariff schedule revised", FILLER, age=timedelta(days=2)),
            make_item(3, "Tariff schedule revised", FILLER, age=timedelta(days=9)),
        ],
        [2, 3, 1],
        id="among-equals-the-newer-wins",
    ),
    pytest.param(
        "china OR gallium",
        [
            *(make_item(i, f"China trade note {i}", FILLER) for i in range(10, 20)),
            make_item(1, "China supply news", FILLER),
            make_item(2, "Gallium supply news", FILLER),
        ],
        [2],
        id="a-rare-term-outweighs-a-common-one",
    ),
    pytest.param(
        "feed:fr-bis",
        [
            make_item(1, "Older rule", age=timedelta(days=5)),
            make_item(2, "Newest rule", age=timedelta(hours=1)),
            make_item(3, "Middle rule", age=timedelta(days=2)),
            make_item(4, "Elsewhere", feed_id="reuters"),
        ],
        [2, 3, 1],
        id="filters-only-newest-first",
    ),
]


@pytest.mark.parametrize(("query", "items", "expected_first"), RANKING_CASES)
def test_ranking_order(query: str, items: list[Item], expected_first: list[int]) -> None:
    results = search(index_of(*items), query)
    assert seqs(results)[: len(expected_first)] == expected_first


def test_scores_fall_and_filter_only_queries_score_zero() -> None:
    index = index_of(
        make_item(1, "Export controls on chips", "chips chips"),
        make_item(2, "Chips", FILLER),
        make_item(3, "Rules", "chips mentioned once " + FILLER),
    )
    scores = [hit.score for hit in search(index, "chips").hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert [hit.score for hit in search(index, "feed:fr-bis").hits] == [0.0, 0.0, 0.0]


def test_recency_boost_fades_with_age() -> None:
    same = "Semiconductor export rule"
    index = index_of(
        make_item(1, same, FILLER, age=timedelta(hours=1)),
        make_item(2, same, FILLER, age=timedelta(days=14)),
        make_item(3, same, FILLER, age=timedelta(days=365)),
        make_item(4, same, FILLER, age=-timedelta(days=3)),  # dated in the future
    )
    by_seq = {hit.item.seq: hit.score for hit in search(index, "semiconductor").hits}
    # 1 + 0.5 * 2**(-age / 14 days): about 1.5, 1.25 and 1.0; never more than 1.5.
    assert by_seq[1] / by_seq[3] == pytest.approx(1.5, rel=0.01)
    assert by_seq[2] / by_seq[3] == pytest.approx(1.25, rel=0.01)
    assert by_seq[4] / by_seq[3] == pytest.approx(1.5, rel=0.001)


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


def test_too_many_suspects_give_an_estimated_total() -> None:
    """`export-controls*` is "export" then a word starting with "controls": the
    index holds stems, so every "export control" is a suspect to check."""
    suspects = [
        make_item(seq, f"Export control rule {seq}", age=timedelta(days=9)) for seq in range(1, 601)
    ]
    true = [make_item(seq, f"Export controls tighten {seq}") for seq in range(601, 651)]
    results = search(index_of(*suspects, *true), "export-controls*")
    assert len(results.hits) == 10
    assert all(hit.item.seq > 600 for hit in results.hits)
    assert results.total_exact is False
    assert 25 <= results.total <= 100  # truly 50


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


# --------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("what's new on IPEF", [1], id="filler-dropped"),
        pytest.param("anything about rare earth exports this week?", [2], id="time-phrase"),
        pytest.param("rare earth", [2, 3], id="plain-words"),
        pytest.param('"rare earth" feed:reuters', [3], id="query-syntax-kept"),
    ],
)
def test_plain_questions(line: str, expected: list[int]) -> None:
    index = index_of(
        make_item(1, "IPEF ministers meet in Singapore"),
        make_item(2, "Rare earth exports curbed", age=timedelta(days=2)),
        make_item(3, "Rare earth prices", feed_id="reuters", age=timedelta(days=30)),
    )
    results = index.search_text(line, now=NOW)
    assert_agrees_with_language(index, results)
    assert seqs(results) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("what's new", "names no subject", id="only-filler"),
        pytest.param('"entity list', "unclosed quote at column 1", id="syntax-error"),
    ],
)
def test_bad_lines_raise_query_errors(line: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index_of(make_item(1, "x")).search_text(line, now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"limit": 0}, f"limit must be between 1 and {MAX_LIMIT}, not 0", id="limit"),
        pytest.param({"offset": -1}, "offset must be 0 or more, not -1", id="offset"),
    ],
)
def test_bad_paging_is_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        index_of(make_item(1, "x")).search(parse_query("x"), now=NOW, **kwargs)


def test_pages_do_not_overlap() -> None:
    index = index_of(
        *(make_item(i, f"Sanctions update {i}", age=timedelta(hours=i)) for i in range(1, 26))
    )
    everything = seqs(search(index, "sanctions", limit=25))
    pages = [seqs(search(index, "sanctions", limit=10, offset=start)) for start in (0, 10, 20)]
    assert pages[0] + pages[1] + pages[2] == everything == list(range(1, 26))
    assert search(index, "sanctions", limit=10, offset=20).total == 25


# --------------------------------------------------------------------------- snippets

LONG_SUMMARY = (
    "The Department of Commerce published a long notice about many unrelated matters, "
    "including the fees schedule for licence applications, the hours of the public reading "
    "room and the address for correspondence. Buried in the middle is a change to gallium "
    "export licensing that matters to compound semiconductor makers in several countries. "
    "The rest of the notice concerns paperwork reduction, the regulatory flexibility act "
    "and the executive orders that govern how agencies publish rules."
)


def test_snippet_is_a_bounded_window_around_the_first_match() -> None:
    hit = search(index_of(make_item(1, "Commerce notice", LONG_SUMMARY)), "gallium").hits[0]
    assert len(hit.snippet) <= SNIPPET_CHARS + 2
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    start, end = hit.spans[0]
    assert hit.snippet[start:end] == "gallium"
    inner = hit.snippet.strip("…")
    position = LONG_SUMMARY.index(inner)
    # Cut on word boundaries: a space (or the text's edge) on each side.
    assert LONG_SUMMARY[position - 1] == " "
    assert LONG_SUMMARY[position + len(inner)] == " "


def test_snippet_marks_every_form_of_the_terms() -> None:
    summary = "Export controls on chips: the export control rule names a chip maker."
    hit = search(index_of(make_item(1, "Rule", summary)), 'chips "export controls"').hits[0]
    marked = [hit.snippet[s:e] for s, e in hit.spans]
    assert marked == ["Export controls", "chips", "export control", "chip"]
    assert hit.snippet == summary


def test_title_only_match_shows_the_summary_start_and_marks_the_title() -> None:
    summary = LONG_SUMMARY.replace("gallium", "metal")
    hit = search(index_of(make_item(1, "New gallium curbs", summary)), "gallium").hits[0]
    assert hit.spans == ()
    assert hit.snippet.endswith("…") and summary.startswith(hit.snippet[:-1])
    assert hit.title_spans == ((4, 11),)


def test_snippet_falls_back_to_the_title_without_summary() -> None:
    hit = search(index_of(make_item(1, "Rare earth magnets and the IPEF")), "ipef").hits[0]
    assert hit.snippet == "Rare earth magnets and the IPEF"
    assert [hit.snippet[s:e] for s, e in hit.spans] == ["IPEF"]


def test_mark_spans_escapes_around_marks() -> None:
    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;")

    marked = mark_spans("R&D <chips> & gallium", [(5, 10), (14, 21)], lambda s: f"*{s}*", escape)
    assert marked == "R&amp;D &lt;*chips*> &amp; *gallium*"


def test_real_entity_list_rules_are_found_and_marked() -> None:
    parsed = parse_feed(
        "fr-bis", (FIXTURES / "fr-entity-list.rss").read_bytes(), fetched_at=NOW, time_limit=None
    )
    items = [replace(item, seq=seq) for seq, item in enumerate(parsed.items, 1)]
    index = index_of(*items)
    results = search(index, '"entity list" china', limit=20)
    assert results.total == sum(
        parse_query('"entity list" china').matches(prepare_doc(i), now=NOW) for i in items
    )
    assert results.total >= 5
    for hit in results.hits:
        marked = {hit.snippet[s:e].lower() for s, e in hit.spans}
        assert marked & {"entity list", "china"}
        assert len(hit.snippet) <= SNIPPET_CHARS + 2


# --------------------------------------------------------------------------- stories


def test_copies_of_a_story_are_shown_once_with_also_in() -> None:
    index = index_of(
        make_item(1, "BIS adds 36 entities to the Entity List", feed_id="fr-bis"),
        make_item(
            2, "US adds 36 firms to Entity List", feed_id="reuters", extras={"duplicate_of": 1}
        ),
        make_item(3, "Entity List grows by 36", feed_id="nikkei", extras={"duplicate_of": 1}),
        make_item(4, "Entity List: a separate story", feed_id="reuters", age=timedelta(days=9)),
    )
    results = search(index, '"entity list"')
    assert seqs(results) == [1, 4]
    assert results.total == 2
    assert results.hits[0].also_in == ("reuters", "nikkei")
    assert results.hits[1].also_in == ()


def test_many_copies_collapse_without_hiding_other_stories() -> None:
    copies = [
        make_item(
            seq,
            "Gallium export ban",
            feed_id=f"feed-{seq}",
            extras={"duplicate_of": 1} if seq > 1 else {},
        )
        for seq in range(1, 51)
    ]
    others = [make_item(seq, f"Notice {seq}", "Mentions gallium once.") for seq in range(51, 71)]
    results = search(index_of(*copies, *others), "gallium", limit=5)
    assert seqs(results)[0] == 1
    assert len(results.hits[0].also_in) == 49
    assert set(seqs(results)[1:]) <= set(range(51, 71)) and len(results.hits) == 5
    assert results.total == 21


def test_a_copy_stands_for_its_story_when_only_it_matches() -> None:
    index = index_of(
        make_item(1, "BIS adds entities to the Entity List", feed_id="fr-bis"),
        make_item(2, "US blacklists firms", feed_id="reuters", extras={"duplicate_of": 1}),
    )
    results = search(index, "blacklists")
    assert seqs(results) == [2]
    assert results.hits[0].also_in == ("fr-bis",)


# --------------------------------------------------------------------------- changes


def test_removed_items_are_not_found() -> None:
    index = index_of(make_item(1, "Gallium curbs"), make_item(2, "Gallium prices"))
    assert index.remove(1) is True
    assert index.remove(1) is False
    assert len(index) == 1 and 1 not in index
    results = search(index, "gallium")
    assert seqs(results) == [2] and results.total == 1


def test_items_without_a_seq_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    index = index_of(make_item(0, "Parsed, not stored"), make_item(5, "Stored gallium"))
    assert len(index) == 1
    assert seqs(search(index, "gallium")) == [5]
    assert "1 item(s) without a seq skipped, such as 'item-0' of feed 'fr-bis'" in caplog.text


def test_adding_a_seq_again_replaces_the_item() -> None:
    index = index_of(make_item(1, "Draft title about chips"))
    index.add(make_item(1, "Final title about gallium"))
    assert len(index) == 1
    assert search(index, "chips").total == 0
    assert seqs(search(index, "gallium")) == [1]


def test_mass_removal_compacts_and_stays_correct() -> None:
    items = [
        make_item(i, f"Notice {i} on {'gallium' if i % 2 else 'tariffs'}") for i in range(1, 3001)
    ]
    index = index_of(*items)
    for seq in range(1, 2401):
        index.remove(seq)
    assert index.stats()["dead"] < 1000  # compacted at least once
    results = search(index, "gallium", limit=200)
    assert results.total == 300
    assert all(hit.item.seq > 2400 and hit.item.seq % 2 for hit in results.hits)
    assert search(index, "-gallium").total == 300


def test_items_load_from_a_real_store(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        stored = store.add_items(
            [make_item(0, "Entity List additions", "BIS adds 36 entities."), make_item(0, "Other")],
            now=NOW,
        )
        store.commit()
        index = SearchIndex(load_items=store.get_items_by_seq)
        index.build_in_background(store.iter_items)
        assert index.wait_ready(10)
        results = search(index, "entities")
        assert [hit.item.id for hit in results.hits] == [stored[0].id]
        assert results.hits[0].item.summary == "BIS adds 36 entities."


# --------------------------------------------------------------------------- background build


def test_searches_wait_for_a_background_build() -> None:
    release = threading.Event()

    def items() -> Any:
        yield make_item(1, "Gallium early")
        release.wait(10)
        yield make_item(2, "Gallium late")

    index = SearchIndex()
    thread = index.build_in_background(items, chunk=1)
    partial = index.search(parse_query("gallium"), now=NOW, wait=0.05)
    assert partial.complete is False
    assert seqs(partial) == [1]
    release.set()
    full = index.search(parse_query("gallium"), now=NOW, wait=10)
    assert full.complete is True
    assert set(seqs(full)) == {1, 2}
    thread.join(5)


def test_a_failed_build_is_reported() -> None:
    def items() -> Any:
        yield make_item(1, "Gallium early")
        raise OSError("shard items-2026-11.json is unreadable")

    index = SearchIndex()
    index.build_in_background(items, chunk=1).join(5)
    assert index.build_error == (
        "building the search index failed: shard items-2026-11.json is unreadable"
    )
    results = index.search(parse_query("gallium"), now=NOW)
    assert results.complete is False and seqs(results) == [1]


# --------------------------------------------------------------------------- threads


def test_searches_never_see_half_an_item(caplog: pytest.LogCaptureFixture) -> None:
    """Every item has "alpha" in its title and "omega" in its summary: a search
    that saw the title half of an item without the summary half would find it
    for `alpha -omega` (or log that a hit failed its final check)."""
    index = SearchIndex()
    stop = threading.Event()
    failures: list[str] = []

    def guarded(body: Any) -> Any:
        def run() -> None:
            try:
                body()
            except Exception as error:  # a crash in a thread must fail the test
                failures.append(f"{body.__name__}: {error!r}")
                stop.set()

        return run

    @guarded
    def write() -> None:
        for seq in range(1, 3001):  # one by one: as many half-added moments as can be
            index.add(make_item(seq, f"alpha {seq}", "omega text"))
        for seq in range(1, 3001, 2):  # half: compacts the index mid-way
            index.remove(seq)
        stop.set()

    @guarded
    def read() -> None:
        rounds = 0
        while not stop.is_set():
            for query in ("alpha -omega", "omega -alpha"):
                if (found := search(index, query)).total:
                    failures.append(f"{query}: {seqs(found)}")
            rounds += 1
            if rounds % 10 == 0:
                # search() checks each hit against the query language.
                found = search(index, "alpha omega", limit=50)
                if len(found.hits) != min(50, found.total):
                    failures.append(f"{len(found.hits)} hits of {found.total}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so races show
    try:
        threads = [threading.Thread(target=write)]
        threads += [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(old)
    assert failures == []
    assert [r.getMessage() for r in caplog.records if r.name == "bot.find.search"] == []
    assert len(index) == 1500
    assert index.stats()["dead"] < 1024  # it did compact
    assert search(index, "alpha omega", limit=1).total == 1500


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


ASCII_LIKE = "abcXYZ019 '-.,\n\t_"
# Punctuation the fast path handles, and characters that fold into ASCII (or
# out of it): NBSP, non-breaking hyphen, ellipsis, ligature, full-width A,
# German sharp s, dotted capital I.
PUNCTUATION = "’‘“”—–…«»°·•€\u00a0\u2011ﬁＡßİ"
ANYTHING = "éÉıøŒ経済安全ガ\u3099한국\u0301"
TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(ASCII_LIKE), max_size=40),
    st.text(alphabet=st.sampled_from(ASCII_LIKE + PUNCTUATION), max_size=40),
    st.text(alphabet=st.sampled_from(ASCII_LIKE + PUNCTUATION + ANYTHING), max_size=40),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, summary=TEXT)
def test_fast_analysis_equals_the_query_modules(title: str, summary: str) -> None:
    assert fold_and_tokenize(summary) == (fold_text(summary), tokenize(summary))
    item = make_item(1, title, summary, tags=("US ",))
    assert _prepare_doc_fast(item, ("Asia",)) == prepare_doc(item, feed_tags=("Asia",))
