"""Text analysis shared by the query language and the search index."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.find.textindex import analyze, fold_text, stem_token, tokenize

# ---------------------------------------------------------------------------
# Text analysis shared with the search index


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("entities", "entity"),
        ("controls", "control"),
        ("chips", "chip"),
        ("policies", "policy"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("searches", "search"),
        ("embargoes", "embargo"),
        ("shoes", "shoe"),
        ("ties", "tie"),
        ("crises", "crisis"),
        ("us", "us"),
        ("gas", "gas"),
        ("ipef", "ipef"),
        ("series", "series"),
        ("news", "news"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("address", "address"),
        ("1990s", "1990s"),
    ],
)
def test_stem_token(word: str, stem: str) -> None:
    assert stem_token(word) == stem


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Économie, ＩＰＥＦ & Straße!", ["economie", "ipef", "strasse"]),
        ("China's don't Indo-Pacific U.S.", ["china", "dont", "indo", "pacific", "u", "s"]),
        ("snake_case 10:30", ["snake", "case", "10", "30"]),
        ("AI半導体", ["ai", "半導", "導体"]),
        ("株 ガス", ["株", "ガス"]),
        ("ﬁnance", ["finance"]),
    ],
)
def test_tokenize(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_fold_keeps_japanese_voicing_marks() -> None:
    assert fold_text("ガス") == "ガス"  # not カス
    assert fold_text("Ｃａｆé") == "cafe"


def test_analyze_stems_after_tokenizing() -> None:
    assert analyze("Export Controls on Entities") == ["export", "control", "on", "entity"]


@given(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=12))
def test_stemming_is_idempotent(word: str) -> None:
    assert stem_token(stem_token(word)) == stem_token(word)


@given(st.text(alphabet=string.printable + "’", max_size=40))
def test_ascii_text_is_tokenized_as_the_unicode_rule_reads_it(text: str) -> None:
    # ASCII text skips the Unicode regex (compiled only when first needed, 8 ms):
    # the same tokens, whatever the case, digits, apostrophes and punctuation.
    from bot.find.textindex import _token_re, tokenize_folded

    expected = []
    for match in _token_re().finditer(text):
        word = match.group("word") or match.group("cjk")
        word = word.replace("’", "'")
        word = word[:-2] if word.endswith("'s") else word
        expected.append(word.replace("'", ""))
    if text.isascii():
        assert tokenize_folded(text) == expected


@pytest.mark.parametrize(
    ("token", "cjk"),
    [("安全", True), ("告", True), ("ab", False), ("", False), ("é", False), ("a安", False)],
)
def test_is_cjk_reads_the_first_character(token: str, cjk: bool) -> None:
    from bot.find.textindex import is_cjk

    assert is_cjk(token) is cjk
