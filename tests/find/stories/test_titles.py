"""Headline normalization and similarity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.stories.titles import title_similarity, title_tokens
from tests.find.stories.sample import corpus_items, needs_corpus

# --- normalization ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param(
            "China adds 14 EU entities to export control list over Russia-related sanctions"
            " - Reuters",
            {"china", "add", "14", "eu", "entity", "export", "control", "list", "russia", "related",
             "sanction"},
            id="google-news-source-suffix",
        ),
        pytest.param(
            "EXCLUSIVE: Nestle pushes for simpler US food labels",
            {"nestle", "push", "simpler", "us", "food", "label"},
            id="wire-label",
        ),
        pytest.param(
            "Tōkyō Électron wins chip deal | Nikkei Asia",
            {"tokyo", "electron", "win", "chip", "deal"},
            id="accents-and-site-name",
        ),
        pytest.param(
            "The Origins of Koreans and Their Culture - Part 2",
            {"origin", "korean", "culture", "part", "2"},
            id="part-number-is-not-a-source",
        ),
        pytest.param(
            "Trump Says U.S. Won't Add Firms",
            {"trump", "us", "wont", "add", "firm"},
            id="acronym-negation-kept",
        ),
    ],
)  # fmt: skip
def test_title_tokens(title: str, expected: set[str]) -> None:
    assert title_tokens(title) == expected


@needs_corpus
def test_the_google_news_source_suffix_never_changes_a_headlines_words() -> None:
    """Reuters headlines rebuilt from Google News all end in " - Reuters"; Reuters' own
    feed titles them without it."""
    items = corpus_items("policy/reuters-via-googlenews_2026-07.rss20.xml")
    suffixed = [item.title for item in items if item.title.endswith(" - Reuters")]
    assert len(suffixed) >= 450

    differing = [
        title
        for title in suffixed
        if title_tokens(title) != title_tokens(title.removesuffix(" - Reuters"))
        or "reuters" in title_tokens(title)
    ]

    assert differing == []


@given(st.text(max_size=300), st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_title_similarity_is_a_symmetric_score_for_any_text(a: str, b: str) -> None:
    score = title_similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == title_similarity(b, a)
    assert title_similarity(a, a) == (1.0 if title_tokens(a) else 0.0)
