"""bot/ingest/identity.py: the variants of a link release 0.1 may have stored, as they were.

`_variants_before` is the code that made them until it was rewritten for speed;
the keys looked up for release 0.1's items must stay byte for byte the same.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.ingest.identity import _variants

_PIECES = st.sampled_from(
    ["http", "https", "HTTP", "hTtPs", "ftp", "://", ":/", "/", "//", "?", "#", "a", "b.c", "é"]
)


def _variants_before(url: str) -> tuple[str, ...]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return (url,)
    other = "https" if scheme.lower() == "http" else "http"
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    where, tail = rest[:cut], rest[cut:]
    wheres = [where]
    slash = where.find("/")
    if slash >= 0 and where[slash:] != "/":
        wheres.append(where[:-1] if where.endswith("/") else f"{where}/")
    return tuple(dict.fromkeys(f"{s}://{w}{tail}" for s in (scheme, other) for w in wheres))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.lists(_PIECES, max_size=10).map("".join), st.text(max_size=30)))
@example("https://example.com/a/?b#c")
@example("HTTP://example.com/#x?y")
@example("https://example.com/")
def test_the_variants_are_those_made_before(url: str) -> None:
    assert _variants(url) == _variants_before(url)
