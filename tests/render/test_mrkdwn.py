"""Escaping and the trusted helpers (bot/render/mrkdwn.py): feed text, links, bold, cutting.

Escaping policy under test: `&`, `<`, `>` from feeds are always escaped, so
mentions and link syntax reach Slack as text; mrkdwn formatting characters
(`*`, `_`, `~`, backticks) from feeds are deliberately left literal.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import DigestSection, DigestView, FeedState, Item
from bot.render.inputs import FeedStatusRow
from bot.render.mrkdwn import fit_text, highlight, mrkdwn_to_plain
from bot.render.renderer import Renderer
from bot.render.slacklimits import text_length, validate_message
from tests.render.cases import (
    OUR_TOKEN,
    Hit,
    feed_text,
    texts_of,
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
def test_feed_text_is_escaped_everywhere_it_is_shown(
    renderer: Renderer, title: str, expected: str
) -> None:
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


def test_title_with_link_syntax_stays_inside_our_link(renderer: Renderer) -> None:
    item = Item(
        id="1", feed_id="x", title="<https://evil.example|click> me", link="https://ok.example/"
    )
    (msg,) = renderer.render_notice("n")  # sanity: a notice is one message
    digest = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    section = digest[0].blocks[3]["text"]["text"]
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
def test_links_are_made_only_from_http_urls(
    renderer: Renderer, url: str, expected: str | None
) -> None:
    item = Item(id="1", feed_id="x", title="Rule text", link=url)
    messages = renderer.render_digest(DigestView("C", "d", (DigestSection("t", "T", (item,)),)))
    section = messages[0].blocks[3]["text"]["text"]
    if expected is None:
        assert section.startswith("*Rule text*\n")
        assert "<" not in section
    else:
        assert section.startswith(f"*<{expected}|Rule text>*\n")
    assert validate_message(messages[0]) == []


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
def test_highlight_bolds_whole_matched_words(
    snippet: str, spans: list[tuple[object, object]], expected: str
) -> None:
    assert highlight(snippet, spans) == expected


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
def test_fit_text_cuts_without_breaking_markup(text: str, limit: int, expected: str) -> None:
    assert fit_text(text, limit) == expected
    assert text_length(fit_text(text, limit)) <= limit


def test_mrkdwn_to_plain_shows_what_slack_shows() -> None:
    text = (
        "*<https://e.com/a?b&amp;c|AT&amp;T &lt;rule&gt;>* · "
        "<!date^1758000000^{time}|2025-09-16 05:20 UTC>"
    )
    assert mrkdwn_to_plain(text) == "*AT&T <rule>* · 2025-09-16 05:20 UTC"
    assert mrkdwn_to_plain(text, unescape=False) == "*AT&amp;T &lt;rule&gt;* · 2025-09-16 05:20 UTC"


@settings(max_examples=200, deadline=None)
@given(text=feed_text, limit=st.integers(1, 400))
def test_property_fit_text_respects_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    fitted = fit_text(text, limit)
    assert text_length(fitted) <= limit
    if fitted != text:
        assert fitted.endswith("…")
