"""What templates get (bot/render/views.py): feed strings shortened before a template sees them."""

from __future__ import annotations

import re

from bot.models import DigestSection, DigestView, Item
from bot.render.renderer import Renderer


def test_overlong_title_is_shortened_at_a_word_boundary(renderer: Renderer) -> None:
    words = " ".join(f"word{n}" for n in range(2000))
    item = Item(id="1", feed_id="x", title=words, link="https://example.com/1")
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    found = re.search(r"\|([^>]*)>", messages[0].blocks[2]["text"]["text"])
    assert found is not None
    label = found.group(1)
    assert label.endswith("…") and len(label) <= 250
    shown_words = label[:-1].split(" ")
    assert shown_words == words.split(" ")[: len(shown_words)]  # whole words only
