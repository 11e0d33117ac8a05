"""StoryIndex on real feed items: Federal Register documents, news headlines, look-alike stories.

Real items come from the demo feeds bundled in bot/demo_feeds and from the
shared feed corpus (tests that need the corpus skip without it). The expected
pairs were chosen by reading both headlines, not by running the code.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.find.stories.index import DEFAULT_THRESHOLD, StoryIndex, StoryMatch
from bot.find.stories.titles import title_similarity
from bot.models import Item, replace
from tests.find.stories.sample import (
    CHINA_ADDS,
    CORPUS,
    DAY,
    SHARED_DEMO_DOCUMENTS,
    add_all,
    corpus_items,
    demo_items,
    find,
    link_pair,
    needs_corpus,
    news,
    numbered,
)

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
