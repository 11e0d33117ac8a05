"""Parsing queries: the normalized tree, errors with their column, pathological input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.query.matcher import Query
from bot.find.query.parser import parse_query
from bot.find.query.question import parse_question
from bot.find.query.syntax import QueryError
from tests.find.query.sample import NOW, TOPICS, make_doc

# ---------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("export", "word:export"),
        ("Exports", "word:export"),
        ("export control", "AND(word:export, word:control)"),
        ('"entity list"', 'phrase:"entity list"'),
        ("“entity list”", 'phrase:"entity list"'),
        ('"Export Controls"', 'phrase:"export control"'),
        ('"chips"', "word:chip"),
        ("a OR b", "OR(word:a, word:b)"),
        ("a b OR c", "OR(AND(word:a, word:b), word:c)"),
        ("a OR b c", "OR(word:a, AND(word:b, word:c))"),
        ("a AND b OR c AND d", "OR(AND(word:a, word:b), AND(word:c, word:d))"),
        ("NOT a b", "AND(NOT(word:a), word:b)"),
        ("a NOT b OR c", "OR(AND(word:a, NOT(word:b)), word:c)"),
        ("a -b", "AND(word:a, NOT(word:b))"),
        ('a -"b c"', 'AND(word:a, NOT(phrase:"b c"))'),
        ("-(a OR b) c", "AND(NOT(OR(word:a, word:b)), word:c)"),
        ("NOT NOT a", "word:a"),
        ("- -a", "NOT(word:a)"),  # a dash alone is punctuation
        ("-(-a)", "word:a"),
        ("a (b OR (c OR d))", "AND(word:a, OR(word:b, word:c, word:d))"),
        ("(a b) (c)", "AND(word:a, word:b, word:c)"),
        ("chip OR chips", "word:chip"),
        ("a and b", "AND(word:a, word:and, word:b)"),
        ("not or", "AND(word:not, word:or)"),
        ("export*", "prefix:export*"),
        ("semiconductors*", "prefix:semiconductors*"),
        ("indo-pac*", 'prefix:"indo pac*"'),
        ("Indo-Pacific", 'phrase:"indo pacific"'),
        ("U.S.", 'phrase:"u s"'),
        ("10:30", 'phrase:"10 30"'),
        ("foo:bar", 'phrase:"foo bar"'),
        ("indo-pacific -china", 'AND(phrase:"indo pacific", NOT(word:china))'),
        ("rare earth & gallium", "AND(word:rare, word:earth, word:gallium)"),
        ("a - b", "AND(word:a, word:b)"),
        ("Économie", "word:economie"),
        ("ＩＰＥＦ", "word:ipef"),
        ("半導体", 'phrase:"半導 導体"'),
        ("半導", "word:半導"),
        ("株", "chars:株"),
        ("feed:fr-bis", "feed:fr-bis"),
        ("Feed:fr-bis", "feed:fr-bis"),
        ("tag:US", "tag:us"),
        ('tag:"Export Controls"', "tag:export controls"),
        ("since:7d", "since:7d"),
        ("since:24H", "since:24h"),
        ("before:2w", "before:2w"),
        ("since:2026-11-01", "since:2026-11-01"),
        (
            "feed:fr-bis since:7d (entity OR entities) -tag:draft",
            "AND(feed:fr-bis, since:7d, word:entity, NOT(tag:draft))",
        ),
        (
            "feed:a OR feed:b",
            "OR(feed:a, feed:b)",
        ),
        (
            TOPICS["export-controls"],
            'OR(phrase:"export control", phrase:"export administration regulation", word:ear,'
            ' word:itar, phrase:"foreign direct product")',
        ),
        (
            TOPICS["semiconductors"],
            'OR(prefix:semiconductor*, word:chip, phrase:"integrated circuit", word:lithography,'
            " prefix:wafer*)",
        ),
    ],
)
def test_parse_gives_normalized_tree(query: str, tree: str) -> None:
    assert str(parse_query(query).root) == tree


def test_query_keeps_the_text_as_written() -> None:
    query = parse_query('  "Entity List" OR EAR ')
    assert query.text == '  "Entity List" OR EAR '
    assert repr(query) == 'Query(\'  "Entity List" OR EAR \', OR(phrase:"entity list", word:ear))'


def test_queries_with_the_same_text_are_equal_and_hash_alike() -> None:
    assert parse_query("a OR b") == parse_query("a OR b")
    assert len({parse_query("a OR b"), parse_query("a OR b"), parse_query("a b")}) == 2


# ---------------------------------------------------------------------------
# Errors: exact text and column


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("", "empty query", None),
        ("   \t ", "empty query", None),
        ('rare earth "entity list', "unclosed quote at column 12", 12),
        ("a “entity list", "unclosed quote at column 3", 3),
        ("a (b OR c", "unbalanced parenthesis at column 3: this ( is never closed", 3),
        ("((a) (b)", "unbalanced parenthesis at column 1: this ( is never closed", 1),
        ("a OR b)", "unbalanced parenthesis at column 7: nothing opened this )", 7),
        ("NOT", "NOT needs a term after it (column 1)", 1),
        ("export NOT", "NOT needs a term after it (column 8)", 8),
        ("NOT OR b", "NOT needs a term after it (column 1)", 1),
        ("(a NOT)", "NOT needs a term after it (column 4)", 4),
        ("a AND", "AND needs a term after it (column 3)", 3),
        ("a AND OR b", "AND needs a term after it (column 3)", 3),
        ("AND a", "AND needs a term before it (column 1)", 1),
        ("a OR", "OR needs a term after it (column 3)", 3),
        ("a OR OR b", "OR needs a term after it (column 3)", 3),
        ("(OR a)", "OR needs a term before it (column 2)", 2),
        ("& OR a", "OR needs a term before it (column 3)", 3),
        ("a -AND b", "- needs a term after it (column 3)", 3),
        ("a () b", "empty parentheses at column 3", 3),
        ('a "" b', "nothing to search for in the quotes at column 3", 3),
        ('"&?!"', "nothing to search for in the quotes at column 1", 1),
        ("&& ??", "no words to search for in the query", None),
        (
            "*",
            "a bare * is not a search term; write at least 2 letters before it, as in export*"
            " (column 1)",
            1,
        ),
        (
            "chips -*",
            "a bare * is not a search term; write at least 2 letters before it, as in export*"
            " (column 8)",
            8,
        ),
        ("e*", "a wildcard needs at least 2 letters before the *, as in ex* (column 1)", 1),
        ("a ex*port", "* can only end a word, as in export* (column 5)", 5),
        (
            "since:",
            "since: needs a duration such as 7d or a date such as 2026-11-01 (column 1)",
            1,
        ),
        (
            "chips since:last-week",
            "since: needs a duration such as 7d or a date such as 2026-11-01 (column 7)",
            7,
        ),
        (
            "before:7m",
            "before: needs a duration such as 7d or a date such as 2026-11-01 (column 1)",
            1,
        ),
        ("since:2026-02-30", "since: 2026-02-30 is not a real date (column 1)", 1),
        ("feed:", "feed: needs a feed id, as in feed:fr-bis (column 1)", 1),
        ("a tag:", "tag: needs a tag name, as in tag:us (column 3)", 3),
    ],
)
def test_error_says_what_and_where(query: str, message: str, column: int | None) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert str(caught.value) == message
    assert caught.value.message == message
    assert caught.value.column == column
    assert isinstance(caught.value, ValueError)


def test_error_column_points_at_the_character() -> None:
    query = 'since:7d "entity list'
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.column is not None
    assert query[caught.value.column - 1] == '"'


# ---------------------------------------------------------------------------
# Pathological input: refused with a clear message, never a hang or RecursionError.


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a" * 1_048_576, "query is too long: 1,048,576 characters, the limit is 1,000"),
        ("(" * 10_000 + "a" + ")" * 10_000, "query is too long: 20,001 characters"),
        ('"' * 5000, "query is too long: 5,000 characters"),
        ("(" * 21 + "a" + ")" * 21, "too deeply nested: more than 20 levels of parentheses"),
        ("(" * 500, "too deeply nested: more than 20 levels of parentheses (column 21)"),
        (" ".join(["chip"] * 51), "too many terms: the limit is 50 (column 251)"),
        ("a OR " * 60 + "b", "too many terms: the limit is 50"),
    ],
    ids=["1MB", "10000-parens", "5000-quotes", "21-levels", "500-open", "51-terms", "61-ors"],
)
def test_pathological_query_is_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert str(caught.value).startswith(message)


def test_limits_are_inclusive() -> None:
    assert str(parse_query("(" * 20 + "a" + ")" * 20).root) == "word:a"
    assert str(parse_query(" ".join(["w"] * 50)).root) == "word:w"
    assert parse_query("a" * 1000).root is not None


@pytest.mark.timeout(10)
def test_a_thousand_negations_fold_into_one() -> None:
    # 999 dashes: recursing per NOT would overflow the stack when matching.
    query = parse_query("-" * 999 + "a")
    assert str(query.root) == "NOT(word:a)"
    assert query.matches(make_doc("b"), now=NOW)
    assert not query.matches(make_doc("a"), now=NOW)
    assert str(parse_query("NOT " * 200 + "a").root) == "word:a"


# ---------------------------------------------------------------------------
# Properties

_QUERY_ALPHABET = st.sampled_from(
    [
        *"ab é-*:()\"“”（）_'半導体",
        "AND",
        "OR",
        "NOT",
        "feed:",
        "tag:",
        "since:",
        " 7d",
        "2026-11-01",
    ]
)
_query_ish = st.lists(_QUERY_ALPHABET, max_size=40).map("".join)


@settings(max_examples=400, deadline=timedelta(seconds=1))
@given(st.one_of(st.text(max_size=300), _query_ish))
def test_parser_returns_a_query_or_a_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert error.message == str(error)
        assert error.column is None or 1 <= error.column <= max(len(text), 1001)
    else:
        assert isinstance(query, Query)
        query.matches(make_doc(text), now=NOW)
        assert all(term for term in query.positive_terms())
    try:
        assert isinstance(parse_question(text), Query)
    except QueryError as error:
        assert str(error)
