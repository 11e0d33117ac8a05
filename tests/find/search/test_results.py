"""What a search returns: marking spans."""

from __future__ import annotations

from bot.find.search.results import mark_spans


def test_mark_spans_escapes_around_marks() -> None:
    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;")

    marked = mark_spans("R&D <chips> & gallium", [(5, 10), (14, 21)], lambda s: f"*{s}*", escape)
    assert marked == "R&amp;D &lt;*chips*> &amp; *gallium*"
