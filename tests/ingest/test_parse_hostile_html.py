"""Hostile HTML in feeds: no markup, script or javascript: link reaches an Item (issue 17 part 2).

feedparser is run with its HTML sanitizer off (bot/ingest/parse.py), since
every title, summary and content is flattened to plain text by
bot/ingest/text.py; these bodies check that what is kept is only the text a
reader would see, and that links are http(s) only. Escaping that text for
Slack is the renderer's job, checked in tests/system/test_injection.py.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

import pytest

from bot.ingest.parse import parse_feed
from bot.models import Item
from bot.render.mrkdwn import escape_slack, slack_link
from tests.ingest.feedfixtures import FEED_URL, FETCHED_AT

MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]|\bon[a-z]+\s*=|javascript:|vbscript:", re.IGNORECASE)
SCRIPT_TEXT = ("alert(", "evil", "document.cookie", "fetch(")

# (what the description holds as HTML, the visible text it must become)
CASES = {
    "script": ("<p>Before</p><script>alert(document.cookie)</script><p>after</p>", "Before after"),
    "script-upper-attrs": ('<SCRIPT type="text/javascript">evil()</SCRIPT>Text', "Text"),
    "style": ("<style>body{background:url(javascript:evil)}</style>Styled", "Styled"),
    "event-handlers": (
        '<img src="x" onerror="alert(1)"><a href="https://ok.example/" onclick="evil()">Link</a>'
        '<div onmouseover="fetch(1)">Hover</div>',
        "Link Hover",
    ),
    "javascript-link": ('<a href="javascript:alert(1)">Click</a> me', "Click me"),
    "iframe-object": (
        '<iframe src="javascript:alert(1)"></iframe><object data="evil.swf"></object>Kept',
        "Kept",
    ),
    "svg-script": ("<svg><script>alert(1)</script><title>Chart</title></svg>Caption", "Caption"),
    "noscript-template": ("<noscript>evil</noscript><template>evil</template>Shown", "Shown"),
    "unclosed-script": ("Visible <script>alert(1)", "Visible"),
    "comment-hiding-script": ("A<!-- <script>alert(1)</script> -->B", "AB"),
    "open-comment": ("Text<!-- <script>alert(1)</script>", "Text"),
    "nested-cdata": ("<![CDATA[<script>alert(1)</script>]]>Plain", "Plain"),
    "meta-refresh": ('<meta http-equiv="refresh" content="0;url=javascript:evil">Ok', "Ok"),
}


def _item_with(description_xml: str, *, extra: str = "", title: str = "Hostile") -> Item:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>https://example.org/h</link>"
        f"<description>{description_xml}</description>{extra}</item></channel></rss>"
    ).encode()
    result = parse_feed("hostile", body, url=FEED_URL, fetched_at=FETCHED_AT)
    assert result.error is None
    assert len(result.items) == 1
    return result.items[0]


def _assert_safe(item: Item) -> None:
    for text in (item.title, item.summary, *item.authors, *item.tags):
        assert not MARKUP.search(text), text
        assert not any(word in text for word in SCRIPT_TEXT), text
    assert item.link is None or item.link.startswith(("https://", "http://"))


@pytest.mark.parametrize(("html", "visible"), CASES.values(), ids=list(CASES))
def test_hostile_html_in_a_summary_becomes_its_visible_text(html: str, visible: str) -> None:
    item = _item_with(escape(html))
    _assert_safe(item)
    assert item.summary == visible


@pytest.mark.parametrize(("html", "visible"), CASES.values(), ids=list(CASES))
def test_hostile_html_in_a_cdata_summary_becomes_its_visible_text(html: str, visible: str) -> None:
    if "]]>" in html:
        pytest.skip("a CDATA section cannot hold ']]>' (the escaped case covers it)")
    item = _item_with(f"<![CDATA[{html}]]>")
    _assert_safe(item)
    assert item.summary == visible


def test_hostile_atom_content_html_and_xhtml_become_text() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>t</title><entry><id>urn:x:1</id>"
        b'<title type="html">&lt;b onmouseover="evil()"&gt;Bold&lt;/b&gt; title</title>'
        b'<link href="javascript:alert(1)"/>'
        b'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
        b'<p onclick="evil()">Para</p><script>alert(1)</script></div></content>'
        b"</entry></feed>"
    )
    result = parse_feed("hostile", body, url=FEED_URL, fetched_at=FETCHED_AT)
    (item,) = result.items
    _assert_safe(item)
    assert item.title == "Bold title"
    assert item.summary == "Para"
    assert item.link is None  # a javascript: link is no link


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,x",
     "vbscript:msgbox(1)", "//evil.example/x"],
)  # fmt: skip
def test_a_link_that_is_not_http_is_never_the_items_link(href: str) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>Linked</title><link>{escape(href)}</link></item></channel></rss>"
    ).encode()
    (item,) = parse_feed("hostile", body, fetched_at=FETCHED_AT).items
    assert item.link is None
    _assert_safe(item)


def test_markup_in_a_plain_text_title_is_kept_as_text_and_escaped_for_slack() -> None:
    item = _item_with("x", title=escape("<script>alert(1)</script> Real title"))
    # An RSS title is plain text to feedparser unless it looks like HTML (a script
    # does not): kept literally as text, as entries.py says, and escaped by the renderer.
    assert item.title == "<script>alert(1)</script> Real title"
    shown = str(escape_slack(item.title)) + str(slack_link(item.link, item.title))
    assert "<script" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Real title" in shown
