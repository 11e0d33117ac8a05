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
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["analyze", "fold_text", "is_cjk", "stem_token", "tokenize", "tokenize_folded"]

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
# is "a word character but not the underscore".
_TOKEN_RE = re.compile(
    rf"(?P<cjk>[{_CJK_CLASS}]+)"
    rf"|(?P<word>[^\W_{_CJK_CLASS}]+(?:['’][^\W_{_CJK_CLASS}]+)*)"
)
_CJK_RE = re.compile(rf"[{_CJK_CLASS}]")

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


def is_cjk(token: str) -> bool:
    """Return whether `token` is made of CJK characters (a bigram or a single character)."""
    return _CJK_RE.match(token) is not None


def tokenize(text: str) -> list[str]:
    """Split `text` into folded, unstemmed tokens (CJK runs as overlapping bigrams)."""
    return tokenize_folded(fold_text(text))


def tokenize_folded(folded: str) -> list[str]:
    """Tokenize text that `fold_text` already folded (saves folding twice)."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(folded):
        run = match.group("cjk")
        if run is not None:
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            continue
        word = match.group("word")
        if "'" in word or "’" in word:
            word = word.replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            word = word.replace("'", "")
        tokens.append(word)
    return tokens


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
