"""Headlines normalized and compared: `title_tokens`, `title_similarity` and the conflict rules.

Precision over recall: a wrong link hides a story (alerts, digests and search
skip duplicates); a missed one only shows it twice. Measured on the real
feeds in feeds-corpus/policy (every cross-feed pair within three days): the
pairs of one story score 1.00 (three), 0.90 ("Donor to PM Theresa May's party
..." in the Indian Express / Reuters), 0.90, 0.875 (two), 0.82 ("France's
Macron holds bilateral talks ..." / "Macron holds talks ...") and 0.80
("Peru's Congress removes interim President Jerí as he faces corruption
allegation" / "... faces a corruption probe"); the closest pair of different
stories scores 0.67 ("U.S. and Iran wrap up second round of nuclear talks" /
"US and Iran to meet for second round of nuclear talks"). 0.8 keeps all of
the former; 0.85 would lose two. Reworded headlines of one story ("Peru Votes
to Impeach President José Jerí", 0.60) are left apart. Below nine words, 0.8
tolerates one extra word but no substituted one.

Normalization (`title_tokens`): NFKC; leading wire labels ("EXCLUSIVE:",
"UPDATE 2-") and a short breadcrumb ("World › ") dropped; a trailing source
suffix (" - Reuters", " | The Japan Times": after " - ", " – ", " — " or "|",
at most five capitalized words or a domain, no digits) dropped; dotted
acronyms joined ("U.S." is "us"); then `textindex.analyze` (case and accents
folded, plurals stemmed, CJK as bigrams) and English stop words dropped. A
CJK bigram counts as half a word toward the minimum, since a 6-character
Japanese heading gives 5 bigrams but says about as much as 3 English words.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Final

from bot.find.textindex import analyze, is_cjk

__all__ = ["conflict", "content_weight", "jaccard", "title_similarity", "title_tokens"]


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP_WORDS = _word_set(
    """
    a an the and or but if of to in on at for from by with as into onto over under
    about after before amid among via per than then so is are was were be been being
    am it its this that these those there here he she they them his her their we our
    you your i me my has have had will would can could may might shall should
    says say said
    """
)
# Kept as content words, and a one-sided one blocks a match.
_NEGATIONS = _word_set(
    """
    not no never nor without non wont dont doesnt didnt cant cannot isnt wasnt arent
    werent wouldnt shouldnt hasnt havent
    """
)
# Pairs of opposite actions, as `analyze` leaves them (plurals stemmed, other
# inflections listed). A title with a word of one side, against a title with a
# word of the other side that the first lacks, is a different story: "US adds
# 12 Chinese firms to Entity List" / "US removes 12 Chinese firms from Entity
# List". A word may sit in several pairs ("lift" sanctions, "lift" forecasts).
_OPPOSITE_PAIRS = (
    (
        "add added adding addition",
        "remove removed removing removal delist delisted delisting drop dropped dropping",
    ),
    (
        "impose imposed imposing imposition introduce introduced",
        "lift lifted lifting scrap scrapped revoke revoked rescind rescinded withdraw withdrew"
        " withdrawn suspend suspended waive waived",
    ),
    (
        "raise raised raising hike hiked increase increased increasing rise rose risen rising"
        " gain gained boost boosted jump jumped surge surged climb climbed higher lift lifted",
        "cut cutting lower lowered lowering reduce reduced reducing decrease decreased fall fell"
        " fallen falling drop dropped slash slashed slump slumped plunge plunged decline"
        " declined",
    ),
    (
        "approve approved approving approval accept accepted grant granted pass passed"
        " endorse endorsed",
        "reject rejected rejecting rejection deny denied block blocked veto vetoed oppose"
        " opposed refuse refused",
    ),
    ("win won winning victory", "lose lost losing defeat defeated loss"),
    (
        "tighten tightened tightening tighter strengthen strengthened expand expanded"
        " expansion toughen toughened stricter",
        "loosen loosened loosening relax relaxed relaxing ease eased easing narrow narrowed"
        " weaken weakened looser",
    ),
    (
        "ban banned banning prohibit prohibited bar barred forbid forbidden",
        "allow allowed allowing permit permitted unban unbanned authorize authorized",
    ),
    (
        "open opened opening reopen reopened resume resumed start started begin began"
        " launch launched",
        "close closed closing shut shutdown halt halted end ended stop stopped suspend suspended",
    ),
    ("join joined joining enter entered", "leave left quit exit exited withdraw withdrew"),
    (
        "buy bought buying acquire acquired purchase purchased",
        "sell sold selling divest divested",
    ),
    ("guilty convicted conviction", "acquitted acquittal innocent cleared"),
    ("confirm confirmed", "deny denied"),
    ("arrest arrested detain detained jail jailed", "release released free freed"),
)
_OPPOSITES: Final = tuple((_word_set(left), _word_set(right)) for left, right in _OPPOSITE_PAIRS)

# Wire labels before a headline: "EXCLUSIVE: ...", "UPDATE 2-...", "Analysis: ...".
_LABEL_PREFIX = re.compile(
    r"^(?:(?:update|wrapup|corrected|refile|exclusive|breaking|analysis|factbox|explainer"
    r"|insight|video|live|watch)(?:\s+\d{1,2})?\s*[:\-–—]\s*)+",
    re.IGNORECASE,
)
# A short breadcrumb before a headline: "World › Trump says ...".
_BREADCRUMB = re.compile(r"^\s*[^›»\s](?:[^›»]{0,30}?)\s+[›»]\s+")
# The last " - X" / " | X" segment; judged by `_is_source_name`.
_SUFFIX = re.compile(r"^(?P<head>.*\S)\s*(?:\s[-–—]\s|\|)\s*(?P<tail>(?:(?!\s[-–—]\s)[^|])+?)\s*$")
_DOTTED_ACRONYM = re.compile(r"\b[A-Za-z](?:\.[A-Za-z])+\b\.?")
_CONNECTORS = frozenset({"of", "the", "and", "de", "la", "le", "du", "der", "&", "for", "on"})
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")


def title_tokens(title: str) -> frozenset[str]:
    """The content words of a headline, normalized for comparison (see the module docstring).

    >>> sorted(title_tokens("U.S. adds 12 Chinese firms to Entity List - Reuters"))
    ['12', 'add', 'chinese', 'entity', 'firm', 'list', 'us']
    """
    text = unicodedata.normalize("NFKC", title).strip()
    text = _LABEL_PREFIX.sub("", text)
    crumb = _BREADCRUMB.match(text)
    if crumb and len(crumb.group().split()) <= 4 and len(text) > crumb.end():
        text = text[crumb.end() :]
    for _ in range(2):  # "Headline | Section | Site"
        text = _drop_source_suffix(text)
    text = _DOTTED_ACRONYM.sub(lambda m: m.group().replace(".", ""), text)
    # Interned: the same words recur in thousands of held titles.
    return frozenset(
        sys.intern(token)
        for token in analyze(text)
        if token not in _STOP_WORDS
        and not (len(token) == 1 and token.isascii() and token.isalpha())
    )


def _drop_source_suffix(text: str) -> str:
    match = _SUFFIX.match(text)
    if match is None:
        return text
    head, tail = match.group("head"), match.group("tail")
    long_enough = len(head.split()) >= 3 or sum(map(is_cjk, head)) >= 6
    if not long_enough or not _is_source_name(tail, cjk_ok="|" in text[len(head) :]):
        return text
    return head.rstrip(" -–—|:")


def _is_source_name(tail: str, *, cjk_ok: bool) -> bool:
    """Whether a trailing segment looks like a publication's name rather than part of a title.

    Capitalized words without digits ("Reuters", "The Japan Times", "Evans
    Revere" too: a speaker's name looks the same), or a domain
    ("finanzen.net"). After "|", a short CJK name ("日本経済新聞") as well.
    """
    words = tail.split()
    if not 1 <= len(words) <= 5 or any(ch.isdigit() for ch in tail):
        return False
    if len(words) == 1 and _DOMAIN.match(words[0]):
        return True
    if cjk_ok and len(tail) <= 12 and all(is_cjk(ch) or ch.isspace() for ch in tail):
        return True
    return all(word[:1].isupper() or word.lower() in _CONNECTORS for word in words)


def content_weight(tokens: frozenset[str]) -> float:
    """How many content words these title tokens count for: a CJK bigram is half a word."""
    if all(token.isascii() for token in tokens):
        return float(len(tokens))
    return sum(0.5 if is_cjk(token) else 1.0 for token in tokens)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Token-set Jaccard, shared / all; 0.0 when either side is empty."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def title_similarity(a: str, b: str) -> float:
    """Jaccard of two headlines' `title_tokens`, 0.0 when either has none."""
    return jaccard(title_tokens(a), title_tokens(b))


def conflict(a: frozenset[str], b: frozenset[str]) -> str | None:
    """Why two similar titles are nonetheless different stories, or None."""
    only_a, only_b = a - b, b - a
    if (only_a | only_b) & _NEGATIONS:
        return "a negation on one side"
    for left, right in _OPPOSITES:
        if (only_a & left and only_b & right) or (only_a & right and only_b & left):
            return "opposite actions"
    if any(_has_digit(t) for t in only_a) and any(_has_digit(t) for t in only_b):
        return "different numbers"
    return None


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)
