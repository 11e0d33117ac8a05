"""What every engine answers alike (`SearchEngine`): plain questions, errors, paging, changes.

Ported from the in-memory engine's tests (deleted with it, issue 17): they run
on SQLite FTS5 and on PostgreSQL (`search_backend`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.find.search.engine import SearchEngine
from bot.find.search.results import MAX_LIMIT
from tests.find.search.sample import NOW, assert_agrees_with_language, make_item, search, seqs
from tests.find.search.sample import searchable as index_of

pytestmark = pytest.mark.usefixtures("search_backend")

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


# --------------------------------------------------------------------------- the protocol


def test_both_engines_are_search_engines() -> None:
    """The runtime calls every method of the protocol on either; the ones with nothing to
    do answer as if done (PostgreSQL: nothing to catch up, forget, record or close)."""
    engine: SearchEngine = index_of(make_item(1, "Gallium curbs"))
    assert engine.catch_up(timeout=0) is True and engine.wait_ready(1) is True
    assert engine.forget_pruned() == 0
    engine.record_level("stamp")
    engine.set_feed_tags({"fr-bis": ("us",)})
    assert seqs(engine.search_text("gallium tag:us", now=NOW)) == [1]
    engine.close()
    assert len(engine) == 1
