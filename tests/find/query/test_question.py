"""Plain-language questions turned into queries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.find.query.question import parse_question, question_to_query
from bot.find.query.syntax import QueryError
from tests.find.query.sample import NOW, make_doc

# ---------------------------------------------------------------------------
# Plain-language questions


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("what's new on IPEF", "IPEF"),
        ("What’s new on IPEF?", "IPEF"),
        ("WHAT'S NEW ON IPEF", "IPEF"),
        ("anything about rare earth exports this week?", "rare earth exports since:7d"),
        ("tell me about US export controls", "US export controls"),
        ("any news on the Entity List today", "Entity List since:24h"),
        ("show me the latest on Indo-Pacific supply chains", "Indo-Pacific supply chains"),
        (
            "semiconductor export controls in the past 3 days",
            "semiconductor export controls since:3d",
        ),
        ("gallium and germanium", "gallium germanium"),
        ("what's new this month", "since:30d"),
        # query syntax is left as it is
        ('"entity list" OR IPEF', '"entity list" OR IPEF'),
        ("chips -potato", "chips -potato"),
        ("semiconductor*", "semiconductor*"),
        ("chips since:7d", "chips since:7d"),
        ("IPEF AND chips", "IPEF AND chips"),
    ],
)
def test_question_to_query(question: str, query: str) -> None:
    assert question_to_query(question) == query


def test_question_is_parsed_to_a_matching_query() -> None:
    query = parse_question("anything about rare earth exports this week?")
    assert query.text == "rare earth exports since:7d"
    fresh = make_doc("China tightens rare-earth export rules", published=NOW - timedelta(days=2))
    stale = make_doc("China tightens rare-earth export rules", published=NOW - timedelta(days=9))
    assert query.matches(fresh, now=NOW)
    assert not query.matches(stale, now=NOW)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (
            "what's new?",
            "the question names no subject: say what to look for, as in what's new on IPEF",
        ),
        ("", "empty query"),
        ('chips "entity', "unclosed quote at column 7"),
    ],
)
def test_question_errors(question: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_question(question)
    assert str(caught.value) == message
