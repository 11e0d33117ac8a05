"""Rendering to Slack (bot/render/renderer.py): goldens, escaping, links, overrides, limits.

Golden files: tests/golden/<case>.json holds the exact messages (fallback
`text`, `in_thread`, `blocks`) and tests/golden/<case>.txt the same messages
as a person reviews them (the fallback and each block's mrkdwn, one per line).
After an intended change of output, regenerate both and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py -k golden

Escaping policy under test (see bot/render/renderer.py): `&`, `<`, `>` from feeds are
always escaped, so mentions and link syntax reach Slack as text; mrkdwn
formatting characters (`*`, `_`, `~`, backticks) from feeds are deliberately
left literal.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.entitylist import EntityListFacts
from bot.models import UTC, DigestSection, DigestView, FeedState, Item, SlackMessage
from bot.render.mrkdwn import fit_text, highlight, mrkdwn_to_plain
from bot.render.renderer import DIGEST_POST_OPTIONS, Renderer
from bot.render.templates import TEMPLATE_NAMES
from bot.render.views import FeedStatusRow
from bot.render.slacklimits import MAX_SECTION_TEXT, text_length, validate_message
from tests.support import paths

GOLDEN = paths.GOLDEN
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

FEED_NAMES = {
    "fr-bis": "Federal Register: BIS",
    "fr-entity-list": "Federal Register: Entity List search",
    "chipwire": "ChipWire",
    "nikkei-asia": "Nikkei Asia",
    "meti": "METI news releases",
}
T0 = datetime(2025, 9, 16, 4, 0, tzinfo=UTC)
DATE_LABEL = "Tuesday 16 September 2025"

ENTITY = Item(
    id="2025-17893",
    feed_id="fr-bis",
    title="Additions to the Entity List",
    summary=(
        "In this rule, BIS amends the EAR by adding 36 entities to the Entity List under "
        "the destinations of China (30), Japan (1) and Singapore (5)."
    ),
    link="https://www.federalregister.gov/documents/2025/09/16/2025-17893/additions-to-the-entity-list",
    published=T0,
    extras={
        "entity_list": EntityListFacts(
            "additions", added=36, destinations=(("China", 30), ("Japan", 1), ("Singapore", 5))
        ).as_extras(),
        "also_in": ["fr-entity-list"],
    },
)
# The same story carried by three feeds: shown once, naming the others.
DUPLICATE = Item(
    id="cw-881",
    feed_id="chipwire",
    title="Samsung & SK Hynix get a one-year waiver for their China fabs",
    summary="The US extends the validated end-user status of both companies' plants.",
    link="https://chipwire.example/news/881?src=rss&lang=en",
    published=T0 - timedelta(hours=5),
    extras={"also_in": ["nikkei-asia", "reuters-tech"]},
)
RAPIDUS = Item(
    id="na-12",
    feed_id="nikkei-asia",
    title="Rapidus starts its 2nm pilot line in Hokkaido",
    link="https://asia.nikkei.example/Business/Tech/Semiconductors/Rapidus-2nm",
    published=T0 - timedelta(hours=9, minutes=30),
)
METI = Item(
    id="meti-0916",
    feed_id="meti",
    title="METI designates 'specified critical materials' under the Economic Security Act",
    link="https://www.meti.go.jp/english/press/2025/0916_001.html",
    published=T0 - timedelta(days=1),
)
DIGEST = DigestView(
    channel="C0123456789",
    date_label=DATE_LABEL,
    sections=(
        DigestSection("entity-list", "Entity List updates", (ENTITY,)),
        DigestSection("chips", "Semiconductors", (DUPLICATE, RAPIDUS)),
        DigestSection("japan-esl", "Japan economic security", (METI,)),
    ),
    more_count=4,
)


@dataclass(frozen=True)
class Hit:
    """A search hit as search.py makes them (the renderer's SearchHitLike protocol)."""

    item: Item
    snippet: str
    spans: Sequence[tuple[int, int]]
    also_in: tuple[str, ...] = ()


def spans_of(text: str, *words: str) -> list[tuple[int, int]]:
    return [(text.index(w), text.index(w) + len(w)) for w in words]


@pytest.fixture
def renderer() -> Renderer:
    return Renderer(feed_names=FEED_NAMES)


# -- helpers ---------------------------------------------------------------------


def texts_of(msg: SlackMessage) -> list[str]:
    """Every text Slack reads in a message: the fallback and each text object."""
    found = [msg.text]
    for block in msg.blocks:
        for obj in [block.get("text"), *block.get("elements", ()), *block.get("fields", ())]:
            if isinstance(obj, dict):
                found.append(obj["text"])
    return found


def block_texts(messages: Sequence[SlackMessage]) -> list[str]:
    return [t for m in messages for t in texts_of(m)[1:]]


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
            lines += [
                "  " + t.replace("\n", "\n  ") for t in texts_of(SlackMessage("", (block,)))[1:]
            ]
    return "\n".join(lines) + "\n"


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


def test_golden_three_topic_digest(renderer):
    messages = renderer.render_digest(DIGEST)
    check_golden("digest_three_topics", messages)
    # What a reader must see, independently of the golden file:
    (msg,) = messages
    shown = "\n".join(block_texts(messages))
    assert msg.blocks[0]["text"]["text"] == f"Briefing · {DATE_LABEL}"
    assert "36 entities added: China 30, Japan 1, Singapore 5" in shown
    assert "also in: Federal Register: Entity List search" in shown
    assert "also in: Nikkei Asia, reuters-tech" in shown  # unknown feed: shown by id
    assert "Samsung &amp; SK Hynix" in shown
    assert "and 4 more: `/brief latest`" in shown
    headings = [t for t in block_texts(messages) if re.fullmatch(r"\*[^*]+\* \(\d+\)", t)]
    assert headings == [
        "*Entity List updates* (1)",
        "*Semiconductors* (2)",
        "*Japan economic security* (1)",
    ]


def test_golden_search_result(renderer):
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


def test_golden_alert_naming_three_subscriptions(renderer):
    subs = ("topic entity-list", "topic china-tech", 'query "YMTC" OR "entity list"')
    messages = renderer.render_alerts("U0123ABCD", [(ENTITY, subs), (RAPIDUS, ("topic chips",))])
    check_golden("alert_three_subscriptions", messages)
    (msg,) = messages
    shown = "\n".join(block_texts(messages))
    assert 'Matched: topic entity-list, topic china-tech, query "YMTC" OR "entity list"' in shown
    assert msg.text.startswith("2 new items for your subscriptions: Additions to the Entity List")


def test_golden_empty_digest_is_one_line(renderer):
    empty = DigestView(channel="C1", date_label=DATE_LABEL, sections=())
    messages = renderer.render_digest(empty)
    check_golden("digest_empty", messages)
    assert block_texts(messages) == ["Nothing new since the last briefing."]


def test_golden_feed_status(renderer):
    now = T0
    rows = [
        FeedStatusRow(
            "fr-bis", "Federal Register: BIS", True, FeedState("fr-bis", last_success=now)
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


def test_golden_help(renderer):
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


# -- escaping ----------------------------------------------------------------------

HOSTILE = [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here> read this", "&lt;!here&gt; read this"),
    ("<!everyone>", "&lt;!everyone&gt;"),
    ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
    ("<@U123> and <#C123|general>", "&lt;@U123&gt; and &lt;#C123|general&gt;"),
    ("<!subteam^S1|@team>", "&lt;!subteam^S1|@team&gt;"),
    ("&amp; is not &", "&amp;amp; is not &amp;"),
    ("AT&T > Verizon", "AT&amp;T &gt; Verizon"),
    ("*bold* _it_ ~s~ `x`", "*bold* _it_ ~s~ `x`"),  # formatting kept literal, on purpose
    ('Japan\'s "Chips 4"', 'Japan\'s "Chips 4"'),  # quotes never become &#39; / &#34;
    ("abc\u202edef\u2066ghi", "abcdefghi"),  # bidi overrides dropped
    ("null\x00byte", "nullbyte"),
]


@pytest.mark.parametrize(("title", "expected"), HOSTILE, ids=[t for t, _ in HOSTILE])
def test_feed_text_is_escaped_everywhere_it_is_shown(renderer, title, expected):
    hostile = Item(
        id="h",
        feed_id="evil",
        title=title,
        summary=title,
        link="https://example.com/x",
        extras={"entity_list": {"summary": title}, "also_in": [title]},
    )
    view = DigestView("C1", title, (DigestSection("t", title, (hostile,)),), more_hint=title)
    rendered = {
        "digest": Renderer(feed_names={"evil": title}).render_digest(view),
        "alert": renderer.render_alerts("U1", [(hostile, (title,))]),
        "search": renderer.render_search(title, [Hit(hostile, title, [(0, 3)], (title,))], 1),
        "notice": renderer.render_notice(title),
        "feeds": renderer.render_feed_status(
            [
                FeedStatusRow(
                    title, title, True, FeedState(title, consecutive_failures=1, last_error=title)
                )
            ]
        ),
    }
    for kind, messages in rendered.items():
        everything = "\n".join(t for m in messages for t in texts_of(m))
        assert expected in everything, kind
        assert ">" not in OUR_TOKEN.sub("", everything), kind
        for msg in messages:
            assert validate_message(msg) == [], kind
        assert not re.search(r"<[!@#]", everything.replace("<!date^", "")), kind


def test_title_with_link_syntax_stays_inside_our_link(renderer):
    item = Item(
        id="1", feed_id="x", title="<https://evil.example|click> me", link="https://ok.example/"
    )
    (msg,) = renderer.render_notice("n")  # sanity: a notice is one message
    digest = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    section = digest[0].blocks[2]["text"]["text"]
    assert section.startswith("*<https://ok.example/|&lt;https://evil.example|click&gt; me>*")
    assert msg.blocks[0]["text"]["text"] == "n"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("javascript:alert(1)", None),
        ("JavaScript:alert(document.cookie)", None),
        ("  javascript:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("mailto:someone@example.com", None),
        ("ftp://example.com/file", None),
        ("//evil.example/x", None),
        ("https:evil.example", None),
        ("https://exa mple.com/", None),
        ("https://example.com/\nx", None),
        ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&amp;c=2"),
        ("HTTPS://Example.com/Path", "https://Example.com/Path"),
        ("https://example.com/a|b>c<d", "https://example.com/a%7Cb%3Ec%3Cd"),
        ("http://例え.jp/パス", "http://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"),
        ("https://example.com/" + "a" * 3000, None),
    ],
    ids=[
        "javascript",
        "javascript-mixed-case",
        "javascript-leading-space",
        "data",
        "mailto",
        "ftp",
        "scheme-relative",
        "no-authority",
        "space",
        "newline",
        "ampersand-escaped",
        "scheme-lowercased",
        "pipe-and-brackets-encoded",
        "idn-and-unicode-path",
        "too-long",
    ],
)
def test_links_are_made_only_from_http_urls(renderer, url, expected):
    item = Item(id="1", feed_id="x", title="Rule text", link=url)
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    section = messages[0].blocks[2]["text"]["text"]
    if expected is None:
        assert section.startswith("*Rule text*\n")
        assert "<" not in section
    else:
        assert section.startswith(f"*<{expected}|Rule text>*\n")
    assert validate_message(messages[0]) == []


def test_digest_post_options_turn_unfurling_off():
    assert dict(DIGEST_POST_OPTIONS) == {"unfurl_links": False, "unfurl_media": False}
    assert "link_names" not in DIGEST_POST_OPTIONS and "parse" not in DIGEST_POST_OPTIONS


def test_every_mrkdwn_text_is_verbatim(renderer):
    # verbatim: Slack does not auto-link "@here", "#general" or bare URLs in feed text.
    item = Item(id="1", feed_id="x", title="ping @here in #general, see example.com")
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    objects = [b["text"] for b in messages[0].blocks if b["type"] == "section"]
    assert objects and all(o["type"] == "mrkdwn" and o["verbatim"] is True for o in objects)


# -- search highlighting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "spans", "expected"),
    [
        ("adds entities to the list", [(5, 13)], "adds *entities* to the list"),
        ("semiconductors and chips", [(0, 4)], "*semiconductors* and chips"),  # widened to word
        ("semiconductor fabs", [(0, 4), (4, 8)], "*semiconductor* fabs"),  # one word, once
        ("a b c", [(0, 1), (1, 3)], "*a* *b* c"),  # separate words stay separate
        ("export controls", [(0, 6), (3, 15)], "*export controls*"),  # overlap merged
        ("x <!here> y", [(2, 9)], "x *&lt;!here&gt;* y"),
        ("abc", [(5, 9), (-3, -1), (2, 1), ("a", "b")], "abc"),  # nonsense ignored
        ("lead  space", [(4, 7)], "lead  *space*"),  # whitespace kept outside the stars
    ],
    ids=["word", "prefix", "same-word", "two-words", "overlap", "escaped", "invalid", "spaces"],
)
def test_highlight_bolds_whole_matched_words(snippet, spans, expected):
    assert highlight(snippet, spans) == expected


def test_search_with_no_hits_says_so(renderer):
    (msg,) = renderer.render_search("<!here> rare words", [], total=0)
    assert block_texts([msg])[0] == "No results for “&lt;!here&gt; rare words”."


# -- overrides and check() ----------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_override_directory_replaces_only_the_templates_it_holds(tmp_path):
    write(
        tmp_path,
        "digest.j2",
        '{{ header("Morning brief " ~ date_label) }}\n'
        "{% for s in sections %}{% for item in s.items %}\n"
        "{% call section() %}{{ bold(item.title) }} ({{ item.feed }}){% endcall %}\n"
        "{% endfor %}{% endfor %}\n",
    )
    renderer = Renderer(str(tmp_path), feed_names=FEED_NAMES)
    assert renderer.check() == []
    digest = renderer.render_digest(DIGEST)
    assert block_texts(digest)[:3] == [
        f"Morning brief {DATE_LABEL}",
        "*Additions to the Entity List* (Federal Register: BIS)",
        "*Samsung &amp; SK Hynix get a one-year waiver for their China fabs* (ChipWire)",
    ]
    alert = renderer.render_alerts("U1", [(ENTITY, ("topic entity-list",))])
    assert block_texts(alert)[0] == "*1 new item* for your subscriptions"  # bundled alert.j2


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            "{# a comment #}\n{{ header(date_label) }}\n"
            "{% call section() %}{{ date_label }{% endcall %}\n",
            3,
            "unexpected '}'",
        ),
        (
            "{% if item_count %}\n{% call section() %}x{% endcall %}\n",
            2,
            "Unexpected end of template",
        ),
        (
            "{{ header(date_label) }}\n{% call section() %}{{ headline }}{% endcall %}\n",
            2,
            "'headline' is undefined",
        ),
        (
            "\n\n{% call section() %}{{ view.no_such_field }}{% endcall %}\n",
            3,
            "has no attribute 'no_such_field'",
        ),
        ("{% call section() %}{{ divider() }}{% endcall %}\n", 1, "blocks cannot be nested"),
        ("{{ item_count|safe }}\n", 1, "No filter named 'safe'"),
    ],
    ids=[
        "syntax",
        "unclosed-block",
        "unknown-variable",
        "unknown-attribute",
        "nested-blocks",
        "safe-filter-removed",
    ],
)
def test_check_reports_a_broken_override_with_file_and_line(tmp_path, source, line, message):
    path = write(tmp_path, "digest.j2", source)
    errors = Renderer(str(tmp_path)).check()
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line}: "), errors
    assert message in errors[0]


def test_check_reports_markup_an_override_writes_literally(tmp_path):
    path = write(tmp_path, "notice.j2", "{% call section() %}<!here> {{ text }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path))
    (error,) = renderer.check()
    assert error.startswith(f"{path}: writes '<!here> ")
    assert "which Slack would read as markup" in error
    # At run time the literal reaches Slack as text, never as a broadcast.
    (msg,) = renderer.render_notice("hello")
    assert msg.blocks[0]["text"]["text"] == "&lt;!here> hello"
    assert validate_message(msg) == []


def test_check_reports_a_missing_templates_dir(tmp_path):
    missing = tmp_path / "nope"
    assert Renderer(str(missing)).check() == [f"templates_dir {missing}: not a directory"]


def test_bundled_templates_pass_check_and_each_has_a_header_comment():
    assert Renderer().check() == []
    for name in TEMPLATE_NAMES:
        source = (paths.ROOT / "templates" / name).read_text(encoding="utf-8")
        assert source.startswith("{#-\n  " + name + ":"), name
        assert "Variables:" in source, name


def test_broken_override_at_run_time_falls_back_to_the_bundled_template(tmp_path, caplog):
    path = write(tmp_path, "digest.j2", "{% call section() %}{{ headline }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path), feed_names=FEED_NAMES)
    with caplog.at_level(logging.WARNING, logger="bot.render.renderer"):
        messages = renderer.render_digest(DIGEST)
    assert block_texts(messages)[0] == f"Briefing · {DATE_LABEL}"
    assert f"{path}:1: 'headline' is undefined; using the bundled digest.j2 instead" in caplog.text


def test_override_is_reread_when_the_file_changes(tmp_path):
    path = write(tmp_path, "notice.j2", "{% call section() %}one: {{ text }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path))
    assert block_texts(renderer.render_notice("x")) == ["one: x"]
    path.write_text("{% call section() %}two: {{ text }}{% endcall %}\n", encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert block_texts(renderer.render_notice("x")) == ["two: x"]


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
def test_long_digest_is_a_summary_then_the_rest(renderer, thread):
    messages = renderer.render_digest(LONG, thread=thread)
    first, rest = messages[0], messages[1:]
    assert len(rest) >= 2
    assert first.in_thread is False
    assert all(m.in_thread is thread for m in rest)
    assert block_texts([first])[:2] == [
        f"Briefing · {DATE_LABEL}",
        "*130 new items* and 12 more\n• Entity List updates: 70\n• Semiconductors: 50\n"
        "• Japan economic security: 10",
    ]
    assert ("Details in the thread." in block_texts([first])) is thread
    for msg in messages:
        assert validate_message(msg) == []
    # Every item is shown exactly once, in order, across the continuation messages.
    titles = re.findall(r"\|([a-z]+ story number \d+)>", "\n".join(block_texts(rest)))
    expected = [i.title for s in LONG.sections for i in s.items]
    assert titles == expected
    assert block_texts(rest)[-1] == "and 12 more: `/brief latest`"
    # Each continuation's notification text is its own content, not the summary's.
    assert rest[0].text.startswith("*Entity List updates* (70)\n*alpha story number 0*\n")


def test_three_thousand_hostile_items_are_all_delivered(renderer):
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


def test_short_digest_stays_one_message_without_a_summary(renderer):
    (msg,) = renderer.render_digest(DIGEST, thread=True)
    assert msg.in_thread is False
    assert not any("Details in the thread" in t for t in texts_of(msg))


def test_overlong_title_is_shortened_at_a_word_boundary(renderer):
    words = " ".join(f"word{n}" for n in range(2000))
    item = Item(id="1", feed_id="x", title=words, link="https://example.com/1")
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    label = re.search(r"\|([^>]*)>", messages[0].blocks[2]["text"]["text"]).group(1)
    assert label.endswith("…") and len(label) <= 250
    shown_words = label[:-1].split(" ")
    assert shown_words == words.split(" ")[: len(shown_words)]  # whole words only


def test_one_item_that_alone_breaks_a_limit_is_cut_not_dropped(tmp_path):
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


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four", 10, "one two…"),
        ("a &amp; b &amp; c", 9, "a &amp;…"),  # never half an escape
        ("x <https://e.com/" + "p" * 50 + "|the label here> y", 20, "x the label here…"),
        ("<https://e.com/|" + "w " * 40 + ">", 12, "w w w w w…"),
        ("😀😀😀😀😀😀", 7, "😀😀😀…"),  # counted in UTF-16 units
    ],
    ids=["fits", "words", "escape", "link-to-label", "label-cut", "emoji"],
)
def test_fit_text_cuts_without_breaking_markup(text, limit, expected):
    assert fit_text(text, limit) == expected
    assert text_length(fit_text(text, limit)) <= limit


def test_mrkdwn_to_plain_shows_what_slack_shows():
    text = (
        "*<https://e.com/a?b&amp;c|AT&amp;T &lt;rule&gt;>* · "
        "<!date^1758000000^{time}|2025-09-16 05:20 UTC>"
    )
    assert mrkdwn_to_plain(text) == "*AT&T <rule>* · 2025-09-16 05:20 UTC"
    assert mrkdwn_to_plain(text, unescape=False) == "*AT&amp;T &lt;rule&gt;* · 2025-09-16 05:20 UTC"


# -- properties ------------------------------------------------------------------------------

NASTY = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123|general>",
    "<https://evil.example|click>", "<javascript:alert(1)|x>", "<!date^1^{time}|x>",
    "&amp;", "&lt;", "&", "<", ">", "|", "^", "*bold*", "_it_", "~s~", "`", "```",
    "\u202e", "\u2067", "\u200f", "مرحبا بالعالم", "שלום עולם", "😀", "👩‍👩‍👧", "\x00", "\x01",
    "\n", "\t", "x" * 5000, "word " * 700, "&#39;", "{{ x }}", "{% raw %}",
]  # fmt: skip
# URL in the feed -> how it must appear inside <...|...>; None: never linked.
URLS: dict[str | None, str | None] = {
    "https://example.com/a?x=1&y=2": "https://example.com/a?x=1&amp;y=2",
    "http://example.org/p|q>r": "http://example.org/p%7Cq%3Er",
    "https://example.net/" + "é" * 20: "https://example.net/" + "%C3%A9" * 20,
    "javascript:alert(1)": None,
    "data:text/html,<b>x</b>": None,
    None: None,
}
ALLOWED_LINKS = {v for v in URLS.values() if v}
OUR_TOKEN = re.compile(
    r"<(?P<url>https?://[^\s<>|]+)\|[^<>]*>"
    r"|<!date\^-?[0-9]+\^\{date_short_pretty\} \{time\}"
    r"\|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC>"
)

feed_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=30)), max_size=6).map(
    "".join
)


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
def test_property_any_digest_is_sendable_and_escaped(view, thread, names):
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
    owner_items, more, query, snippets, notice, errors
):
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


@settings(max_examples=200, deadline=None)
@given(text=feed_text, limit=st.integers(1, 400))
def test_property_fit_text_respects_the_limit_and_keeps_a_prefix(text, limit):
    fitted = fit_text(text, limit)
    assert text_length(fitted) <= limit
    if fitted != text:
        assert fitted.endswith("…")
