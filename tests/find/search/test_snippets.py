"""Snippets and highlight spans."""

from __future__ import annotations

import pytest

from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.find.search.snippets import SNIPPET_CHARS
from bot.ingest.parse import parse_feed
from bot.models import replace
from tests.find.search.sample import NOW, make_item, search
from tests.find.search.sample import searchable as index_of
from tests.support import paths

pytestmark = pytest.mark.usefixtures("search_backend")

FIXTURES = paths.FIXTURES / "feeds"


# --------------------------------------------------------------------------- snippets

LONG_SUMMARY = (
    "The Department of Commerce published a long notice about many unrelated matters, "
    "including the fees schedule for licence applications, the hours of the public reading "
    "room and the address for correspondence. Buried in the middle is a change to gallium "
    "export licensing that matters to compound semiconductor makers in several countries. "
    "The rest of the notice concerns paperwork reduction, the regulatory flexibility act "
    "and the executive orders that govern how agencies publish rules."
)


def test_snippet_is_a_bounded_window_around_the_first_match() -> None:
    hit = search(index_of(make_item(1, "Commerce notice", LONG_SUMMARY)), "gallium").hits[0]
    assert len(hit.snippet) <= SNIPPET_CHARS + 2
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    start, end = hit.spans[0]
    assert hit.snippet[start:end] == "gallium"
    inner = hit.snippet.strip("…")
    position = LONG_SUMMARY.index(inner)
    # Cut on word boundaries: a space (or the text's edge) on each side.
    assert LONG_SUMMARY[position - 1] == " "
    assert LONG_SUMMARY[position + len(inner)] == " "


def test_snippet_marks_every_form_of_the_terms() -> None:
    summary = "Export controls on chips: the export control rule names a chip maker."
    hit = search(index_of(make_item(1, "Rule", summary)), 'chips "export controls"').hits[0]
    marked = [hit.snippet[s:e] for s, e in hit.spans]
    assert marked == ["Export controls", "chips", "export control", "chip"]
    assert hit.snippet == summary


def test_title_only_match_shows_the_summary_start_and_marks_the_title() -> None:
    summary = LONG_SUMMARY.replace("gallium", "metal")
    hit = search(index_of(make_item(1, "New gallium curbs", summary)), "gallium").hits[0]
    assert hit.spans == ()
    assert hit.snippet.endswith("…") and summary.startswith(hit.snippet[:-1])
    assert hit.title_spans == ((4, 11),)


def test_snippet_falls_back_to_the_title_without_summary() -> None:
    hit = search(index_of(make_item(1, "Rare earth magnets and the IPEF")), "ipef").hits[0]
    assert hit.snippet == "Rare earth magnets and the IPEF"
    assert [hit.snippet[s:e] for s, e in hit.spans] == ["IPEF"]


def test_real_entity_list_rules_are_found_and_marked() -> None:
    parsed = parse_feed(
        "fr-bis", (FIXTURES / "fr-entity-list.rss").read_bytes(), fetched_at=NOW, time_limit=None
    )
    items = [replace(item, seq=seq) for seq, item in enumerate(parsed.items, 1)]
    index = index_of(*items)
    results = search(index, '"entity list" china', limit=20)
    assert results.total == sum(
        parse_query('"entity list" china').matches(prepare_doc(i), now=NOW) for i in items
    )
    assert results.total >= 5
    for hit in results.hits:
        marked = {hit.snippet[s:e].lower() for s, e in hit.spans}
        assert marked & {"entity list", "china"}
        assert len(hit.snippet) <= SNIPPET_CHARS + 2


def test_non_ascii_text_is_marked_in_place_hit_after_hit() -> None:
    """A non-ASCII summary is analyzed word by word (folding changes lengths: "ﬁ" is
    "fi"), its words recalled from a cache by the next hit: the same marks each time."""
    summary = "China’s ﬁnal export controls — the ﬁrms’ chips, ﬁnal."
    items = [make_item(seq, f"Notice {seq}", summary) for seq in (1, 2, 3)]
    for hit in search(index_of(*items), 'final chips "export controls"').hits:
        marked = [hit.snippet[s:e] for s, e in hit.spans]
        assert marked == ["ﬁnal", "export controls", "chips", "ﬁnal"]
