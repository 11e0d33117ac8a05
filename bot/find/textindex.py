"""Text analysis shared by query matching and the search index: fold, tokenize, stem.

`analyze(text)` is the one function both sides must call, so that a query term
and a document token meet in the same normal form:

1. Fold: NFKC (full-width "ＩＰＥＦ" becomes "IPEF", ligatures split), case-fold
   ("ß" becomes "ss"), then NFKD and drop the combining diacritical marks
   ("Économie" becomes "economie"), plus a few Latin letters that carry no
   decomposition ("ø", "ł", "æ"). Marks outside the Latin diacritic blocks are
   kept: the Japanese voicing marks (U+3099, U+309A) distinguish words, so "ガ"
   stays "ガ".
2. Tokenize: runs of letters and digits. An apostrophe inside a word is kept
   out ("don't" is "dont") and a possessive "'s" is dropped ("China's" is
   "china"). Hyphens, dots and colons split ("Indo-Pacific" is two tokens,
   which a query matches as a phrase).
3. CJK: Chinese, Japanese and Korean runs carry no spaces between words, so a
   run is cut into overlapping bigrams ("半導体" gives "半導", "導体"), the
   usual approach of search engines (Lucene's CJKBigramFilter). A phrase of
   bigrams at consecutive positions is then exactly a substring of the run; a
   run of one character is kept as that character.
4. Stem: a light English stemmer for plurals only ("entities" is "entity",
   "chips" is "chip", "addresses" is "address"); see `stem_token`. Verbs and
   other suffixes are left alone so matches stay predictable.

Speed: steps 1 and 2 run a regex with large character classes (about 150 us
per news item). `fold_and_tokenize` gives the same result 4-5 times faster
for text made of ASCII and common punctuation only (most English news) by
splitting with a translation table; any other text takes the regex. The
search index tokenizes every stored item with it; a property test in
tests/test_search.py holds the two paths equal.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

__all__ = [
    "analyze",
    "ascii_token_spans",
    "feeds_by_tag",
    "fold_and_tokenize",
    "fold_text",
    "is_cjk",
    "stem_token",
    "tokenize",
    "tokenize_folded",
]

# Blocks of combining marks that are accents on Latin, Greek and Cyrillic
# letters; dropping them folds "é" to "e". Other combining marks (Japanese
# voicing marks, Indic vowel signs) change the letter and are kept.
_DIACRITIC_RANGES = (
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x1AB0, 0x1AFF),  # Combining Diacritical Marks Extended
    (0x1DC0, 0x1DFF),  # Combining Diacritical Marks Supplement
    (0x20D0, 0x20FF),  # Combining Diacritical Marks for Symbols
    (0xFE20, 0xFE2F),  # Combining Half Marks
)

# Letters NFKD does not decompose but readers treat as accented base letters.
_LETTER_FOLDS = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "ħ": "h",
    "ı": "i",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}

_FOLD_TABLE: dict[int, str | None] = {
    code: None for start, end in _DIACRITIC_RANGES for code in range(start, end + 1)
}
_FOLD_TABLE.update({ord(letter): base for letter, base in _LETTER_FOLDS.items()})

# Han (with extensions and compatibility ideographs), kana, Hangul, and the
# iteration marks 々 〆 that belong inside Japanese words.
_CJK_CLASS = (
    "\u3005\u3006\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uf900-\ufaff\U00020000-\U0003134f"
)


# A CJK run, or a run of other letters/digits with inner apostrophes. `[^\W_]`
# is "a word character but not the underscore". Both are compiled when first
# needed, by non-ASCII text (8 ms: the configuration's topic queries, read by
# every command, are ASCII as a rule).
@functools.cache
def _token_re() -> re.Pattern[str]:
    return re.compile(
        rf"(?P<cjk>[{_CJK_CLASS}]+)"
        rf"|(?P<word>[^\W_{_CJK_CLASS}]+(?:['’][^\W_{_CJK_CLASS}]+)*)"
    )


@functools.cache
def _cjk_re() -> re.Pattern[str]:
    return re.compile(rf"[{_CJK_CLASS}]")


# Text made of ASCII and these punctuation marks only (what English news
# carries) tokenizes exactly as `tokenize_folded` does, with a table and
# str.split() instead of its regex: none of these is a word character, and
# "’" is an apostrophe there too. Other text goes through the regex.
_FAST_PUNCTUATION = (
    "\u00a0\u00ab\u00b0\u00b7\u00bb\u2010\u2011\u2012\u2013\u2014\u2015"
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2022\u2026\u20ac"
)
_FAST_TEXT_RE = re.compile(f"[\x00-\x7f{_FAST_PUNCTUATION}]*")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")
# Every character of fast text that is not [a-z0-9'] becomes a space, "’" an "'".
_SPLIT_TRANSLATION = str.maketrans(
    {chr(code): " " for code in range(128) if chr(code) not in _WORD_CHARS}
    | dict.fromkeys(_FAST_PUNCTUATION, " ")
    | {"’": "'"}
)
_SPLIT_BYTES = bytes(code if chr(code) in _WORD_CHARS else 32 for code in range(256))
# A word with inner apostrophes, as `_token_re` reads it (after "’" became "'").
_ASCII_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
# What `_token_re` reads as a word in ASCII text (any case).
_ASCII_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*")

# Words ending in "s" that are not plurals, or whose plural rule would mangle
# them; they are kept as they are.
_INVARIANT = frozenset(
    {
        "always",
        "news",
        "series",
        "species",
        "perhaps",
        "whereas",
        "overseas",
        "headquarters",
        "does",
        "goes",
        "lens",
    }
)
# Plurals no suffix rule gets right.
_IRREGULAR = {
    "crises": "crisis",
    "analyses": "analysis",
    "theses": "thesis",
    "indices": "index",
    "matrices": "matrix",
    "criteria": "criterion",
    "phenomena": "phenomenon",
    "children": "child",
    "women": "woman",
    "men": "man",
    "caches": "cache",
    "niches": "niche",
    "canoes": "canoe",
}


def fold_text(text: str) -> str:
    """Return `text` case-folded, with full-width forms and Latin accents folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded).translate(_FOLD_TABLE)
    return unicodedata.normalize("NFC", decomposed)


def feeds_by_tag(feed_tags: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """The feeds of each tag, the tag folded as `tag:` filters compare it."""
    by_tag: dict[str, set[str]] = {}
    for feed, values in feed_tags.items():
        for value in values:
            by_tag.setdefault(fold_text(value).strip(), set()).add(feed)
    return by_tag


def is_cjk(token: str) -> bool:
    """Return whether `token` is made of CJK characters (a bigram or a single character)."""
    return bool(token) and not token[0].isascii() and _cjk_re().match(token) is not None


def tokenize(text: str) -> list[str]:
    """Split `text` into folded, unstemmed tokens (CJK runs as overlapping bigrams)."""
    return tokenize_folded(fold_text(text))


def tokenize_folded(folded: str) -> list[str]:
    """Tokenize text that `fold_text` already folded (saves folding twice)."""
    if folded.isascii():  # the words `_token_re` finds in ASCII text, without compiling it
        return [_drop_apostrophes(w) if "'" in w else w for w in _ASCII_TOKEN_RE.findall(folded)]
    tokens: list[str] = []
    for match in _token_re().finditer(folded):
        run = match.group("cjk")
        if run is not None:
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            continue
        word = match.group("word")
        if "'" in word or "’" in word:
            word = _drop_apostrophes(word)
        tokens.append(word)
    return tokens


def fold_and_tokenize(text: str) -> tuple[str, list[str]]:
    """Return `(fold_text(text), tokenize(text))`, faster for ASCII-like text.

    fold_text is NFKC and case folding, then (for non-ASCII text) NFKD,
    dropping accents and NFC again; none of the fast punctuation decomposes
    or carries an accent, so fast text is done after the first step.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        words = folded.translate(_SPLIT_TRANSLATION).split()
    elif _FAST_TEXT_RE.fullmatch(folded) is not None:
        # Every non-ASCII character left is punctuation, a space once split
        # (bar "’", an apostrophe): bytes.translate does that in one C loop.
        words = (
            folded.replace("’", "'")
            .encode("ascii", "replace")
            .translate(_SPLIT_BYTES)
            .decode("ascii")
            .split()
        )
    else:
        folded = fold_text(text)
        return folded, tokenize_folded(folded)
    return folded, _split_apostrophes(words) if "'" in folded or "’" in folded else words


def ascii_token_spans(text: str) -> list[tuple[str, int, int]]:
    """Return (token, start, end) of each token of ASCII `text`, offsets in `text`.

    The tokens are those of `tokenize(text)`: folding ASCII only lowers its
    case, so offsets in the folded text hold in the original.
    """
    return [
        (_drop_apostrophes(match.group()), match.start(), match.end())
        for match in _ASCII_WORD_RE.finditer(text.lower())
    ]


def _split_apostrophes(words: list[str]) -> list[str]:
    tokens: list[str] = []
    for word in words:
        if "'" in word:
            # "'quoted'" and "a''b" split as the regex does, then "China's" is "china".
            tokens.extend(_drop_apostrophes(part) for part in _ASCII_WORD_RE.findall(word))
        else:
            tokens.append(word)
    return tokens


def _drop_apostrophes(word: str) -> str:
    # A possessive "'s" goes ("China's" is "china"), other apostrophes too ("don't" is "dont").
    if "'" not in word and "’" not in word:
        return word
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return word.replace("'", "")


def stem_token(token: str) -> str:
    """Return the singular of an English plural token; anything else unchanged.

    Rules, in order (in the spirit of Harman's S-stemmer, 1991, adjusted so that
    singular and plural meet): words under four letters, words with digits or
    non-ASCII letters, and a few invariant words stay; "-ies" becomes "-y"
    ("policies"); "-sses", "-xes", "-ches", "-shes", "-zzes" lose "-es"
    ("addresses", "boxes"), and so do "-oes" words over five letters
    ("embargoes", "vetoes"; "shoes" keeps its "e"); otherwise a final "s"
    goes unless the word ends in "ss", "us" or "is" ("status", "crisis", "us"
    stay). "ipef" has no "s" and stays.
    """
    if len(token) < 4 or not token.isascii() or not token.isalpha():
        return token
    irregular = _IRREGULAR.get(token)
    if irregular is not None:
        return irregular
    if not token.endswith("s") or token in _INVARIANT:
        return token
    if token.endswith("ies") and len(token) > 4 and token[-4] not in "ae":
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "ches", "shes", "zzes")) or (
        token.endswith("oes") and len(token) > 5
    ):
        return token[:-2]
    if token.endswith(("ss", "us", "is")):
        return token
    return token[:-1]


def analyze(text: str) -> list[str]:
    """Return the index terms of `text`: tokenized, folded and stemmed, in order."""
    return [stem_token(token) for token in tokenize(text)]
