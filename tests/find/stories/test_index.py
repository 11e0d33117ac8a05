"""StoryIndex: links, the index as the pipeline uses it, properties, settings, cost and memory."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.stories.extras import DUPLICATE_OF, also_in, link_extras
from bot.find.stories.index import StoryIndex, StoryMatch
from bot.ingest.links import fr_document_number
from bot.models import Item, replace
from bot.store.tinydb.store import TinyStore
from tests.find.stories.sample import (
    CHINA_ADDS,
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


def test_one_link_over_http_and_https_is_one_story() -> None:
    wire = news("wire", "Chip exports: new licence rules", link="http://news.example/2026/chips/")
    blog = news(
        "blog",
        "Why the licence rules matter",
        link="https://News.example:443/2026/chips?utm_source=blog",
    )
    assert link_pair(wire, blog) == StoryMatch(1, "wire", "same link", wire.id)
    other = replace(blog, link="https://news.example/2026/chips-2")
    assert link_pair(wire, other) is None


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
    with TinyStore.open(tmp_path / "data") as store:
        for _feed_id, items in feeds:
            # One transaction per poll of a feed, as the poller stores and links them.
            with store.transaction() as tx:
                for item in tx.items.add(items, now=DAY):
                    match = index.add(item)
                    if match is None:
                        continue
                    primary = tx.items.get(match.primary_feed_id, match.primary_id)
                    assert primary is not None
                    primary_update, duplicate_update = link_extras(primary, item)
                    if primary_update:
                        tx.items.update_extras(primary.feed_id, primary.id, primary_update)
                    tx.items.update_extras(item.feed_id, item.id, duplicate_update)

    with TinyStore.open(tmp_path / "data") as store:
        stored = list(store.items.after())
        for number in sorted(SHARED_DEMO_DOCUMENTS):
            primary = store.items.get("fr-bis", f"fr:{number}")
            duplicate = store.items.get("fr-entity-list", f"fr:{number}")
            assert primary is not None and duplicate is not None
            assert also_in(primary) == ("fr-entity-list",)
            assert duplicate.duplicate_of == primary.seq
        lone = store.items.get("fr-entity-list", "fr:2023-24508")
        assert lone is not None and lone.duplicate_of is None and also_in(lone) == ()

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
