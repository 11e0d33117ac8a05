"""Ranking in the index file: a one-term query by field norms and recency, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.find.query.parser import parse_query
from bot.find.search.results import SearchResults
from bot.models import Item
from bot.store.searchdb.index import FtsIndex

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FILLER = "The notice was published by the agency on its website for readers."


def item(
    seq: int, title: str, summary: str = FILLER, *, age: timedelta = timedelta(days=1)
) -> Item:
    return Item(
        id=f"item-{seq}",
        feed_id="fr-bis",
        title=title,
        summary=summary,
        link=f"https://example.org/{seq}",
        published=NOW - age,
        seq=seq,
    )


def indexed(tmp_path: Path, *items: Item) -> FtsIndex:
    index = FtsIndex(tmp_path)
    index.add_many(items)
    return index


def search(index: FtsIndex, text: str, *, limit: int = 10, offset: int = 0) -> SearchResults:
    return index.search(parse_query(text), now=NOW, limit=limit, offset=offset)


def test_a_title_hit_beats_a_summary_hit_and_the_newer_wins_among_equals(tmp_path: Path) -> None:
    index = indexed(
        tmp_path,
        item(1, "Agency rules published", "New rules for gallium firms out today."),
        item(2, "Gallium rules published", "New rules for some firms out today."),
        item(
            3,
            "Gallium rules published",
            "New rules for some firms out today.",
            age=timedelta(days=9),
        ),
        item(4, "Gallium rules published", "New gallium rules for some firms out today."),
    )
    hits = search(index, "gallium").hits
    # In title and summary, then the title (newer first), then the summary alone.
    assert [hit.item.seq for hit in hits] == [4, 2, 3, 1]
    index.close()


def test_the_recency_boost_fades_with_age(tmp_path: Path) -> None:
    same = "Semiconductor export rule"
    index = indexed(
        tmp_path,
        item(1, same, age=timedelta(hours=1)),
        item(2, same, age=timedelta(days=14)),
        item(3, same, age=timedelta(days=365)),
        item(4, same, age=-timedelta(days=3)),  # dated in the future
    )
    by_seq = {hit.item.seq: hit.score for hit in search(index, "semiconductor").hits}
    # 1 + 0.5 * 2**(-age / 14 days): about 1.5, 1.25 and 1.0; never more than 1.5.
    assert by_seq[1] / by_seq[3] == pytest.approx(1.5, rel=0.01)
    assert by_seq[2] / by_seq[3] == pytest.approx(1.25, rel=0.01)
    assert by_seq[4] / by_seq[3] == pytest.approx(1.5, rel=0.001)
    index.close()


def test_pages_of_a_broad_term_follow_one_ranking_to_the_end(tmp_path: Path) -> None:
    """Forty fresh title hits fill the first pages, so the summaries are not ranked for
    them; the later pages rank them, and every story is shown once, best first."""
    fresh = [item(i, f"Gallium rule {i}", age=timedelta(hours=i)) for i in range(1, 41)]
    words = " ".join(f"word{n}" for n in range(40))
    older = [
        item(
            i,
            f"Agency notice {i}",
            f"Gallium {words[: 20 * (i - 40)]} {FILLER}",
            age=timedelta(days=i),
        )
        for i in range(41, 81)
    ]
    index = indexed(tmp_path, *fresh, *older)
    shown: list[int] = []
    scores: list[float] = []
    for offset in range(0, 90, 10):
        results = search(index, "gallium", offset=offset)
        assert (results.total, results.total_exact) == (80, True)
        shown += [hit.item.seq for hit in results.hits]
        scores += [hit.score for hit in results.hits]
    assert sorted(shown) == list(range(1, 81))
    assert scores == sorted(scores, reverse=True)
    assert set(shown[:40]) == set(range(1, 41))
    index.close()


def test_a_filter_and_a_not_keep_the_ranking_of_the_term(tmp_path: Path) -> None:
    index = indexed(
        tmp_path,
        item(1, "Gallium curbs", "Export rules for China."),
        item(2, "Gallium curbs", "Export rules.", age=timedelta(days=3)),
        item(3, "Agency notice", "Gallium curbs for Japan."),
        item(4, "Gallium news", "Prices.", age=timedelta(days=40)),
    )
    assert [hit.item.seq for hit in search(index, "gallium -china").hits] == [2, 4, 3]
    assert [hit.item.seq for hit in search(index, "gallium since:7d").hits] == [1, 2, 3]
    index.close()


def test_japanese_and_chinese_substrings_are_ranked_and_counted(tmp_path: Path) -> None:
    index = indexed(
        tmp_path,
        item(1, "半導体の輸出規制を強化", "経済安全保障の告示"),
        item(2, "輸出管理の告示", "半導体"),
        item(3, "中国商务部公告", "出口管制 半导体"),
    )
    assert sorted(hit.item.seq for hit in search(index, "告示").hits) == [1, 2]
    assert search(index, "告示").hits[0].item.seq == 2  # in its title
    assert search(index, "导").total == 1  # one character
    assert sorted(hit.item.seq for hit in search(index, "輸出").hits) == [1, 2]
    index.close()
