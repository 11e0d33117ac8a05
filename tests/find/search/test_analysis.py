"""The index's fast analysis equals the query module's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.find.query.document import prepare_doc
from bot.find.search.analysis import prepare_doc_fast
from bot.find.textindex import fold_and_tokenize, fold_text, tokenize
from tests.find.search.sample import make_item

ASCII_LIKE = "abcXYZ019 '-.,\n\t_"
# Punctuation the fast path handles, and characters that fold into ASCII (or
# out of it): NBSP, non-breaking hyphen, ellipsis, ligature, full-width A,
# German sharp s, dotted capital I.
PUNCTUATION = "’‘“”—–…«»°·•€\u00a0\u2011ﬁＡßİ"
ANYTHING = "éÉıøŒ経済安全ガ\u3099한국\u0301"
TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(ASCII_LIKE), max_size=40),
    st.text(alphabet=st.sampled_from(ASCII_LIKE + PUNCTUATION), max_size=40),
    st.text(alphabet=st.sampled_from(ASCII_LIKE + PUNCTUATION + ANYTHING), max_size=40),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, summary=TEXT)
def test_fast_analysis_equals_the_query_modules(title: str, summary: str) -> None:
    assert fold_and_tokenize(summary) == (fold_text(summary), tokenize(summary))
    item = make_item(1, title, summary, tags=("US ",))
    assert prepare_doc_fast(item, ("Asia",)) == prepare_doc(item, feed_tags=("Asia",))
