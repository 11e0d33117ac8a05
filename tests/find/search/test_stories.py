"""One search on both engines: suspects re-checked and counted, and stories shown once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.find.search.sample import make_item, search, seqs
from tests.find.search.sample import searchable as index_of

pytestmark = pytest.mark.usefixtures("search_backend")


def test_many_suspects_are_checked_and_counted_exactly() -> None:
    """`export-controls*` is "export" then a word starting with "controls": the
    index holds stems, so every "export control" is a suspect to check.

    PostgreSQL's index holds the raw forms beside the stems: no suspects there,
    and the total is exact. The SQLite index (stems in order too) re-checks up
    to 2,000 suspects to count them: exact as well."""
    suspects = [
        make_item(seq, f"Export control rule {seq}", age=timedelta(days=9)) for seq in range(1, 601)
    ]
    true = [make_item(seq, f"Export controls tighten {seq}") for seq in range(601, 651)]
    results = search(index_of(*suspects, *true), "export-controls*")
    assert len(results.hits) == 10
    assert all(hit.item.seq > 600 for hit in results.hits)
    assert (results.total, results.total_exact) == (50, True)


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
