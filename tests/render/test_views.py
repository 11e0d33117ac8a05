"""What templates get (bot/render/views.py): feed strings shortened before a template sees them."""

from __future__ import annotations

import re

from bot.ingest.entitylist import EntityListFacts
from bot.models import DigestSection, DigestView, Item
from bot.render.renderer import Renderer
from bot.render.views import SUMMARY_LINE_CHARS, TemplateViews


def test_overlong_title_is_shortened_at_a_word_boundary(renderer: Renderer) -> None:
    words = " ".join(f"word{n}" for n in range(2000))
    item = Item(id="1", feed_id="x", title=words, link="https://example.com/1")
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    found = re.search(r"\|([^>]*)>", messages[0].blocks[3]["text"]["text"])
    assert found is not None
    label = found.group(1)
    assert label.endswith("…") and len(label) <= 250
    shown_words = label[:-1].split(" ")
    assert shown_words == words.split(" ")[: len(shown_words)]  # whole words only


def test_summary_line_is_one_short_line_and_never_just_the_title_again() -> None:
    views = TemplateViews({"x": "X"})
    long = Item(id="1", feed_id="x", title="Rule", summary="First line.\n\nSecond " + "word " * 80)
    line = views.item(long).summary_line
    assert "\n" not in line and line.startswith("First line. Second word")
    assert line.endswith("…") and len(line) <= SUMMARY_LINE_CHARS
    # News aggregators repeat the title as the summary: that says nothing new.
    echo = Item(
        id="2",
        feed_id="x",
        title="EU envoys agree 21st sanctions package - Reuters",
        summary="EU envoys agree 21st sanctions package  Reuters",
    )
    assert views.item(echo).summary_line == ""


def test_also_in_names_feeds_and_counts_those_no_longer_configured() -> None:
    views = TemplateViews({"a": "Feed A", "b": "Feed B"})
    item = Item(id="1", feed_id="a", title="T", extras={"also_in": ["b", "gone", "old", "a"]})
    assert views.item(item).also_in == ("Feed B", "2 other feeds")
    lone = Item(id="2", feed_id="a", title="T", extras={"also_in": ["gone"]})
    assert views.item(lone).also_in == ("1 other feed",)


def test_entity_list_line_is_worded_from_the_stored_facts() -> None:
    views = TemplateViews()
    # Stored before the wording said "entries": the facts are reworded, the old line ignored.
    stored = EntityListFacts(
        "additions", 2, destinations=(("Canada", 1), ("China", 1), ("Japan", 1))
    ).as_extras() | {"summary": "2 entities added: Canada 1, China 1, Japan 1"}
    item = Item(id="1", feed_id="fr-bis", title="T", extras={"entity_list": stored})
    assert views.item(item).entity_list == "2 entities added, 3 entries: Canada 1, China 1, Japan 1"
    # Facts that do not read back keep the line stored with them.
    odd = Item(id="2", feed_id="fr-bis", title="T", extras={"entity_list": {"summary": "3 added"}})
    assert views.item(odd).entity_list == "3 added"
