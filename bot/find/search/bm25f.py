"""BM25F term weights, computed once per posting when a doc is indexed and kept in 8 bits.

Ranking is BM25F (Robertson & Zaragoza 2009, "The Probabilistic Relevance
Framework: BM25 and Beyond", section 3.7): per term `tf~ = sum over fields of
weight * tf / (1 - b + b * length / average length)`, title weight 3, summary
weight 1, `impact = tf~ / (k1 + tf~)`, k1 = 1.2, b = 0.75; a doc scores the sum
of `idf * impact` over the query's positive terms, `idf = ln(1 + (N - df + 0.5)
/ (df + 0.5))` (Lucene's non-negative form). A phrase scores as its words, a
wildcard as its best expansion. Impacts are computed when a doc is added, with
the average lengths of that moment (a batch averaged as a whole first), and
kept in 8 bits: BM25 saturates, so the rounding is far below what ranks.
"""

from __future__ import annotations

from collections import Counter

__all__ = [  # noqa: RUF022 (constants first, then functions)
    "B",
    "IMPACT_SCALE",
    "K1",
    "LENGTH_CAP",
    "SUMMARY_WEIGHT",
    "TITLE_WEIGHT",
    "count_terms",
    "field_norms",
    "impact",
]

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 1.0
#: An impact of 1.0 is kept as this byte value.
IMPACT_SCALE = 255
#: Field lengths (in terms) are counted up to this.
LENGTH_CAP = 0xFFFF


def field_norms(
    title_len: int, summary_len: int, avg_title: float, avg_summary: float
) -> tuple[float, float]:
    """Each field's `weight / (1 - b + b * length / average length)`, title then summary."""
    norm_title = TITLE_WEIGHT / (1 - B + B * title_len / avg_title)
    norm_summary = SUMMARY_WEIGHT / (1 - B + B * summary_len / avg_summary)
    return norm_title, norm_summary


def count_terms(title: list[int], summary: list[int]) -> dict[int, int]:
    """Return term id -> (title tf << 16) + summary tf, each tf capped at 0xFFFF."""
    counts: dict[int, int] = Counter(summary[:0xFFFF])
    for term_id in title[:0xFFFF]:
        counts[term_id] = counts.get(term_id, 0) + 0x10000
    return counts


def impact(code: int, norm_title: float, norm_summary: float) -> int:
    """BM25F's saturated term weight, tf~ / (k1 + tf~), scaled to 1..255 (see the module doc)."""
    weighted = norm_title * (code >> 16) + norm_summary * (code & 0xFFFF)
    return max(1, round(IMPACT_SCALE * weighted / (K1 + weighted)))
