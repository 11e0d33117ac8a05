"""Block Kit from templates and packing into messages (bot/render/blocks.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.models import DigestSection, DigestView, Item, SlackMessage
from bot.render.blocks import EMPTY_TEXT, TemplateOutput, messages_of, pack_messages
from bot.render.renderer import Renderer
from bot.render.slacklimits import (
    MAX_BLOCKS,
    MAX_BLOCKS_CHARS,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    block_size,
    blocks_size,
    text_length,
    validate_message,
)
from tests.render.cases import DATE_LABEL, write


def test_every_mrkdwn_text_is_verbatim(renderer: Renderer) -> None:
    # verbatim: Slack does not auto-link "@here", "#general" or bare URLs in feed text.
    item = Item(id="1", feed_id="x", title="ping @here in #general, see example.com")
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    objects = [b["text"] for b in messages[0].blocks if b["type"] == "section"]
    assert objects and all(o["type"] == "mrkdwn" and o["verbatim"] is True for o in objects)


def test_one_item_that_alone_breaks_a_limit_is_cut_not_dropped(tmp_path: Path) -> None:
    # An override printing the raw stored summary: one section far past 3,000.
    write(
        tmp_path,
        "digest.j2",
        '{{ header(date_label ~ " " ~ ("long " * 100)) }}\n'
        "{% for s in sections %}{% for i in s.items %}"
        "{% call section() %}{{ link(i.url, i.title) }} {{ i.item.summary }}{% endcall %}"
        "{% endfor %}{% endfor %}\n",
    )
    big = Item(
        id="1",
        feed_id="x",
        title="Big & <rule>",
        summary="lorem & ipsum " * 2000,
        link="https://example.com/big",
    )
    renderer = Renderer(str(tmp_path))
    (msg,) = renderer.render_digest(DigestView("C", DATE_LABEL, (DigestSection("t", "T", (big,)),)))
    header, section = msg.blocks[0]["text"]["text"], msg.blocks[1]["text"]["text"]
    assert header.startswith(DATE_LABEL) and header.endswith("long…") and len(header) <= 150
    assert section.startswith("<https://example.com/big|Big &amp; &lt;rule&gt;> lorem &amp; ipsum")
    full = "<https://example.com/big|Big &amp; &lt;rule&gt;> " + ("lorem &amp; ipsum " * 2000)
    assert section.endswith("…") and text_length(section) <= MAX_SECTION_TEXT
    assert full.startswith(section[:-1]) and full[len(section) - 1] == " "  # cut between words
    assert validate_message(msg) == []


# -- packing blocks into messages ------------------------------------------------------


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def numbered_blocks(count: int, first: int = 0) -> list[dict[str, Any]]:
    return [section(f"block {n}") for n in range(first, first + count)]


def blocks_totalling(total: int, count: int = 5) -> list[dict[str, Any]]:
    """`count` sections that measure exactly `total` together, as `blocks_size` counts."""
    text_units = total - 2 - (count - 1) - count * block_size(section(""))
    sizes = [text_units // count] * count
    sizes[-1] += text_units - sum(sizes)
    blocks = [section(str(n % 10) * size) for n, size in enumerate(sizes)]
    assert blocks_size(blocks) == total
    return blocks


def message(*blocks: dict[str, Any], text: str = "fallback") -> SlackMessage:
    return SlackMessage(text=text, blocks=tuple(blocks))


def test_packing_nothing_gives_no_message() -> None:
    assert pack_messages([]) == []


@pytest.mark.parametrize(
    ("count", "expected"),
    [(MAX_BLOCKS, [MAX_BLOCKS]), (MAX_BLOCKS + 1, [MAX_BLOCKS, 1]), (120, [50, 50, 20])],
    ids=["exactly-50", "one-over", "three-messages"],
)
def test_packing_at_the_block_count_limit(count: int, expected: list[int]) -> None:
    blocks = numbered_blocks(count)
    packed = pack_messages([message(*blocks)])
    assert [len(m.blocks) for m in packed] == expected
    assert [b for m in packed for b in m.blocks] == blocks  # every block, in order
    for msg in packed:
        assert validate_message(msg) == []


def test_packing_at_the_size_limit() -> None:
    at_limit = blocks_totalling(MAX_BLOCKS_CHARS)
    (msg,) = pack_messages([message(*at_limit)])
    assert list(msg.blocks) == at_limit
    assert validate_message(msg) == []

    past = blocks_totalling(MAX_BLOCKS_CHARS + 1)
    first, second = pack_messages([message(*past)])
    assert list(first.blocks) == past[:-1] and list(second.blocks) == past[-1:]
    assert validate_message(first) == [] and validate_message(second) == []


def test_a_block_larger_than_the_budget_goes_alone() -> None:
    big = section("x" * (MAX_BLOCKS_CHARS + 10))
    packed = pack_messages([message(section("a"), big, section("b"))])
    assert [m.blocks for m in packed] == [(section("a"),), (big,), (section("b"),)]


def test_blocks_of_several_messages_are_packed_together_in_order() -> None:
    a, b, c = numbered_blocks(20), numbered_blocks(20, 20), numbered_blocks(20, 40)
    packed = pack_messages([message(*a, text="A"), message(*b, text="B"), message(*c, text="C")])
    assert [len(m.blocks) for m in packed] == [50, 10]
    assert [blk for m in packed for blk in m.blocks] == a + b + c
    # A text goes with its message's last block: C's ends in the second message.
    assert [m.text for m in packed] == ["A\nB", "C"]


def test_a_long_message_gives_its_text_to_each_message_it_fills() -> None:
    packed = pack_messages(
        [message(section("a"), text="A"), message(*numbered_blocks(120), text="M")]
    )
    assert [len(m.blocks) for m in packed] == [50, 50, 21]
    assert [m.text for m in packed] == ["A", "M", "M"]


def test_a_message_without_blocks_adds_its_text_to_the_blocks_before_it() -> None:
    packed = pack_messages(
        [message(section("a"), text="A"), message(text="N"), message(section("b"), text="B")]
    )
    assert [(m.text, len(m.blocks)) for m in packed] == [("A\nN\nB", 2)]
    assert pack_messages([message(text="only text")]) == [SlackMessage("only text")]


def test_packed_texts_are_shortened_or_say_the_message_is_empty() -> None:
    (msg,) = pack_messages([message(section("a"), text="")])
    assert msg.text == EMPTY_TEXT
    (msg,) = pack_messages([message(section("a"), text="word " * 2000)])
    assert msg.text.endswith("…") and len(msg.text) <= MAX_TEXT


def test_packing_drops_in_thread() -> None:
    threaded = SlackMessage("T", (section("t"),), in_thread=True)
    assert [m.in_thread for m in pack_messages([message(section("a")), threaded])] == [False]


@pytest.mark.parametrize("thread", [True, False])
def test_a_template_output_is_a_summary_then_the_rest(thread: bool) -> None:
    summary, rest = numbered_blocks(2), numbered_blocks(60, 2)
    out = TemplateOutput(blocks=summary + rest, fallback="the summary", lead=2)
    messages = messages_of(out, thread=thread)
    assert [len(m.blocks) for m in messages] == [2, 50, 10]
    assert [m.in_thread for m in messages] == [False, thread, thread]
    assert messages[0].text == "the summary"
    assert messages[1].text.startswith("block 2\nblock 3\n")  # its own content


def test_a_summary_end_at_either_end_adds_no_empty_message() -> None:
    blocks = numbered_blocks(3)
    for lead in (0, 3):
        out = TemplateOutput(blocks=list(blocks), fallback=None, lead=lead)
        (msg,) = messages_of(out)
        assert list(msg.blocks) == blocks
        assert msg.text == "block 0\nblock 1\nblock 2"
