"""Counting stories in the index file: a story and its copies count once, however indexed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.find.query.parser import parse_query
from bot.models import Item
from bot.store.searchdb.index import FtsIndex

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def item(
    seq: int,
    title: str,
    *,
    copy_of: int | None = None,
    feed_id: str = "fr-bis",
    tags: tuple[str, ...] = (),
) -> Item:
    return Item(
        tags=tags,
        id=f"item-{seq}",
        feed_id=feed_id,
        title=title,
        summary="The notice was published by the agency.",
        link=f"https://example.org/{seq}",
        published=NOW - timedelta(days=seq),
        seq=seq,
        extras={} if copy_of is None else {"duplicate_of": copy_of},
    )


def shown(index: FtsIndex, text: str) -> tuple[int, list[int]]:
    results = index.search(parse_query(text), now=NOW, limit=50)
    assert results.total_exact
    return results.total, sorted(hit.item.seq for hit in results.hits)


def test_a_story_and_its_copies_count_once(tmp_path: Path) -> None:
    index = FtsIndex(tmp_path)
    index.add_many(
        [
            item(1, "Gallium export curbs"),
            item(2, "Gallium export curbs widen", copy_of=1, feed_id="reuters"),
            item(3, "Gallium curbs, a copy", copy_of=1, feed_id="nikkei"),
            item(4, "Germanium export curbs"),
            item(5, "Export curbs on germanium", copy_of=4, feed_id="reuters"),
        ]
    )
    assert shown(index, "gallium") == (1, [1])
    assert shown(index, "curbs") == (2, [1, 4])
    # A copy matching while its story does not is that story, counted once.
    assert shown(index, "widen OR copy") == (1, [2])
    assert shown(index, "curbs feed:reuters") == (2, [2, 5])
    assert shown(index, "curbs -gallium") == (1, [4])
    index.close()


def test_a_copy_indexed_before_its_story_counts_once(tmp_path: Path) -> None:
    index = FtsIndex(tmp_path)
    index.add_many([item(7, "Gallium curbs, the copy", copy_of=6, feed_id="reuters")])
    assert shown(index, "gallium") == (1, [7])
    index.add_many([item(6, "Gallium curbs")])
    assert shown(index, "gallium") == (1, [6])
    index.close()
    again = FtsIndex(tmp_path)  # another process, the file alone
    assert shown(again, "curbs") == (1, [6])
    again.close()


def test_a_story_indexed_again_keeps_its_copies_counted_once(tmp_path: Path) -> None:
    """Replacing an item (same seq) deletes its row with the tokens it was written with."""
    index = FtsIndex(tmp_path)
    index.add_many([item(1, "Gallium curbs"), item(2, "Gallium curbs again", copy_of=1)])
    index.add_many([item(1, "Gallium curbs, revised")])
    assert shown(index, "gallium") == (1, [1])
    assert shown(index, "revised") == (1, [1])
    assert shown(index, "again") == (1, [2])
    index.close()


def test_feed_and_tag_alone_or_beside_text_find_and_count_the_same_stories(tmp_path: Path) -> None:
    index = FtsIndex(tmp_path, feed_tags={"nikkei": ("japan",)})
    index.add_many(
        [
            item(1, "Gallium curbs", tags=("Japan",)),  # its own tag
            item(2, "Gallium curbs in Tokyo", feed_id="nikkei"),
            item(3, "Gallium curbs, a copy", copy_of=2, feed_id="reuters"),
            item(4, "Germanium prices", feed_id="reuters"),
        ]
    )
    assert shown(index, "tag:japan") == (2, [1, 2])
    assert shown(index, "gallium tag:japan") == (2, [1, 2])
    assert shown(index, "feed:reuters") == (2, [3, 4])
    assert shown(index, "gallium feed:reuters") == (1, [3])
    assert shown(index, "gallium -feed:reuters") == (2, [1, 2])
    # Feed tags are configuration: a reload applies to the items already indexed.
    index.set_feed_tags({"reuters": ("japan",)})
    assert shown(index, "tag:japan") == (3, [1, 3, 4])
    assert shown(index, "gallium tag:japan") == (2, [1, 3])
    index.close()
