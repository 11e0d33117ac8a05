"""A story index written down and read back answers every later item as the original does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.stories.index import StoryIndex, StoryMatch
from bot.find.stories.persist import FORMAT, dump_index, load_index
from bot.models import Item
from tests.find.stories.sample import CHINA_ADDS, DAY, demo_items, numbered

_TITLES = [
    CHINA_ADDS,
    f"{CHINA_ADDS} - Reuters",
    "Commerce adds nine Chinese firms to trade blacklist",
    "Sunshine Act Meetings of the Federal Maritime Commission",
]
_LINKS = [
    None,
    "https://news.example/a",
    "https://news.example/b",
    "https://news.example/",
    "https://www.federalregister.gov/documents/2025/01/06/2024-31468/x",
    "https://www.federalregister.gov/documents/2025/01/06/2025-00480/y",
]


def through_json(index: StoryIndex) -> StoryIndex:
    """`index` as the next process gets it: dumped, as JSON text, loaded."""
    return load_index(json.loads(json.dumps(dump_index(index))))


def answers(index: StoryIndex, items: Sequence[Item]) -> list[StoryMatch | None]:
    return [index.add(item) for item in items]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["feed-a", "feed-b"]),
            st.integers(min_value=0, max_value=6),  # ids come back: remembered answers
            st.sampled_from(_TITLES) | st.text(max_size=40),
            st.sampled_from(_LINKS),
            st.integers(min_value=-4 * 24, max_value=4 * 24)  # within the window, mostly
            | st.integers(min_value=-50 * 24, max_value=50 * 24),
        ),
        max_size=50,
    ),
    st.integers(min_value=0, max_value=50),
)
@settings(max_examples=300, deadline=None)
def test_a_reloaded_index_answers_as_the_original(
    rows: Sequence[tuple[str, int, str, str | None, int]], split: int
) -> None:
    items = [
        Item(
            id=f"guid:{number}",
            feed_id=feed_id,
            title=title,
            link=link,
            published=DAY + timedelta(hours=hours),
            seq=seq,
        )
        for seq, (feed_id, number, title, link, hours) in enumerate(rows, start=1)
    ]
    original = StoryIndex()
    answers(original, items[:split])
    reloaded = through_json(original)
    assert len(reloaded) == len(original)
    assert answers(reloaded, items[split:]) == answers(original, items[split:])


_BLACKLIST = "Commerce adds nine Chinese firms to trade blacklist"
_MEETINGS = "Sunshine Act Meetings of the Federal Maritime Commission"


def item(seq: int, feed_id: str, title: str, link: str, hours: int = 0) -> Item:
    return Item(
        id=f"guid:{seq}",
        feed_id=feed_id,
        title=title,
        link=link,
        published=DAY + timedelta(hours=hours),
        seq=seq,
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(  # title postings
            [item(1, "a", _BLACKLIST, "https://a.example/1")],
            [item(2, "b", _BLACKLIST, "https://b.example/1", hours=2)],
            "similar title",
            id="similar-title",
        ),
        pytest.param(  # a link one feed showed on unrelated items names a page
            [
                item(1, "a", _BLACKLIST, "https://a.example/today"),
                item(2, "a", "Markets wrap: stocks slip as oil rises", "https://a.example/today"),
            ],
            [item(3, "b", _BLACKLIST, "https://a.example/today", hours=1)],
            "similar title",
            id="ambiguous-link",
        ),
        pytest.param(  # a title one feed used for two items is a heading
            [
                item(1, "a", _MEETINGS, "https://a.example/m1"),
                item(2, "a", _MEETINGS, "https://a.example/m2", hours=24),
            ],
            [item(3, "b", _MEETINGS, "https://b.example/m", hours=25)],
            None,
            id="generic-title",
        ),
        pytest.param(  # an item added again gets the answer it got
            [item(1, "a", _BLACKLIST, "https://a.example/1")],
            [item(1, "a", _BLACKLIST, "https://a.example/1")],
            None,
            id="seen",
        ),
    ],
)
def test_what_the_index_learnt_survives_a_reload(
    before: list[Item], after: list[Item], expected: str | None
) -> None:
    original = StoryIndex()
    answers(original, before)
    found = answers(through_json(original), after)[-1]
    assert (found.reason if found else None) == expected
    assert found == answers(original, after)[-1]


def test_the_demo_feeds_link_alike_after_a_reload() -> None:
    rss = numbered(demo_items("fr-bis-documents.rss", "fr-rss"))
    atom = numbered(demo_items("fr-entity-list-search.rss", "fr-atom"), start=len(rss) + 1)
    original = StoryIndex.build(rss)
    reloaded = through_json(StoryIndex.build(rss))
    found = answers(reloaded, atom)
    assert found == answers(original, atom)
    assert sum(match is not None for match in found) >= 6  # the shared documents


def test_a_damaged_or_foreign_document_is_refused() -> None:
    data = dump_index(StoryIndex.build(numbered(demo_items("fr-bis-documents.rss", "fr"))))
    with pytest.raises(ValueError, match="version"):
        load_index({**data, "format": FORMAT + 1})
    with pytest.raises(ValueError, match="other options"):
        load_index({**data, "options": [1.0, 2.0, 0.5, 4.0]})
    with pytest.raises(ValueError, match="damaged"):
        load_index({**data, "entries": [["not", "an", "entry"]]})
    with pytest.raises(ValueError, match="damaged"):
        load_index({**data, "by_document": {"2024-31468": 10_000}})
    with pytest.raises(ValueError, match="version"):
        load_index(["a list"])
