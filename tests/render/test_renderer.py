"""The Renderer (bot/render/renderer.py): goldens, long digests, the run-time fallback, properties.

Golden files: tests/golden/<case>.json holds the exact messages (fallback
`text`, `in_thread`, `blocks`) and tests/golden/<case>.txt the same messages
as a person reviews them (the fallback and each block's mrkdwn, one per line).
After an intended change of output, regenerate both and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_renderer.py -k golden
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import UTC, DigestSection, DigestView, FeedState, Item, SlackMessage
from bot.render.inputs import FeedStatusRow
from bot.render.renderer import DIGEST_POST_OPTIONS, Renderer
from bot.render.slacklimits import validate_message
from tests.render.cases import (
    ALLOWED_LINKS,
    DATE_LABEL,
    DIGEST,
    DUPLICATE,
    ENTITY,
    FEED_NAMES,
    OUR_TOKEN,
    RAPIDUS,
    T0,
    URLS,
    Hit,
    block_texts,
    feed_text,
    spans_of,
    texts_of,
    write,
)
from tests.support import paths

GOLDEN = paths.GOLDEN
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


# -- helpers ---------------------------------------------------------------------


def as_json(messages: Sequence[SlackMessage]) -> list[dict[str, Any]]:
    return [{"text": m.text, "in_thread": m.in_thread, "blocks": list(m.blocks)} for m in messages]


def as_review_text(messages: Sequence[SlackMessage]) -> str:
    lines = []
    for number, msg in enumerate(messages, 1):
        where = "thread" if msg.in_thread else "channel"
        lines.append(f"=== message {number} of {len(messages)} ({where}) ===")
        lines.append(f"text: {msg.text}")
        for block in msg.blocks:
            lines.append(f"[{block['type']}]")
            if block["type"] == "actions":
                lines += ["  " + _button(element) for element in block["elements"]]
                continue
            lines += [
                "  " + t.replace("\n", "\n  ") for t in texts_of(SlackMessage("", (block,)))[1:]
            ]
            if "accessory" in block:
                lines.append("  " + _button(block["accessory"]))
    return "\n".join(lines) + "\n"


def _button(element: dict[str, Any]) -> str:
    """A button as the review text shows it: [label] action_id=value (style)."""
    style = f" ({element['style']})" if "style" in element else ""
    return f"[{element['text']['text']}] {element['action_id']}={element.get('value', '')}{style}"


def check_golden(name: str, messages: Sequence[SlackMessage]) -> None:
    actual_json = json.dumps(as_json(messages), indent=2, ensure_ascii=False) + "\n"
    actual_text = as_review_text(messages)
    json_path, text_path = GOLDEN / f"{name}.json", GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        json_path.write_text(actual_json, encoding="utf-8")
        text_path.write_text(actual_text, encoding="utf-8")
    if not json_path.exists():
        pytest.fail(f"{json_path} is missing: run UPDATE_GOLDEN=1 pytest {__file__} -k golden")
    assert actual_text == text_path.read_text(encoding="utf-8")
    assert actual_json == json_path.read_text(encoding="utf-8")
    for msg in messages:
        assert validate_message(msg) == []


# -- goldens -----------------------------------------------------------------------


def test_golden_three_topic_digest(renderer: Renderer) -> None:
    messages = renderer.render_digest(DIGEST)
    check_golden("digest_three_topics", messages)
    # What a reader must see, independently of the golden file:
    (msg,) = messages
    shown = "\n".join(block_texts(messages))
    assert msg.blocks[0]["text"]["text"] == f"Briefing · {DATE_LABEL}"
    assert "36 entities added: China 30, Japan 1, Singapore 5" in shown
    assert "also in: Federal Register: Entity List search" in shown
    # A feed the configuration no longer names is counted, never shown by its id.
    assert "also in: Nikkei Asia, 1 other feed" in shown
    assert "reuters-tech" not in shown
    assert "Samsung &amp; SK Hynix" in shown
    assert "and 4 more: `/brief latest`" in shown
    # The header says what the digest covers: 4 shown + 4 cut + 3 other new items.
    assert block_texts(messages)[1] == "*11 new items* since Monday 15 September, 08:30 JST"
    assert msg.text.startswith(
        f"Briefing {DATE_LABEL}: 11 new items: 8 in Entity List updates, Semiconductors, "
        "Japan economic security; 3 other"
    )
    # summaries: true puts the summary under each item, in one line.
    assert "\nThe US extends the validated end-user status of both companies' plants.\n" in shown
    headings = [t for t in block_texts(messages) if re.fullmatch(r"\*[^*]+\* \(\d+\)", t)]
    assert headings == [
        "*Entity List updates* (1)",
        "*Semiconductors* (2)",
        "*Japan economic security* (1)",
        "*Other new items* (3)",
    ]
    assert "Notice of OFAC Sanctions Actions" in block_texts(messages)[-3]
    # Issue 15: the cut items and the other items behind "Show all" buttons.
    assert block_texts(messages)[-1] == "Show all 3"
    assert msg.blocks[-1]["elements"][0]["value"] == "latest others 3"
    assert block_texts(messages)[-2] == "2 more: `/brief latest others`"


def test_golden_search_result(renderer: Renderer) -> None:
    snippet = ENTITY.summary
    hits = [
        Hit(ENTITY, snippet, spans_of(snippet, "Entity List")),
        Hit(DUPLICATE, DUPLICATE.summary, spans_of(DUPLICATE.summary, "end-user"), ("meti",)),
    ]
    messages = renderer.render_search("entity list", hits, total=7)
    check_golden("search_entity_list", messages)
    shown = "\n".join(block_texts(messages))
    assert "*7 results* for “entity list”, the best 2 below" in shown
    assert "to the *Entity List* under" in shown
    assert "validated *end-user* status" in shown


def test_golden_alert_naming_three_subscriptions(renderer: Renderer) -> None:
    subs = ("topic entity-list (s1)", "topic china-tech (s2)", 'query "YMTC" OR "entity list" (s3)')
    messages = renderer.render_alerts(
        "U0123ABCD",
        [(ENTITY, subs), (RAPIDUS, ("topic chips (s4)",))],
        sent_by=[
            ("s1", "topic entity-list"),
            ("s2", "topic china-tech"),
            ("s3", 'query "YMTC" OR "entity list"'),
            ("s4", "topic chips"),
        ],
    )
    check_golden("alert_three_subscriptions", messages)
    (msg,) = messages
    shown = "\n".join(block_texts(messages))
    assert (
        'Matched: topic entity-list (s1), topic china-tech (s2), query "YMTC" OR "entity list" (s3)'
        in shown
    )
    # Issue 15: a row of buttons per subscription, named by what it follows.
    assert shown.endswith("Mute topic chips\nRemove topic chips")
    assert 'Mute query "YMTC" OR "entity list"\nRemove query "YMTC" OR "entity list"' in shown
    assert (
        "Sent by subscriptions s1, s2, s3, s4. `/brief mute &lt;id&gt;` pauses one, "
        "`/brief unsubscribe &lt;id&gt;` removes it, `/brief subscriptions` lists yours."
    ) in shown
    assert msg.text.startswith("2 new items for your subscriptions: Additions to the Entity List")


def test_golden_empty_digest_is_one_line(renderer: Renderer) -> None:
    empty = DigestView(channel="C1", date_label=DATE_LABEL, sections=())
    messages = renderer.render_digest(empty)
    check_golden("digest_empty", messages)
    assert block_texts(messages) == ["Nothing new since the last briefing."]


def test_golden_feed_status(renderer: Renderer) -> None:
    now = T0
    rows = [
        FeedStatusRow(
            "fr-bis",
            "Federal Register: BIS",
            True,
            FeedState(
                "fr-bis", last_success=now, items_stored=12, last_new_item=now - timedelta(hours=5)
            ),
        ),
        FeedStatusRow(
            "chipwire",
            "ChipWire",
            True,
            FeedState(
                "chipwire",
                consecutive_failures=4,
                failing_since=now - timedelta(hours=2),
                last_error="HTTP 503 Service Unavailable <!channel>",
                last_success=now - timedelta(days=1),
            ),
        ),
        FeedStatusRow("old-blog", "Old blog", False, FeedState("old-blog")),
        FeedStatusRow("meti", "METI news releases", True, None),
    ]
    messages = renderer.render_feed_status(rows)
    check_golden("feed_status", messages)
    shown = "\n".join(block_texts(messages))
    assert "*4 feeds: 1 ok · 1 failing · 1 disabled · 1 not polled yet*" in shown
    assert "(4 failures): HTTP 503 Service Unavailable &lt;!channel&gt;" in shown
    assert " · 12 items stored · last new item <!date^" in shown


def test_golden_help(renderer: Renderer) -> None:
    commands = [
        ("/brief help", "what you are reading"),
        ("/brief latest [TOPIC]", "the newest items, all topics or one"),
        ("/brief search QUERY", 'search everything seen: words, "phrases", AND/OR/NOT, prefix*'),
        ("/brief subscribe TOPIC", "direct messages when TOPIC has something new"),
        ("/brief feeds", "which feeds are healthy"),
    ]
    messages = renderer.render_help(commands)
    check_golden("help", messages)
    assert (
        "`/brief latest [TOPIC]`  the newest items, all topics or one" in block_texts(messages)[1]
    )


def test_digest_post_options_turn_unfurling_off() -> None:
    assert dict(DIGEST_POST_OPTIONS) == {"unfurl_links": False, "unfurl_media": False}
    assert "link_names" not in DIGEST_POST_OPTIONS and "parse" not in DIGEST_POST_OPTIONS


def test_search_with_no_hits_says_so(renderer: Renderer) -> None:
    (msg,) = renderer.render_search("<!here> rare words", [], total=0)
    assert block_texts([msg])[0] == "No results for “&lt;!here&gt; rare words”."


def test_broken_override_at_run_time_falls_back_to_the_bundled_template(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "digest.j2", "{% call section() %}{{ headline }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path), feed_names=FEED_NAMES)
    with caplog.at_level(logging.WARNING, logger="bot.render.renderer"):
        messages = renderer.render_digest(DIGEST)
    assert block_texts(messages)[0] == f"Briefing · {DATE_LABEL}"
    assert f"{path}:1: 'headline' is undefined; using the bundled digest.j2 instead" in caplog.text


# -- limits: splitting and cutting ---------------------------------------------------------


def numbered(prefix: str, count: int, feed: str = "chipwire") -> tuple[Item, ...]:
    return tuple(
        Item(
            id=f"{prefix}{n}",
            feed_id=feed,
            title=f"{prefix} story number {n}",
            link=f"https://chipwire.example/{prefix}/{n}",
            published=T0 - timedelta(minutes=n),
        )
        for n in range(count)
    )


LONG = DigestView(
    channel="C1",
    date_label=DATE_LABEL,
    sections=(
        DigestSection("a", "Entity List updates", numbered("alpha", 70)),
        DigestSection("b", "Semiconductors", numbered("beta", 50)),
        DigestSection("c", "Japan economic security", numbered("gamma", 10)),
    ),
    more_count=12,
)


@pytest.mark.parametrize("thread", [True, False], ids=["thread", "separate-messages"])
def test_long_digest_is_a_summary_then_the_rest(renderer: Renderer, thread: bool) -> None:
    messages = renderer.render_digest(LONG, thread=thread)
    first, rest = messages[0], messages[1:]
    assert len(rest) >= 2
    assert first.in_thread is False
    assert all(m.in_thread is thread for m in rest)
    assert block_texts([first])[:3] == [
        f"Briefing · {DATE_LABEL}",
        "*142 new items*",
        "• Entity List updates: 70\n• Semiconductors: 50\n• Japan economic security: 10\n"
        "• and 12 more",
    ]
    assert ("Details in the thread." in block_texts([first])) is thread
    for msg in messages:
        assert validate_message(msg) == []
    # Every item is shown exactly once, in order, across the continuation messages.
    titles = re.findall(r"\|([a-z]+ story number \d+)>", "\n".join(block_texts(rest)))
    expected = [i.title for s in LONG.sections for i in s.items]
    assert titles == expected
    assert block_texts(rest)[-2:] == ["and 12 more: `/brief latest`", "Show all 50"]
    # Each continuation's notification text is its own content, not the summary's.
    assert rest[0].text.startswith("*Entity List updates* (70)\n*alpha story number 0*\n")


def test_three_thousand_hostile_items_are_all_delivered(renderer: Renderer) -> None:
    hostile = tuple(
        Item(
            id=str(n),
            feed_id="chipwire",
            title=f"story {n} <!channel> & <https://evil.example|click> " + "ﷺ😀" * (n % 40),
            link=f"https://example.com/{n}",
        )
        for n in range(3000)
    )
    sections = (
        DigestSection("a", "<!here> A", hostile[:2000]),
        DigestSection("b", "B", hostile[2000:]),
    )
    messages = renderer.render_digest(DigestView("C1", DATE_LABEL, sections))
    for msg in messages:
        assert validate_message(msg) == []
    linked = re.findall(
        r"<https://example\.com/(\d+)\|story \d+ &lt;!channel&gt; &amp; &lt;https",
        "\n".join(block_texts(messages)),
    )
    assert linked == [str(n) for n in range(3000)]


def test_short_digest_stays_one_message_without_a_summary(renderer: Renderer) -> None:
    (msg,) = renderer.render_digest(DIGEST, thread=True)
    assert msg.in_thread is False
    assert not any("Details in the thread" in t for t in texts_of(msg))


# -- properties --------------------------------------------------------------


@st.composite
def items(draw: st.DrawFn) -> Item:
    extras: dict[str, Any] = {}
    if draw(st.booleans()):
        extras["entity_list"] = {"summary": draw(feed_text)}
    if draw(st.booleans()):
        extras["also_in"] = draw(st.lists(feed_text, max_size=10))
    return Item(
        id=draw(st.text(max_size=5)),
        feed_id=draw(st.sampled_from(["fr-bis", "chipwire", "<!here>"])),
        title=draw(feed_text),
        summary=draw(feed_text),
        link=draw(st.sampled_from(list(URLS))),
        published=draw(
            st.none()
            | st.datetimes(datetime(1971, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
        ),
        extras=extras,
    )


@st.composite
def digests(draw: st.DrawFn) -> DigestView:
    pool = draw(st.lists(items(), min_size=1, max_size=4))
    count = draw(st.integers(0, 1500))
    topics = draw(st.lists(feed_text, min_size=1, max_size=4))
    sections = tuple(
        DigestSection(
            f"t{n}", title, tuple(pool[i % len(pool)] for i in range(n, count, len(topics)))
        )
        for n, title in enumerate(topics)
    )
    return DigestView(
        "C1",
        draw(feed_text),
        tuple(s for s in sections if s.items),
        more_count=draw(st.integers(0, 10_000)),
        more_hint=draw(feed_text),
    )


def assert_sendable_and_only_our_markup(messages: Sequence[SlackMessage]) -> None:
    """Every message passes the validator, and every `<` opens a token the renderer made."""
    assert messages
    for msg in messages:
        assert validate_message(msg) == []
        for text in texts_of(msg):
            assert "\x00" not in text
            for position in (m.start() for m in re.finditer("<", text)):
                token = OUR_TOKEN.match(text, position)
                assert token, f"stray < at {text[position : position + 40]!r}"
                assert token["url"] is None or token["url"] in ALLOWED_LINKS, token[0]
            # Feed text never brings a raw > either (nor do the templates: no block quotes).
            assert ">" not in OUR_TOKEN.sub("", text)


PROPERTY = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(
    view=digests(),
    thread=st.booleans(),
    names=st.dictionaries(st.sampled_from(["fr-bis", "chipwire"]), feed_text),
)
def test_property_any_digest_is_sendable_and_escaped(
    view: DigestView, thread: bool, names: dict[str, str]
) -> None:
    messages = Renderer(feed_names=names).render_digest(view, thread=thread)
    assert_sendable_and_only_our_markup(messages)
    assert messages[0].in_thread is False
    assert all(m.in_thread is thread for m in messages[1:])


@PROPERTY
@given(
    owner_items=st.lists(
        st.tuples(items(), st.lists(feed_text, max_size=4).map(tuple)), min_size=1, max_size=40
    ),
    more=st.integers(0, 100),
    query=feed_text,
    snippets=st.lists(
        st.tuples(
            items(),
            feed_text,
            st.lists(st.tuples(st.integers(-5, 500), st.integers(-5, 500)), max_size=5),
        ),
        max_size=30,
    ),
    notice=feed_text,
    errors=st.lists(st.tuples(feed_text, feed_text), max_size=40),
)
def test_property_alerts_search_notices_and_status_are_sendable(
    owner_items: list[tuple[Item, tuple[str, ...]]],
    more: int,
    query: str,
    snippets: list[tuple[Item, str, list[tuple[int, int]]]],
    notice: str,
    errors: list[tuple[str, str]],
) -> None:
    renderer = Renderer()
    assert_sendable_and_only_our_markup(renderer.render_alerts("U1", owner_items, more=more))
    hits = [Hit(item, text, spans, (item.feed_id,)) for item, text, spans in snippets]
    assert_sendable_and_only_our_markup(renderer.render_search(query, hits, total=len(hits) + more))
    assert_sendable_and_only_our_markup(renderer.render_notice(notice))
    rows = [
        FeedStatusRow(
            name, name, n % 3 != 0, FeedState(name, consecutive_failures=n % 2, last_error=error)
        )
        for n, (name, error) in enumerate(errors)
    ]
    assert_sendable_and_only_our_markup(renderer.render_feed_status(rows))
