"""Watchlists: does a watched name appear in a name, a list of names, or a text? (pure)

A watched name matches however a company or person is written. Both sides are
folded the same way (`fold_name`) before they are compared:

- transliterated to ASCII (anyascii: "Türkiye" -> "turkiye", Cyrillic to Latin),
  case folded, "&" read as "and", punctuation dropped ("Co.," -> "co");
- legal forms dropped: "Co., Ltd.", "Company Limited", "LLC", "GmbH", "OOO", ...
  so "Huawei Technologies Co., Ltd." and "HUAWEI TECHNOLOGIES COMPANY LIMITED" are
  both "huawei technologies";
- common spelling variants of transliterated names folded ("Mohammed", "Muhammad"
  and "Mohamad" alike; "kh"/"h", "ph"/"f", "ou"/"u", "y"/"i", "x"/"ks", doubled
  letters).

Then rapidfuzz scores the watched name against the best-aligned run of WHOLE
words of the other side (`score`): 100 when the watched words appear as they
are, less for a letter or two off. So "Huawei" matches "Huawei Technologies
Co., Ltd." (the company's subsidiaries are what an analyst watching it wants to
hear about) and "Hua" does not (it is part of a word). A name shorter than the
watched one is compared whole (`fuzz.ratio`).

THRESHOLD is shown by `/brief watches` and was chosen on a labelled set of
pairs from the real 2018 CSL (tests/brief/test_watch.py, which counts misses
and false positives); names that fold to fewer than MIN_CHARS letters match
only exactly (a two-letter watch would hit half the list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["MIN_CHARS", "THRESHOLD", "NameHit", "WatchTarget", "best_hit", "fold_name", "score"]

#: Lowest score that counts as a match (0-100).
THRESHOLD = 92
#: A folded name shorter than this matches only a whole equal name.
MIN_CHARS = 4
# Two words are the same word from this ratio on; two names without spaces from this.
_WORD_SAME = 75
# Words this short (acronyms: "VNIIEF" / "VNIITF" fold to "vnief" / "vnitf") match only exactly.
_SHORT_WORD = 5
_JOINED_SAME = 96
MAX_TEXT = 20_000

_LEGAL_FORMS = frozenset(
    re.findall(
        r"\w+",
        "co company companies corp corporation inc incorporated ltd limited llc llp lp plc "
        "gmbh ag sa sarl srl spa bv nv ab oy as pte pvt private pty sdn bhd kk kg ooo oao zao "
        "ojsc cjsc pjsc jsc fze fzc fzco fz est establishment",
    )
)
_NAME_VARIANTS = {
    "mohammed": "muhammad",
    "mohammad": "muhammad",
    "mohamed": "muhammad",
    "mohamad": "muhammad",
    "muhammed": "muhammad",
    "mohd": "muhammad",
    "abdul": "abd",
    "abdel": "abd",
    "abdal": "abd",
}
_FOLDS = (("kh", "h"), ("ph", "f"), ("ou", "u"), ("y", "i"), ("ee", "i"), ("q", "k"), ("x", "ks"))
_NON_WORD = re.compile(r"[^a-z0-9]+")
_JOINERS = re.compile(r"['’.]")
_AMPERSAND = re.compile(r"(?<=\b[a-z])&(?=[a-z]\b)")
_NUMBER = re.compile(r"\d+")
_DOUBLED = re.compile(r"([a-z])\1+")


def fold_name(text: str) -> str:
    """`text` as compared: ASCII, lower case, no punctuation or legal forms, variants folded."""
    from anyascii import anyascii  # with rapidfuzz, 13 ms that a poll without watches skips

    plain = anyascii(text[:MAX_TEXT]).casefold()
    # "Xi'an" is "xian", "L.L.C." is "llc", "M&P" is "mp"; "Parts & Support" is "parts support".
    plain = _AMPERSAND.sub("", _JOINERS.sub("", plain))
    words = []
    for word in _NON_WORD.split(plain):
        if not word or word in _LEGAL_FORMS or word == "and":
            continue
        word = _NAME_VARIANTS.get(word, word)
        for old, new in _FOLDS:
            word = word.replace(old, new)
        words.append(_DOUBLED.sub(r"\1", word))
    return " ".join(words)


def score(watched: str, other: str) -> float:
    """How well the folded `watched` matches whole words of the folded `other` (0-100)."""
    if not watched or not other:
        return 0.0
    if len(watched.replace(" ", "")) < MIN_CHARS:
        return 100.0 if f" {watched} " in f" {other} " else 0.0
    whole = _agreement(watched, other)
    if whole >= THRESHOLD or len(other) <= len(watched):
        return whole
    from rapidfuzz import fuzz

    aligned = fuzz.partial_ratio_alignment(watched, other, score_cutoff=THRESHOLD - 15)
    if aligned is None:
        return 0.0
    # Widen the aligned run to whole words, then score that run.
    start = other.rfind(" ", 0, aligned.dest_start + 1) + 1
    end = other.find(" ", max(aligned.dest_end - 1, start))
    return _agreement(watched, other[start:] if end < 0 else other[start:end])


def _agreement(watched: str, other: str) -> float:
    """The similarity of two folded names, 0 unless numbers and words agree.

    Numbers are identity ("33 Institute" is not "35 Institute", nor CETC 14 CETC 54),
    short words (acronyms) must be equal, and longer ones close: a long shared head
    ("China Electronics Technology Group Corporation 13th Research Institute ...
    Subordinate Institution - ") must not
    carry two different subsidiaries over the threshold. Words split or joined
    differently ("Abd-al-Ghafur", "Abd al Ghafur") are compared without spaces.
    """
    if _NUMBER.findall(watched) != _NUMBER.findall(other):
        return 0.0
    from rapidfuzz import fuzz

    mine, theirs = watched.split(), other.split()
    if len(mine) != len(theirs):
        joined = fuzz.ratio("".join(mine), "".join(theirs))
        if joined >= _JOINED_SAME:
            return float(joined)
    for word in mine:
        if len(word) <= _SHORT_WORD:
            if word not in theirs and len(word) >= 3:
                return 0.0
        elif not any(fuzz.ratio(word, t) >= _WORD_SAME for t in theirs):
            return 0.0
    return float(fuzz.ratio(watched, other))


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """A watched name (and the aliases it was recorded with), folded once."""

    key: str  # the watch's id
    names: tuple[str, ...]

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(f for f in dict.fromkeys(fold_name(n) for n in self.names) if f)


@dataclass(frozen=True, slots=True)
class NameHit:
    """The best match of a watched name: which of its names, against what, how well."""

    watched: str
    found: str
    score: float


def best_hit(
    target: WatchTarget, candidates: Iterable[str], *, threshold: float = THRESHOLD
) -> NameHit | None:
    """The best-scoring candidate at or over `threshold` for any of the target's names."""
    best: NameHit | None = None
    folded = list(zip(target.names, (fold_name(n) for n in target.names), strict=True))
    for candidate in candidates:
        other = fold_name(candidate)
        for name, mine in folded:
            value = score(mine, other)
            if value >= threshold and (best is None or value > best.score):
                best = NameHit(name, candidate, value)
                if value >= 100:
                    return best
    return best


def matching(
    targets: Sequence[WatchTarget], candidates: Sequence[str], *, threshold: float = THRESHOLD
) -> list[tuple[WatchTarget, NameHit]]:
    """Each target with its best hit among `candidates`, for those that have one."""
    found = []
    for target in targets:
        hit = best_hit(target, candidates, threshold=threshold)
        if hit is not None:
            found.append((target, hit))
    return found
