"""The topics: section (bot/config/sections/topics.py)."""

from __future__ import annotations

import pytest

from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from tests.config.feedsyaml import problems

ERROR_CASES = [
    pytest.param(
        """\
        topics:
          - id: chips
            qeury: chip
        """,
        [
            "feeds.yaml:2: topic 'chips': query is required",
            "feeds.yaml:3: topic 'chips': unknown key 'qeury' (did you mean 'query'?)",
        ],
        id="topic-unknown-key",
    ),
    pytest.param(
        """\
        topics:
          - id: chips
            query: chip
          - id: chips
            query: wafer
        """,
        ["feeds.yaml:4: topic 'chips': duplicate id (first defined at line 2)"],
        id="duplicate-topic-id",
    ),
    pytest.param(
        "topics:\n  - id: chips\n    query: chip\n    priority: high\n",
        ["feeds.yaml:4: topic 'chips': priority must be a whole number, not 'high'"],
        id="topic-priority-not-a-number",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_a_bad_topic_query_reports_the_query_languages_error() -> None:
    text = "topics:\n  - id: el\n    query: '\"entity list'\n"
    with pytest.raises(QueryError) as reason:
        parse_query('"entity list')
    assert problems(text) == [f"feeds.yaml:3: topic 'el': query '\"entity list': {reason.value}"]
    assert "quote" in str(reason.value)
