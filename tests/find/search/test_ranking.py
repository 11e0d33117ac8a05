"""Ranking on both engines: the order, the scores, and the recency boost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.models import Item
from tests.find.search.sample import make_item, search, seqs
from tests.find.search.sample import searchable as index_of

pytestmark = pytest.mark.usefixtures("search_backend")

FILLER = "The notice was published by the agency on its website for readers."


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
