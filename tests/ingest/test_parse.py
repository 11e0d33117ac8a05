"""bot/ingest/parse.py: feed bytes in, a ParseResult out; never a crash, whatever the bytes.

How entries become Items is in test_entries.py, links in test_links.py, charsets
in test_charset.py, entity declarations in test_prolog.py.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.parse import TAGS_READ_PER_ENTRY, parse_feed
from bot.ingest.text import (
    truncate_words,
)
from bot.models import ParseResult
from tests.ingest.feedfixtures import (
    BIS,
    FETCHED_AT,
    FIXTURES,
    by_title,
    parse_fixture,
    rss,
)
from tests.support import paths
from tests.support.feedgen import angle_brackets_rss, categories_rss, hostile_rss

DEMO_FEEDS = paths.ROOT / "bot" / "demo_feeds"


# --- formats ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "feed_title", "count", "first_title"),
    [
        pytest.param(
            "fr-documents_2025-08_excerpt.rss",
            "Federal Register Documents published on or after 07/05/2025",
            10,
            "Notice on Declaring a National Emergency at the Southern Border of the United States",
            id="rss20-federal-register-real",
        ),
        pytest.param(
            "fr-entity-list.rss",
            "Federal Register Documents published on or after 11/06/2023",
            8,
            "Revisions to the Entity List",
            id="rss20-federal-register-entity-list",
        ),
        pytest.param(
            "atom10-chipwire_synthetic.atom",
            "ChipWire (synthetic): trade and semiconductors",
            3,
            "Explainer: reading an Entity List rule",
            id="atom10",
        ),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            "経済安全保障ニュース（合成）",
            2,
            "特定重要物資（半導体）の安定供給確保に関する取組方針の改定",
            id="rss10-rdf",
        ),
    ],
)
def test_each_format_yields_its_entries(
    fixture: str, feed_title: str, count: int, first_title: str
) -> None:
    result = parse_fixture(fixture)
    assert (result.error, result.warning) == (None, None)
    assert result.feed_title == feed_title
    assert len(result.items) == count
    assert result.items[0].title == first_title
    assert {item.feed_id for item in result.items} == {"test-feed"}


def test_entity_list_rule_is_read_as_a_reader_needs_it() -> None:
    item = by_title(parse_fixture("fr-entity-list.rss"))["Additions to the Entity List"]
    url = (
        "https://www.federalregister.gov/documents/2025/01/16/2025-00480/"
        "additions-to-the-entity-list"
    )
    assert item.id == "fr:2025-00480"
    assert item.link == url
    assert item.guid == url
    assert item.published == datetime(2025, 1, 16, 5, 0, tzinfo=UTC)
    assert item.authors == (BIS,)
    assert item.tags == ()
    assert item.summary == (
        "In this rule, the Bureau of Industry and Security (BIS) amends the Export"
        " Administration Regulations (EAR) by adding 16 entities to the Entity List, under"
        " the destinations of China, People's Republic of (China) (14) and Singapore (2)."
        " These entities have been determined by the U.S. Government to be acting contrary"
        " to the national security or foreign policy interests of the United States."
    )


# --- malformed, not a feed, hostile -----------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "warning", "titles"),
    [
        pytest.param(
            "malformed-mismatched-tag.rss",
            "malformed XML at line 12: mismatched tag",
            ["Readable first item"],
            id="mismatched-tag",
        ),
        pytest.param(
            "malformed-truncated.rss",
            "malformed XML at line 8: no element found",
            ["One", "Two"],
            id="truncated",
        ),
    ],
)
def test_malformed_feeds_yield_what_can_be_read(
    fixture: str, warning: str, titles: list[str]
) -> None:
    result = parse_fixture(fixture)
    assert result.error is None
    assert result.warning == warning
    assert [item.title for item in result.items] == titles


def test_line_numbers_refer_to_the_document_as_served() -> None:
    # No XML declaration: feedparser prepends one, which must not shift the line.
    body = (
        b"<rss version='2.0'>\n<channel><item><title>kept</title></item>\n"
        b"<item><title>x</titel></item>\n</channel></rss>"
    )
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert result.warning == "malformed XML at line 3: mismatched tag"
    assert [item.title for item in result.items] == ["kept"]


def test_a_malformed_feed_with_nothing_readable_is_an_error() -> None:
    body = b"<?xml version='1.0'?>\n<rss version='2.0'><channel><title>T</title>\n<item><ti"
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert result.items == ()
    assert result.error == "malformed XML at line 3: unclosed token; no entries could be read"


# An empty channel, RSS, Atom and RDF, with what goes before and around it.
EMPTY_RSS = (
    b"<rss version='2.0'><channel><title>{title}</title>"
    b"<link>https://example.org/</link><description>quiet</description></channel></rss>"
)
EMPTY_ATOM = b"<feed xmlns='http://www.w3.org/2005/Atom'><title>{title}</title></feed>"
EMPTY_RDF = (
    b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'"
    b" xmlns='http://purl.org/rss/1.0/'><channel rdf:about='https://example.org/'>"
    b"<title>{title}</title><link>https://example.org/</link></channel></rdf:RDF>"
)
DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
NOT_AT_START = "malformed XML at line 2: XML or text declaration not at start of entity"


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        pytest.param(
            b"\n" + DECLARATION + EMPTY_RSS.replace(b"{title}", b"T"),
            NOT_AT_START,
            id="blank-line-before-declaration",
        ),
        pytest.param(
            DECLARATION + EMPTY_RSS.replace(b"{title}", b"Quiet &nbsp; days"),
            "malformed XML at line 2: undefined entity",
            id="undefined-entity",
        ),
        pytest.param(
            b"\n" + DECLARATION + EMPTY_ATOM.replace(b"{title}", b"T") + b"\n<!-- 0.2 s -->\n",
            NOT_AT_START,
            id="atom-comment-after-the-end",
        ),
        pytest.param(
            DECLARATION + EMPTY_RDF.replace(b"{title}", b"T &mdash; x"),
            "malformed XML at line 2: undefined entity",
            id="rdf-undefined-entity",
        ),
    ],
)
def test_an_empty_feed_with_a_recoverable_warning_is_read(body: bytes, warning: str) -> None:
    # The whole document is there, and it holds no entry: nothing failed to be read.
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert (result.items, result.error, result.warning) == ((), None, warning)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            DECLARATION + b"<rss version='2.0'><channel><title>T &nbsp; x</title>\n",
            "malformed XML at line 2: undefined entity; no entries could be read",
            id="cut-off-before-the-end",
        ),
        pytest.param(
            DECLARATION
            + b"<rss version='2.0'><channel><title>T &nbsp;</title><item></item></channel></rss>",
            "malformed XML at line 2: undefined entity; no entries could be read",
            id="entries-none-readable",
        ),
    ],
)
def test_an_empty_malformed_feed_cut_off_or_with_unreadable_entries_fails(
    body: bytes, error: str
) -> None:
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert (result.items, result.error) == ((), error)


def test_a_tail_of_many_comments_is_judged_in_linear_time() -> None:
    # One pattern for "the end tag, then comments" backtracks exponentially
    # on this tail (2 s at 24 comments, 30 s at 28), inside C code that holds
    # the GIL: the parse's time limit cannot even stop it.
    body = DECLARATION + EMPTY_RSS.replace(b"{title}", b"T &nbsp; x") + b"<!---->" * 24 + b"<"
    started = time.monotonic()
    result = parse_feed("f", body, fetched_at=FETCHED_AT, time_limit=10)
    assert time.monotonic() - started < 1
    assert result.error == "malformed XML at line 2: undefined entity; no entries could be read"


def test_an_empty_but_valid_feed_is_not_an_error() -> None:
    result = parse_feed("f", rss(""), fetched_at=FETCHED_AT)
    assert (result.items, result.error, result.warning, result.feed_title) == (
        (),
        None,
        None,
        "inline",
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            (FIXTURES / "not-a-feed-html-page.html").read_bytes(),
            "not a feed: looks like an HTML page",
            id="html-page",
        ),
        pytest.param(
            (FIXTURES / "not-a-feed-api-response.json").read_bytes(),
            "not a feed: looks like JSON",
            id="json",
        ),
        pytest.param(b"", "not a feed: the body is empty", id="empty"),
        pytest.param(b" \r\n\t ", "not a feed: the body is empty", id="whitespace"),
        pytest.param(
            b"<?xml version='1.0'?><bomb>1</bomb>",
            "not a feed: the root element is <bomb>, not <rss>, <feed> or <rdf:RDF>",
            id="other-xml",
        ),
        pytest.param(
            b"hello, world",
            "not a feed: malformed XML at line 1: syntax error",
            id="plain-text",
        ),
    ],
)
def test_bodies_that_are_not_feeds(body: bytes, error: str) -> None:
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert (result.items, result.error) == ((), error)


def test_a_body_that_names_a_file_is_not_read_as_a_file(tmp_path: Path) -> None:
    # feedparser.parse(bytes) would open a body that is a path; ours must not.
    local = tmp_path / "feed.xml"
    local.write_bytes(rss("<item><title>secret local file</title></item>"))
    result = parse_feed("f", str(local).encode(), fetched_at=FETCHED_AT)
    assert result.items == ()
    assert result.error is not None
    assert result.error.startswith("not a feed")


def test_a_parse_that_overruns_its_time_limit_is_abandoned() -> None:
    entries = "".join(
        f"<item><title>Entry {n}</title><link>https://example.org/{n}</link>"
        f"<description>{'word ' * 50}</description></item>"
        for n in range(4000)
    )
    started = time.monotonic()
    result = parse_feed("slow", rss(entries), fetched_at=FETCHED_AT, time_limit=0.01)
    assert time.monotonic() - started < 1.0
    assert result.items == ()
    assert result.error == (
        "gave up parsing after 0.01 s: the document is too large or too complex to read in time"
    )


# --- properties -------------------------------------------------------------------

_ID_PREFIXES = ("fr:", "guid:", "guid-shared:", "link:", "hash:")


def assert_sound(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    if result.error is not None:
        assert result.items == ()
    for item in result.items:
        assert item.id.startswith(_ID_PREFIXES)
        assert item.link is None or item.link.startswith(("http://", "https://"))
        assert len(item.title) <= 300
        assert item.title == item.title.strip()
        assert not any(ch in item.title for ch in "\n\r\t\x00")
        assert item.published is None or item.published.utcoffset() == timedelta(0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    assert_sound(parse_feed("fuzz", body, fetched_at=FETCHED_AT))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_in_an_rss_skeleton_never_raises(text: str) -> None:
    body = rss(
        f"<item><title>{text}</title><link>{text}</link><guid>{text}</guid>"
        f"<pubDate>{text}</pubDate><description>{text}</description></item>"
    )
    assert_sound(parse_feed("fuzz", body, fetched_at=FETCHED_AT))


# Characters no decoding repair can touch: ASCII without markup, plus scripts
# outside Latin-1.
_SAFE_TEXT = st.text(
    alphabet=st.sampled_from(
        "abcdefXYZ0123456789 .,;:!?()-_'\"/Экспортконтрль出口管制实体清单経済安全保障"
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(_SAFE_TEXT)
def test_escaped_plain_titles_come_back_with_whitespace_collapsed(text: str) -> None:
    escaped = text.replace('"', "&quot;")
    result = parse_feed(
        "prop",
        rss(f"<item><title>{escaped}</title><link>https://example.org/x</link></item>"),
        fetched_at=FETCHED_AT,
    )
    expected = " ".join(text.split())
    assert result.items[0].title == (truncate_words(expected, 300) or "https://example.org/x")


# --- the demo feeds ---------------------------------------------------------------

DEMO_SPAN = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))


DEMO_FILES = sorted(p.name for p in DEMO_FEEDS.iterdir() if p.suffix in (".rss", ".atom", ".rdf"))


def test_there_are_demo_feeds_of_three_formats() -> None:
    assert {Path(name).suffix for name in DEMO_FILES} == {".rss", ".atom", ".rdf"}
    assert len(DEMO_FILES) >= 3


@pytest.mark.parametrize("name", DEMO_FILES)
def test_demo_feeds_parse_cleanly_and_look_current(name: str) -> None:
    body = (DEMO_FEEDS / name).read_bytes()
    assert len(body) < 100_000
    result = parse_feed(name, body, fetched_at=datetime(2026, 11, 20, tzinfo=UTC))
    assert (result.error, result.warning) == (None, None)
    assert len(result.items) >= 5
    for item in result.items:
        assert item.published is not None
        assert (
            datetime(2026, 9, 1, tzinfo=UTC) <= item.published <= datetime(2026, 11, 20, tzinfo=UTC)
        )
        assert item.link is not None


def test_demo_federal_register_feeds_share_documents() -> None:
    def ids(name: str) -> set[str]:
        body = (DEMO_FEEDS / name).read_bytes()
        return {i.id for i in parse_feed(name, body, fetched_at=FETCHED_AT).items}

    bis, search = ids("fr-bis-documents.rss"), ids("fr-entity-list-search.rss")
    assert all(i.startswith("fr:") for i in bis | search)
    assert "fr:2025-00480" in bis & search
    assert len(bis & search) == 6


# --- bounded work (issue 12) --------------------------------------------------------
# Each hostile document below kept a core busy for minutes to hours; parsed
# under the default time limit, each must now be read, and read right.


def test_a_summary_of_400000_unclosed_tags_is_read_within_the_limit() -> None:
    result = parse_feed("lt", angle_brackets_rss(400_000), fetched_at=FETCHED_AT)
    assert result.error is None
    [item] = result.items
    assert item.title == "Hostile item"
    assert item.summary == truncate_words("<a" * 400_000, 1000)


def test_html_past_what_can_be_kept_is_not_read() -> None:
    # Comments that never close: html.parser scans to the end for each one
    # (quadratic). Only 16 characters of HTML per character kept are read.
    comments = escape("<!--x>" * 400_000).encode()
    body = hostile_rss(b"<description>" + comments + b"</description>")
    result = parse_feed("comments", body, fetched_at=FETCHED_AT, summary_max_chars=500)
    assert result.error is None
    [item] = result.items
    # A comment left open runs to the end, as browsers read it (issue 12, part 9):
    # nothing of it is text, and finding that out reads only a bounded prefix.
    assert item.summary == ""


def test_a_tag_cut_where_reading_stops_leaves_no_half_of_it() -> None:
    image = f'<img src="data:image/png;base64,{"A" * 40_000}">'
    body = hostile_rss(
        b"<description>" + escape(f"<p>Caption.</p>{image}").encode() + b"</description>"
    )
    [item] = parse_feed("image", body, fetched_at=FETCHED_AT).items
    assert item.summary == "Caption."


def test_20000_categories_in_one_item_are_read_up_to_a_cap() -> None:
    result = parse_feed("categories", categories_rss(20_000), fetched_at=FETCHED_AT)
    assert result.error is None
    [item] = result.items
    assert item.tags == tuple(f"topic {n}" for n in range(50))
    # The work: feedparser itself stops collecting tags at the cap.
    parsed = feedparser.parse(io.BytesIO(categories_rss(20_000)))
    assert len(parsed.entries[0]["tags"]) == TAGS_READ_PER_ENTRY


def test_itunes_keywords_are_capped_like_categories() -> None:
    keywords = ",".join(f"k{n}" for n in range(20_000)).encode()
    body = hostile_rss(b"<itunes:keywords>" + keywords + b"</itunes:keywords>").replace(
        b"<rss ", b'<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    )
    parsed = feedparser.parse(io.BytesIO(body))
    assert len(parsed.entries[0]["tags"]) == TAGS_READ_PER_ENTRY
    [item] = parse_feed("keywords", body, fetched_at=FETCHED_AT).items
    assert item.tags == tuple(f"k{n}" for n in range(50))
