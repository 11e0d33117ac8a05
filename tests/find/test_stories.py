"""Same-story linking across feeds (bot/find/stories.py), on real feed items.

Real items come from the demo feeds bundled in bot/demo_feeds and from the
shared feed corpus (tests that need the corpus skip without it). The expected
pairs were chosen by reading both headlines, not by running the code.
"""

from __future__ import annotations

import functools
import random
import re
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.stories import (
    ALSO_IN,
    DEFAULT_THRESHOLD,
    DUPLICATE_OF,
    StoryIndex,
    StoryMatch,
    also_in,
    duplicate_of,
    link_extras,
    title_similarity,
    title_tokens,
)
from bot.ingest.links import fr_document_number
from bot.ingest.parse import parse_feed
from bot.models import Item, replace
from bot.store.tinydb.engine import Store
from tests.support import paths

ROOT = paths.ROOT
DEMO = ROOT / "bot" / "demo_feeds"
CORPUS = paths.CORPUS
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not at {CORPUS}")
FETCHED_AT = datetime(2027, 1, 1, tzinfo=UTC)
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# The document numbers both demo feeds carry (bot/demo_feeds/README.md).
SHARED_DEMO_DOCUMENTS = {
    "2025-19858",
    "2025-17893",
    "2025-00480",
    "2025-00704",
    "2025-05426",
    "2024-31468",
}


@functools.cache
def _parse(path: Path, feed_id: str) -> tuple[Item, ...]:
    result = parse_feed(feed_id, path.read_bytes(), fetched_at=FETCHED_AT, time_limit=None)
    assert result.error is None, f"{path.name}: {result.error}"
    return result.items


def demo_items(name: str, feed_id: str) -> list[Item]:
    return list(_parse(DEMO / name, feed_id))


def corpus_items(name: str, feed_id: str | None = None) -> list[Item]:
    """Items of a corpus file ("policy/x.rss20.xml"); feed id: the file name."""
    return list(_parse(CORPUS / name, feed_id or Path(name).name))


def find(items: Iterable[Item], title_start: str) -> Item:
    found = [item for item in items if item.title.startswith(title_start)]
    assert len(found) == 1, f"{len(found)} items titled {title_start!r}..."
    return found[0]


def numbered(items: Iterable[Item], start: int = 1) -> list[Item]:
    """The items as the store hands them over: each with its own seq."""
    return [replace(item, seq=seq) for seq, item in enumerate(items, start=start)]


def news(feed_id: str, title: str, *, link: str, when: datetime = DAY, seq: int = 0) -> Item:
    """A news item as parse makes it (id from the GUID, which is the link)."""
    return Item(id=f"guid:{link}", feed_id=feed_id, title=title, link=link, published=when, seq=seq)


def add_all(index: StoryIndex, items: Iterable[Item]) -> list[tuple[Item, StoryMatch]]:
    """Add each item; return the (item, match) pairs of the items that matched."""
    matches = []
    for item in items:
        match = index.add(item)
        if match is not None:
            matches.append((item, match))
    return matches


def link_pair(first: Item, second: Item) -> StoryMatch | None:
    """What a fresh index says about `second` once `first` is indexed."""
    index = StoryIndex()
    assert index.add(replace(first, seq=1)) is None
    return index.add(replace(second, seq=2))


# --- Federal Register documents ------------------------------------------------


@pytest.mark.parametrize("first_feed", ["fr-bis", "fr-entity-list"])
def test_the_six_documents_shared_by_the_demo_feeds_link_to_the_first_copy(
    first_feed: str,
) -> None:
    feeds = {
        "fr-bis": demo_items("fr-bis-documents.rss", "fr-bis"),
        "fr-entity-list": demo_items("fr-entity-list-search.rss", "fr-entity-list"),
    }
    second_feed = next(feed for feed in feeds if feed != first_feed)
    first = numbered(feeds[first_feed], start=1)
    second = numbered(feeds[second_feed], start=100)
    index = StoryIndex()

    assert add_all(index, first) == []
    matches = add_all(index, second)

    assert {item.id.removeprefix("fr:") for item, _ in matches} == SHARED_DEMO_DOCUMENTS
    for item, match in matches:
        primary = next(p for p in first if p.id == item.id)
        assert match == StoryMatch(primary.seq, first_feed, "same document", primary.id, 1.0)


@needs_corpus
def test_the_rss_and_atom_copies_of_one_federal_register_feed_link_item_for_item() -> None:
    rss = numbered(corpus_items("policy/federalregister-derived_sec-sro_2026-07.rss20.xml"))
    atom = numbered(corpus_items("policy/federalregister-derived_sec-sro_2026-07.atom10.xml"), 100)
    assert len(rss) == len(atom) == 36
    index = StoryIndex()

    assert add_all(index, rss) == []
    matches = add_all(index, atom)

    assert len(matches) == 36
    rss_by_id = {item.id: item for item in rss}
    for item, match in matches:
        assert (match.reason, match.primary_id) == ("same document", item.id)
        assert match.primary_seq == rss_by_id[item.id].seq


@pytest.mark.parametrize(
    ("first_number", "second_number"),
    [
        # "Revisions to the Entity List", published a month apart.
        pytest.param("2025-19858", "2024-31468", id="revisions-to-the-entity-list"),
        # "Implementation of Additional Due Diligence Measures ..." and its "; Correction".
        pytest.param("2025-00711", "2025-02655", id="due-diligence-rule-and-its-correction"),
    ],
)
def test_federal_register_documents_with_different_numbers_never_link(
    first_number: str, second_number: str
) -> None:
    items = {item.id: item for item in demo_items("fr-bis-documents.rss", "fr-bis")}
    first = items[f"fr:{first_number}"]
    # The same day, another feed: only the document numbers keep them apart.
    second = replace(items[f"fr:{second_number}"], feed_id="fr-all", published=first.published)
    assert title_similarity(first.title, second.title) >= DEFAULT_THRESHOLD

    assert link_pair(first, second) is None


@needs_corpus
def test_look_alike_sec_notices_of_one_week_in_two_feeds_stay_apart() -> None:
    """SEC notices differ by a word or two ("Cboe BZX" / "Cboe BYX") and by their number."""
    rss = corpus_items("policy/federalregister-derived_sec-sro_2026-07.rss20.xml")
    split = numbered(
        replace(item, feed_id="sec-a" if n % 2 else "sec-b") for n, item in enumerate(rss)
    )
    close_pairs = [
        (a, b)
        for a in split
        for b in split
        if a.feed_id == "sec-a"
        and b.feed_id == "sec-b"
        and abs(a.when - b.when) <= timedelta(days=3)
        and title_similarity(a.title, b.title) >= DEFAULT_THRESHOLD
    ]
    assert len(close_pairs) >= 3  # titles alone would have linked these

    assert add_all(StoryIndex(), split) == []


def test_a_news_item_linking_to_a_federal_register_document_is_that_document() -> None:
    items = {item.id: item for item in demo_items("fr-bis-documents.rss", "fr-bis")}
    document = items["fr:2025-00480"]
    press = news(
        "bis-press",
        "Commerce adds 16 entities to the Entity List",
        link="https://www.federalregister.gov/d/2025-00480",
        when=document.when,
    )

    match = link_pair(document, press)

    assert match is not None
    assert (match.reason, match.primary_feed_id, match.primary_id) == (
        "same document",
        "fr-bis",
        "fr:2025-00480",
    )


# --- titles from the news feeds of the corpus ------------------------------------

REAL_PAIRS = [
    pytest.param(
        ("policy/al-monitor_2026-02.rss20.xml", "Hezbollah rejects disarmament plan"),
        ("policy/japantoday-world_2026-02.rss20.xml", "Hezbollah rejects disarmament plan"),
        "similar title",
        id="afp-story-in-al-monitor-and-japan-today",
    ),
    pytest.param(
        ("policy/japantoday-world_2026-02.rss20.xml", "Australia won't repatriate 34"),
        ("policy/npr-world_2026-02.rss20.xml", "Australia won't repatriate 34"),
        "similar title",
        id="identical-headlines",
    ),
    pytest.param(
        ("policy/npr-world_2026-02.rss20.xml", "Australia won't repatriate 34"),
        ("policy/abcnews-international_2026-02.rss20.xml", "Australia won't repatriate 34"),
        "similar title",
        id="two-more-words-linked-to-IS",
    ),
    pytest.param(
        ("policy/reuters-world_2017.rss20.xml", "Donor to PM May's party"),
        ("policy/indianexpress-world_2017.rss20.xml", "Donor to PM Theresa May"),
        "similar title",
        id="reuters-headline-syndicated-with-a-first-name-added",
    ),
    pytest.param(
        ("policy/reuters-world_2017.rss20.xml", "Trump says Mexico would repay"),
        ("policy/japantoday-home_2017.rss20.xml", "World › Trump says Mexico would repay"),
        "similar title",
        id="breadcrumb-before-the-headline",
    ),
    pytest.param(
        ("policy/abcnews-international_2026-02.rss20.xml", "Peru's Congress removes interim"),
        ("policy/japantoday-world_2026-02.rss20.xml", "Peru's Congress removes interim"),
        "similar title",
        id="allegation-or-probe-one-word-swapped-in-nine",
    ),
    pytest.param(
        ("policy/cbsnews-world_2026-02.rss20.xml", "U.S. and Iran wrap up second round"),
        ("policy/npr-world_2026-02.rss20.xml", "US and Iran to meet for second round"),
        None,
        id="talks-held-versus-talks-to-be-held",
    ),
    pytest.param(
        ("policy/japantoday-world_2026-02.rss20.xml", "Iran meets U.N. nuclear watchdog"),
        ("policy/npr-world_2026-02.rss20.xml", "U.S. and Iran to hold a second round"),
        None,
        id="two-iran-stories-of-one-day",
    ),
]


@needs_corpus
@pytest.mark.parametrize(("first", "second", "expected"), REAL_PAIRS)
def test_headlines_of_two_news_feeds(
    first: tuple[str, str], second: tuple[str, str], expected: str | None
) -> None:
    a = find(corpus_items(first[0]), first[1])
    b = find(corpus_items(second[0]), second[1])

    match = link_pair(a, b)

    assert (match and match.reason) == expected
    if match is not None:
        assert (match.primary_feed_id, match.primary_id) == (a.feed_id, a.id)


# Pairs a careful reader calls one story, among every item of every policy
# feed: (file, title start) of the first copy, then of the second.
EXPECTED_POLICY_STORIES = {
    (
        ("japantoday-home_2017.rss20.xml", "World › Trump says Mexico would repay"),
        ("reuters-world_2017.rss20.xml", "Trump says Mexico would repay"),
    ),
    (
        ("reuters-world_2017.rss20.xml", "Donor to PM May's party"),
        ("indianexpress-world_2017.rss20.xml", "Donor to PM Theresa May"),
    ),
    (
        ("japantoday-world_2026-02.rss20.xml", "Accused Bondi Beach killer"),
        ("dawn-world_2026-02.rss20.xml", "Accused Bondi killer"),
    ),
    (
        ("japantoday-world_2026-02.rss20.xml", "Australia won't repatriate"),
        ("npr-world_2026-02.rss20.xml", "Australia won't repatriate"),
    ),
    (
        ("japantoday-world_2026-02.rss20.xml", "Australia won't repatriate"),
        ("abcnews-international_2026-02.rss20.xml", "Australia won't repatriate"),
    ),
    (
        ("al-monitor_2026-02.rss20.xml", "Hezbollah rejects disarmament plan"),
        ("japantoday-world_2026-02.rss20.xml", "Hezbollah rejects disarmament plan"),
    ),
    (
        ("abcnews-international_2026-02.rss20.xml", "France's Macron holds bilateral talks"),
        ("japantoday-world_2026-02.rss20.xml", "Macron holds talks with India's Modi"),
    ),
    (
        ("abcnews-international_2026-02.rss20.xml", "Peru's Congress removes interim"),
        ("japantoday-world_2026-02.rss20.xml", "Peru's Congress removes interim"),
    ),
}


@needs_corpus
def test_across_all_policy_feeds_only_the_true_repeats_link() -> None:
    """4,000+ real items from 35 feeds, in time order: the SEC feed's RSS/Atom twins
    link by document number, eight news stories by title, nothing else."""
    items: list[Item] = []
    for path in sorted((CORPUS / "policy").glob("*.*")):
        items.extend(corpus_items(f"policy/{path.name}"))
    items = numbered(sorted(items, key=lambda item: item.when))
    by_seq = {item.seq: item for item in items}
    index = StoryIndex()

    matches = add_all(index, items)

    by_reason: dict[str, list[tuple[Item, Item]]] = {}
    for item, match in matches:
        by_reason.setdefault(match.reason, []).append((by_seq[match.primary_seq], item))
    assert set(by_reason) == {"same document", "similar title"}
    assert len(by_reason["same document"]) == 36
    assert all(
        "sec-sro" in a.feed_id and "sec-sro" in b.feed_id for a, b in by_reason["same document"]
    )
    found = sorted(
        (a.feed_id, a.title[:40], b.feed_id, b.title[:40]) for a, b in by_reason["similar title"]
    )
    assert len(found) == len(EXPECTED_POLICY_STORIES), found
    for (file_a, start_a), (file_b, start_b) in EXPECTED_POLICY_STORIES:
        assert any(
            a.feed_id == file_a
            and a.title.startswith(start_a)
            and b.feed_id == file_b
            and b.title.startswith(start_b)
            for a, b in by_reason["similar title"]
        ), f"not linked: {start_a!r} ({file_a}) / {start_b!r} ({file_b}); found {found}"


# --- similar words, different stories --------------------------------------------

CHINA_ADDS = "China adds 14 EU entities to export control list over Russia-related sanctions"


@pytest.mark.parametrize(
    ("first", "second", "words_alone_would_link", "expected"),
    [
        pytest.param(
            "US adds 12 Chinese firms to Entity List",
            "US removes 12 Chinese firms from Entity List",
            False,
            None,
            id="adds-versus-removes-short",
        ),
        pytest.param(
            f"{CHINA_ADDS} - Reuters",
            CHINA_ADDS.replace("adds", "removes").replace(" to ", " from "),
            True,
            None,
            id="adds-versus-removes-reuters-headline",
        ),
        pytest.param(
            "Japan tightens export controls on chipmaking tools to China from July, ministry says",
            "Japan eases export controls on chipmaking tools to China from July, ministry says",
            True,
            None,
            id="tightens-versus-eases",
        ),
        pytest.param(
            "Trump vows to punish Iran and Houthis for attacks in Red Sea - Reuters",
            "Trump vows not to punish Iran and Houthis for attacks in Red Sea",
            True,
            None,
            id="negated",
        ),
        pytest.param(
            "Ford to recall more than 565,000 US vehicles over engine compartment fire risk",
            "Ford to recall more than 270,000 US vehicles over engine compartment fire risk",
            True,
            None,
            id="different-figures",
        ),
        pytest.param(
            f"{CHINA_ADDS} - Reuters",
            f"UPDATE 1-{CHINA_ADDS}",
            True,
            "similar title",
            id="wire-label-and-source-suffix-dropped",
        ),
        pytest.param(
            "U.S. adds 12 Chinese firms to Entity List over military ties",
            "US adds 12 Chinese firms to Entity List over military ties | Nikkei Asia",
            True,
            "similar title",
            id="dotted-acronym-and-site-name",
        ),
    ],
)
def test_similar_headlines_of_different_stories_stay_apart(
    first: str, second: str, words_alone_would_link: bool, expected: str | None
) -> None:
    a = news("wire-a", first, link="https://a.example/story/1")
    b = news("wire-b", second, link="https://b.example/story/2", when=DAY + timedelta(hours=5))
    assert (title_similarity(first, second) >= DEFAULT_THRESHOLD) == words_alone_would_link

    match = link_pair(a, b)

    assert (match and match.reason) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Additions to the Entity List",
        "Revisions to the Entity List",
        "Entity List Additions",
        "Sunshine Act Meetings",
        "会社決算公告",  # "company financial statements": 5 bigrams count as 2.5 words
    ],
)
def test_short_generic_titles_in_two_feeds_do_not_link(title: str) -> None:
    a = news("law-firm-blog", title, link="https://blog.example/2026/11/el")
    b = news("trade-news", title, link="https://news.example/el-update")

    assert link_pair(a, b) is None


@needs_corpus
def test_a_heading_one_feed_uses_for_many_items_does_not_link_across_feeds() -> None:
    toc = numbered(corpus_items("policy/japan-kanpo-gazette-toc_unofficial_2025-07.rss20.xml"))
    heading = "意見招請に関する公示"  # "notice inviting opinions": one per gazette issue
    assert sum(item.title == heading for item in toc) >= 2
    index = StoryIndex()
    assert add_all(index, toc) == []  # one feed: look-alike titles never link

    other = news("kanpo-mirror", heading, link="https://mirror.example/kanpo/1", when=toc[-1].when)

    assert index.add(replace(other, seq=1000)) is None


@needs_corpus
def test_a_specific_japanese_title_links_across_feeds() -> None:
    toc = corpus_items("policy/japan-kanpo-gazette-toc_unofficial_2025-07.rss20.xml")
    notice = find(toc, "二千七年の国際コーヒー協定の有効期間の延長に関する件")
    mirror = news("kanpo-mirror", notice.title, link="https://mirror.example/kanpo/coffee")

    match = link_pair(notice, replace(mirror, published=notice.when + timedelta(hours=2)))

    assert match is not None
    assert (match.reason, match.primary_id) == ("similar title", notice.id)


@needs_corpus
@pytest.mark.parametrize(
    ("later_by", "expected"),
    [
        pytest.param(timedelta(days=2, hours=23), "similar title", id="within-three-days"),
        pytest.param(timedelta(days=3, hours=1), None, id="past-three-days"),
        pytest.param(timedelta(days=30), None, id="a-month-later"),
        pytest.param(-timedelta(days=2), "similar title", id="earlier-copy-arrives-second"),
    ],
)
def test_titles_link_only_within_the_window(later_by: timedelta, expected: str | None) -> None:
    a = find(corpus_items("policy/al-monitor_2026-02.rss20.xml"), "Hezbollah rejects")
    b = find(corpus_items("policy/japantoday-world_2026-02.rss20.xml"), "Hezbollah rejects")

    match = link_pair(a, replace(b, published=a.when + later_by))

    assert (match and match.reason) == expected


# --- links ------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize(
    ("new_title", "expected"),
    [
        pytest.param(None, "same link", id="same-title"),
        pytest.param(
            "China adds 14 EU entities to its export control list over Russia sanctions",
            "same link",
            id="edited-title",
        ),
        pytest.param("Markets wrap: stocks slip as oil rises", None, id="unrelated-title"),
    ],
)
def test_a_feed_reposting_its_item_under_a_new_id(
    new_title: str | None, expected: str | None
) -> None:
    feed = corpus_items("policy/reuters-via-googlenews_2026-07.rss20.xml", "reuters-gn")
    original = find(feed, "China adds 14 EU entities")
    repost = replace(
        original,
        id="guid:repost-1",
        guid="repost-1",
        title=new_title or original.title,
        published=original.when + timedelta(hours=6),
    )

    match = link_pair(original, repost)

    assert (match and match.reason) == expected


@needs_corpus
def test_a_day_page_link_shared_by_many_posts_links_nothing() -> None:
    """Scripting News links every post of a day to that day's page."""
    posts = numbered(corpus_items("general/scripting-news.rss20.xml", "scripting"))
    day_page = "http://scripting.com/2017/06/26.html"
    assert sum(post.link == day_page for post in posts) >= 3
    index = StoryIndex()

    assert add_all(index, posts) == []
    elsewhere = news("planet", "What Dave wrote on Monday", link=day_page, when=posts[-1].when)
    assert index.add(replace(elsewhere, seq=1000)) is None


@needs_corpus
def test_a_site_root_link_is_no_story() -> None:
    """Daring Fireball: a post on an app and the app's sponsorship, both linking its home page."""
    feed = corpus_items("general/daringfireball.atom10.xml")
    post = find(feed, "Mnml")
    sponsor = replace(find(feed, "[Sponsor] MNML"), feed_id="sponsors")
    assert post.link == sponsor.link == "http://mnml.af/"

    assert link_pair(post, sponsor) is None
    # The same pair with a story link does link: the root page is what mattered.
    story_link = "http://mnml.af/blog/launch"
    assert link_pair(replace(post, link=story_link), replace(sponsor, link=story_link)) == (
        StoryMatch(1, post.feed_id, "same link", post.id)
    )


# --- the index as the pipeline uses it ------------------------------------------------


def test_adding_an_item_again_gives_the_same_answer() -> None:
    bis = numbered(demo_items("fr-bis-documents.rss", "fr-bis"))
    search = numbered(demo_items("fr-entity-list-search.rss", "fr-entity-list"), start=100)
    index = StoryIndex()
    first_answers = [index.add(item) for item in [*bis, *search]]
    size = len(index)

    again = [index.add(item) for item in [*bis, *search]]

    assert again == first_answers
    assert len(index) == size
    assert sum(answer is not None for answer in again) == len(SHARED_DEMO_DOCUMENTS)


def test_store_round_trip_gives_also_in_and_a_rebuilt_index(tmp_path: Path) -> None:
    """The pipeline's part, with a real store: add, record the links, restart, rebuild."""
    feeds = [
        ("fr-bis", demo_items("fr-bis-documents.rss", "fr-bis")),
        ("fr-entity-list", demo_items("fr-entity-list-search.rss", "fr-entity-list")),
    ]
    index = StoryIndex()
    with Store.open(tmp_path / "data") as store:
        for _feed_id, items in feeds:
            for item in store.add_items(items, now=DAY):
                match = index.add(item)
                if match is None:
                    continue
                primary = store.get_item(match.primary_feed_id, match.primary_id)
                assert primary is not None
                primary_update, duplicate_update = link_extras(primary, item)
                if primary_update:
                    store.update_item_extras(primary.feed_id, primary.id, primary_update)
                store.update_item_extras(item.feed_id, item.id, duplicate_update)

    with Store.open(tmp_path / "data") as store:
        stored = list(store.iter_items())
        for number in sorted(SHARED_DEMO_DOCUMENTS):
            primary = store.get_item("fr-bis", f"fr:{number}")
            duplicate = store.get_item("fr-entity-list", f"fr:{number}")
            assert primary is not None and duplicate is not None
            assert also_in(primary) == ("fr-entity-list",)
            assert duplicate_of(duplicate) == primary.seq
        lone = store.get_item("fr-entity-list", "fr:2023-24508")
        assert lone is not None and duplicate_of(lone) is None and also_in(lone) == ()

    rebuilt = StoryIndex.build(stored)
    assert len(rebuilt) == len(index)  # the same primaries as before the restart
    third = Item(
        id="fr:2025-00480",
        feed_id="fr-all",
        title="Additions to the Entity List",
        link="https://www.federalregister.gov/documents/2025/01/16/2025-00480/additions",
        published=DAY,
        seq=500,
    )
    match = rebuilt.add(third)
    assert match is not None
    assert (match.primary_feed_id, match.reason) == ("fr-bis", "same document")


def test_build_lets_a_known_duplicates_link_lead_to_its_primary() -> None:
    primary = news("reuters", f"{CHINA_ADDS} - Reuters", link="https://reuters.example/a", seq=1)
    duplicate = replace(
        news("wire", CHINA_ADDS, link="https://wire.example/b", seq=2),
        extras={DUPLICATE_OF: 1},
    )
    orphan = replace(
        news("blog", "An unrelated post about tariffs and chips", link="https://blog.example/c"),
        seq=3,
        extras={DUPLICATE_OF: 999},  # its primary is older than what was loaded
    )
    index = StoryIndex.build([duplicate, orphan, primary])  # any order: replayed by seq

    assert len(index) == 1
    via_duplicate_link = news("aggregator", "Sanctions news", link="https://wire.example/b")
    match = index.add(replace(via_duplicate_link, seq=4))
    assert match == StoryMatch(1, "reuters", "same link", primary.id)
    # Adding a stored duplicate again reports its known primary.
    assert index.add(duplicate) == StoryMatch(1, "reuters", "similar title", primary.id)


# --- extras helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary_extras", "duplicate_feed", "expected_primary_update"),
    [
        pytest.param({}, "fr-entity-list", {ALSO_IN: ["fr-entity-list"]}, id="first-repeat"),
        pytest.param({ALSO_IN: ["fr-all"]}, "news", {ALSO_IN: ["fr-all", "news"]}, id="appended"),
        pytest.param({ALSO_IN: ["fr-all"]}, "fr-all", {}, id="feed-already-named"),
        pytest.param({}, "fr-bis", {}, id="repost-in-own-feed"),
        pytest.param({ALSO_IN: "fr-all"}, "news", {ALSO_IN: ["news"]}, id="malformed-value"),
    ],
)
def test_link_extras(
    primary_extras: dict[str, object],
    duplicate_feed: str,
    expected_primary_update: dict[str, object],
) -> None:
    primary = Item(id="fr:1", feed_id="fr-bis", title="t", seq=7, extras=primary_extras)
    duplicate = Item(id="fr:1", feed_id=duplicate_feed, title="t", seq=9)

    assert link_extras(primary, duplicate) == (expected_primary_update, {DUPLICATE_OF: 7})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(["fr-all", "news"], ("fr-all", "news"), id="list"),
        pytest.param(["news", "news", "", 3, None, "fr-bis"], ("news",), id="junk-and-own-feed"),
        pytest.param("news", (), id="a-string-is-not-a-list"),
        pytest.param(None, (), id="missing"),
    ],
)
def test_also_in(value: object, expected: tuple[str, ...]) -> None:
    extras = {} if value is None else {ALSO_IN: value}
    assert also_in(Item(id="x", feed_id="fr-bis", title="t", extras=extras)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), (0, None), (-3, None), (True, None), ("12", None), (None, None)],
)
def test_duplicate_of(value: object, expected: int | None) -> None:
    extras = {} if value is None else {DUPLICATE_OF: value}
    assert duplicate_of(Item(id="x", feed_id="f", title="t", extras=extras)) == expected


# --- normalization ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param(
            "China adds 14 EU entities to export control list over Russia-related sanctions"
            " - Reuters",
            {"china", "add", "14", "eu", "entity", "export", "control", "list", "russia", "related",
             "sanction"},
            id="google-news-source-suffix",
        ),
        pytest.param(
            "EXCLUSIVE: Nestle pushes for simpler US food labels",
            {"nestle", "push", "simpler", "us", "food", "label"},
            id="wire-label",
        ),
        pytest.param(
            "Tōkyō Électron wins chip deal | Nikkei Asia",
            {"tokyo", "electron", "win", "chip", "deal"},
            id="accents-and-site-name",
        ),
        pytest.param(
            "The Origins of Koreans and Their Culture - Part 2",
            {"origin", "korean", "culture", "part", "2"},
            id="part-number-is-not-a-source",
        ),
        pytest.param(
            "Trump Says U.S. Won't Add Firms",
            {"trump", "us", "wont", "add", "firm"},
            id="acronym-negation-kept",
        ),
    ],
)  # fmt: skip
def test_title_tokens(title: str, expected: set[str]) -> None:
    assert title_tokens(title) == expected


@needs_corpus
def test_the_google_news_source_suffix_never_changes_a_headlines_words() -> None:
    """Reuters headlines rebuilt from Google News all end in " - Reuters"; Reuters' own
    feed titles them without it."""
    items = corpus_items("policy/reuters-via-googlenews_2026-07.rss20.xml")
    suffixed = [item.title for item in items if item.title.endswith(" - Reuters")]
    assert len(suffixed) >= 450

    differing = [
        title
        for title in suffixed
        if title_tokens(title) != title_tokens(title.removesuffix(" - Reuters"))
        or "reuters" in title_tokens(title)
    ]

    assert differing == []


@given(st.text(max_size=300), st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_title_similarity_is_a_symmetric_score_for_any_text(a: str, b: str) -> None:
    score = title_similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == title_similarity(b, a)
    assert title_similarity(a, a) == (1.0 if title_tokens(a) else 0.0)


_LINKS = [None, "https://a.example/", "https://a.example/x", "https://b.example/x",
          "https://www.federalregister.gov/d/2025-00480",
          "https://www.federalregister.gov/d/2025-00704"]  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["feed-a", "feed-b", "feed-c"]),
            st.text(max_size=80) | st.sampled_from([CHINA_ADDS, f"{CHINA_ADDS} - Reuters"]),
            st.sampled_from(_LINKS),
            st.integers(min_value=-40 * 24, max_value=40 * 24),
        ),
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_every_match_names_an_earlier_primary(
    rows: Sequence[tuple[str, str, str | None, int]],
) -> None:
    index = StoryIndex()
    primaries: dict[int, Item] = {}
    for seq, (feed_id, title, link, hours) in enumerate(rows, start=1):
        item = Item(
            id=f"guid:{seq}",
            feed_id=feed_id,
            title=title,
            link=link,
            published=DAY + timedelta(hours=hours),
            seq=seq,
        )
        match = index.add(item)
        if match is None:
            primaries[seq] = item
            continue
        primary = primaries[match.primary_seq]  # a primary, never a duplicate
        assert (primary.feed_id, primary.id) == (match.primary_feed_id, match.primary_id)
        if match.reason == "similar title":
            assert primary.feed_id != feed_id
            assert abs(primary.when - item.when) <= timedelta(days=3)
        numbers = {fr_document_number(link), fr_document_number(primary.link)}
        assert len(numbers - {None}) <= 1  # two document numbers never link


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window": timedelta(days=-1)}, "story window must not be negative"),
        ({"window": timedelta(days=40)}, "must be at least the window plus"),
        ({"threshold": 0.0}, "threshold must be in (0, 1], got 0.0"),
        ({"threshold": 1.5}, "threshold must be in (0, 1], got 1.5"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StoryIndex(**options)  # type: ignore[arg-type]


# --- cost and memory ----------------------------------------------------------------


def test_add_stays_cheap_and_memory_stays_bounded() -> None:
    """30,000 items over 60 days, 5 % of them copies from another feed: every copy is
    found, and only the last few days are held."""
    rng = random.Random(3)
    vocabulary = [f"word{n}" for n in range(5000)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items: list[Item] = []
    originals: list[Item] = []
    copies = 0
    for n in range(30_000):
        when = start + timedelta(minutes=2.88 * n)  # 500 a day
        title = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 12)))
        item = news(f"feed{n % 30}", title, link=f"https://e.example/{n}", when=when, seq=n + 1)
        items.append(item)
        originals.append(item)
        if rng.random() < 0.05 and n > 100:
            source = originals[-rng.randint(1, 100)]
            copy = news("copies", source.title, link=f"https://copy.example/{n}", when=when)
            items.append(replace(copy, seq=0))
            copies += 1
    index = StoryIndex(window=timedelta(days=1), retention=timedelta(days=5))
    held = []

    started = time.process_time()
    matches = 0
    for n, item in enumerate(items):
        matches += index.add(item) is not None
        if n % 1000 == 0:
            held.append(len(index))
    per_add = (time.process_time() - started) / len(items)

    assert matches == copies
    # At most ~5 days x 500 a day (plus one day of slack) are held at any time.
    assert max(held) <= 6 * 500
    assert per_add < 0.002, f"{per_add * 1e6:.0f} µs per add"
