"""Tests for bot/ingest/parse.py and bot/ingest/text.py: feed bytes in, normalized Items out.

Fixtures live in tests/fixtures/feeds/ (SOURCES.md says what each one is).
Every expected value below is written out by hand from the fixture text.
"""

from __future__ import annotations

import codecs
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.parse import canonicalize_link, fr_document_number, parse_feed
from bot.ingest.text import (
    collapse_whitespace,
    decode_leftover_entities,
    html_to_text,
    repair_double_utf8,
    truncate_words,
)
from bot.models import Item, ParseResult
from tests.support import paths

FIXTURES = paths.FIXTURES / "feeds"
DEMO_FEEDS = paths.ROOT / "bot" / "demo_feeds"
FETCHED_AT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example/sub/feed.xml"
BIS = "Commerce Department, Industry and Security Bureau"


def parse_fixture(name: str, **kwargs: Any) -> ParseResult:
    options: dict[str, Any] = {"url": FEED_URL, "fetched_at": FETCHED_AT, **kwargs}
    return parse_feed("test-feed", (FIXTURES / name).read_bytes(), **options)


def by_title(result: ParseResult) -> dict[str, Item]:
    return {item.title: item for item in result.items}


def by_link(result: ParseResult) -> dict[str | None, Item]:
    return {item.link: item for item in result.items}


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>inline</title>{items}</channel></rss>"
    ).encode()


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


def test_federal_register_categories_become_lower_case_tags_and_agency_an_author() -> None:
    item = by_title(parse_fixture("fr-documents_2025-08_excerpt.rss"))[
        "Safety Zone; Lake Michigan, Sheboygan, WI"
    ]
    assert item.tags == (
        "harbors",
        "marine safety",
        "navigation (water)",
        "reporting and recordkeeping requirements",
        "security measures",
        "waterways",
    )
    assert item.authors == ("Homeland Security Department, Coast Guard",)


@pytest.mark.parametrize(
    ("fixture", "title", "authors", "tags"),
    [
        pytest.param(
            "atom10-chipwire_synthetic.atom",
            "Explainer: reading an Entity List rule",
            ("Aiko Tanaka", "Sam Ortiz"),
            ("export controls", "entity list"),
            id="atom-two-authors-tags-deduped-case-insensitively",
        ),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            "特定重要物資（半導体）の安定供給確保に関する取組方針の改定",
            ("経済安全保障デスク",),
            ("半導体",),
            id="rdf-dc-creator-and-subject",
        ),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            "Export control briefing for small exporters (English)",
            (),
            (),
            id="rdf-none",
        ),
    ],
)
def test_authors_and_tags(
    fixture: str, title: str, authors: tuple[str, ...], tags: tuple[str, ...]
) -> None:
    item = by_title(parse_fixture(fixture))[title]
    assert (item.authors, item.tags) == (authors, tags)


# --- identity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "title", "expected_id"),
    [
        pytest.param(
            "fr-entity-list.rss", "Entity List Additions", "fr:2023-24508", id="fr-from-guid"
        ),
        pytest.param(
            "rss20-identity-fallbacks.xml",
            "Federal Register document by its short URL",
            "fr:2025-00480",
            id="fr-from-short-link-despite-other-guid",
        ),
        pytest.param(
            "rss20-identity-fallbacks.xml",
            "Item with a GUID",
            "guid:urn:uuid:0b5a2d4e-7f35-4f4c-9c54-6b1f9d1e2a01",
            id="guid",
        ),
        pytest.param(
            "rss20-identity-fallbacks.xml",
            "Item with a link but no GUID",
            "link:https://feeds.example/b",
            id="canonical-link",
        ),
        pytest.param(
            "rss20-identity-fallbacks.xml",
            "Overlong GUID",
            "guid:sha1:" + hashlib.sha1(b"x" * 250).hexdigest(),
            id="overlong-guid-hashed",
        ),
        pytest.param(
            "atom10-chipwire_synthetic.atom",
            "Semiconductor tool orders slow in the third quarter",
            "guid:tag:chipwire.example,2026:entry-100",
            id="atom-id",
        ),
    ],
)
def test_item_identity(fixture: str, title: str, expected_id: str) -> None:
    assert by_title(parse_fixture(fixture))[title].id == expected_id


def test_overlong_guid_is_kept_raw_in_the_guid_field() -> None:
    assert by_title(parse_fixture("rss20-identity-fallbacks.xml"))["Overlong GUID"].guid == (
        "x" * 250
    )


def test_federal_register_identity_survives_a_slug_change() -> None:
    body = (FIXTURES / "fr-entity-list.rss").read_bytes()
    old_slug = b"/2025-00480/additions-to-the-entity-list<"
    renamed = body.replace(old_slug, b"/2025-00480/additions-to-the-entity-list-corrected<")
    assert renamed.count(b"-corrected<") == 2  # both <link> and <guid>
    before = by_title(parse_feed("fr", body, fetched_at=FETCHED_AT))
    after = by_title(parse_feed("fr", renamed, fetched_at=FETCHED_AT))
    old, new = before["Additions to the Entity List"], after["Additions to the Entity List"]
    assert new.link is not None and new.link.endswith("-corrected")
    assert new.id == old.id == "fr:2025-00480"


def test_hash_identity_is_stable_and_follows_content() -> None:
    first = by_title(parse_fixture("rss20-identity-fallbacks.xml"))
    second = by_title(
        parse_fixture(
            "rss20-identity-fallbacks.xml",
            fetched_at=FETCHED_AT + timedelta(days=30),
            summary_max_chars=20,
        )
    )
    title = "Item with neither GUID nor link"
    assert first[title].id.startswith("hash:")
    assert first[title].id == second[title].id
    edited = (
        (FIXTURES / "rss20-identity-fallbacks.xml")
        .read_bytes()
        .replace(b"Only text;", b"Only text, edited;")
    )
    third = by_title(parse_feed("test-feed", edited, url=FEED_URL, fetched_at=FETCHED_AT))
    assert third[title].id.startswith("hash:")
    assert third[title].id != first[title].id


def test_link_title_key_matches_a_re_guided_entry_with_the_same_link_and_title() -> None:
    before = parse_feed(
        "f",
        rss(
            "<item><title>Additions to the  Entity List</title>"
            "<link>https://example.org/a?utm_source=x</link><guid>old-guid</guid></item>"
        ),
        fetched_at=FETCHED_AT,
    ).items[0]
    after = parse_feed(
        "f",
        rss(
            "<item><title>ADDITIONS to the Entity List</title>"
            "<link>https://EXAMPLE.org/a</link><guid>new-guid</guid></item>"
        ),
        fetched_at=FETCHED_AT,
    ).items[0]
    other = parse_feed(
        "f",
        rss("<item><title>Revisions</title><link>https://example.org/a</link></item>"),
        fetched_at=FETCHED_AT,
    ).items[0]
    assert (before.id, after.id) == ("guid:old-guid", "guid:new-guid")
    assert before.link_title_key is not None
    assert before.link_title_key == after.link_title_key
    assert other.link_title_key != before.link_title_key


def test_missing_titles_fall_back_and_empty_entries_are_skipped() -> None:
    result = parse_fixture("rss20-identity-fallbacks.xml")
    items = by_link(result)
    assert len(result.items) == 7  # 8 entries; the one with only blanks is skipped
    excerpt = items["https://feeds.example/d"].title
    assert excerpt == (
        "An entry without a title: the summary stands in, cut at a word boundary once it runs"
        " past one…"
    )
    assert items["https://feeds.example/d"].link_title_key is None  # no real title
    assert items["https://feeds.example/only-a-link"].title == "https://feeds.example/only-a-link"


def test_duplicate_guids_keep_the_first_occurrence() -> None:
    result = parse_fixture("rss20-duplicate-guids.xml")
    assert [(i.title, i.link) for i in result.items] == [
        ("First copy", "https://feeds.example/dup/1"),
        ("Second item", "https://feeds.example/dup/2"),
    ]


# --- text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "title", "summary"),
    [
        pytest.param(
            "https://feeds.example/t/1",
            "Bold move: BIS adds entities",
            "First second paragraph here",
            id="html-tags-script-style-nbsp",
        ),
        pytest.param(
            "https://feeds.example/t/2",
            "<!channel> urgent: <https://evil.example|click here>",
            "Mentions stay text.",
            id="slack-syntax-kept-as-plain-text",
        ),
        pytest.param(
            "https://feeds.example/t/3",
            'Commission\'s "quoted" R&D notice',
            'The public\'s "reporting burden" and R&D.',
            id="federal-register-double-escaping",
        ),
        pytest.param(
            "https://feeds.example/t/4",
            "India's new chip fab rises from the dust",
            "Padded CDATA with tabs and newlines",
            id="cdata-padding-and-whitespace",
        ),
        pytest.param(
            "https://feeds.example/t/6",
            "AT&T and R&D stay as they are; so does &notice",
            "",
            id="ampersands-not-over-decoded",
        ),
    ],
)
def test_titles_and_summaries_become_plain_text(link: str, title: str, summary: str) -> None:
    item = by_link(parse_fixture("rss20-text-cleaning.xml"))[link]
    assert (item.title, item.summary) == (title, summary)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        pytest.param(
            "Explainer: reading an Entity List rule",
            "Every Entity List rule names destinations and counts: this is how to read them.",
            id="html-title-and-summary",
        ),
        pytest.param(
            "Semiconductor tool orders slow in the third quarter",
            "Orders for wafer-fab equipment fell for a second quarter."
            " Suppliers cited export licensing delays.",
            id="xhtml-content-when-no-summary",
        ),
        pytest.param(
            "Rare-earth magnets: buyers look beyond a single source <analysis>",
            "Plain-text summary with a literal <b> that is not markup.",
            id="text-constructs-keep-angle-brackets",
        ),
    ],
)
def test_atom_text_constructs_honour_their_type(title: str, summary: str) -> None:
    assert by_title(parse_fixture("atom10-chipwire_synthetic.atom"))[title].summary == summary


@pytest.mark.parametrize("limit", [1, 2, 40, 100, 333])
def test_long_summaries_are_cut_at_a_word_boundary_with_an_ellipsis(limit: int) -> None:
    full = " ".join(["Export controls on advanced computing items"] * 40)
    item = by_link(parse_fixture("rss20-text-cleaning.xml", summary_max_chars=limit))[
        "https://feeds.example/t/5"
    ]
    assert len(item.summary) <= limit
    assert item.summary.endswith("…")
    kept = item.summary[:-1]
    assert full.startswith(kept)
    if len(kept) > 1:
        assert full[len(kept)] == " "  # the cut falls between words


def test_short_summaries_are_not_touched() -> None:
    item = by_link(parse_fixture("rss20-text-cleaning.xml", summary_max_chars=1000))[
        "https://feeds.example/t/3"
    ]
    assert item.summary == 'The public\'s "reporting burden" and R&D.'


@pytest.mark.parametrize(
    ("function", "given_text", "expected"),
    [
        pytest.param(html_to_text, "<p>a</p><p>b</p>", " a  b ", id="html-blocks-separate-words"),
        pytest.param(
            html_to_text,
            "x<script>evil()</script><style>p{}</style>y",
            "xy",
            id="html-drops-script-style",
        ),
        pytest.param(html_to_text, "&lt;b&gt; &amp; &#39;", "<b> & '", id="html-entities"),
        pytest.param(html_to_text, "<![CDATA[kept]]>", "kept", id="html-cdata-content-kept"),
        pytest.param(collapse_whitespace, " a\t\nb\u00a0\u200bc  ", "a b c", id="whitespace"),
        pytest.param(collapse_whitespace, "a\x00b\x1fc", "a b c", id="control-characters"),
        pytest.param(decode_leftover_entities, "it&#39;s &quot;x&quot;", 'it\'s "x"', id="double"),
        pytest.param(
            decode_leftover_entities, "AT&T &notice &lt;", "AT&T &notice &lt;", id="strict"
        ),
        pytest.param(
            repair_double_utf8,
            "Ð’ ÐœÐ¾Ñ\x81ÐºÐ²Ðµ",
            "В Москве",
            id="mojibake-cp1252-repaired",
        ),
        pytest.param(repair_double_utf8, "Ã©tÃ©", "été", id="mojibake-latin1-repaired"),
        pytest.param(
            repair_double_utf8, "café “quoted” Ã", "café “quoted” Ã", id="genuine-text-untouched"
        ),
        pytest.param(repair_double_utf8, "经济安全", "经济安全", id="cjk-untouched"),
    ],
)
def test_text_helpers(function: Callable[[str], str], given_text: str, expected: str) -> None:
    assert function(given_text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("short", 10, "short", id="fits"),
        pytest.param("one two three four", 12, "one two…", id="word-boundary"),
        pytest.param("supercalifragilistic", 8, "superca…", id="one-long-word-cut-inside"),
        pytest.param("a, b, c, d, e", 7, "a, b…", id="trailing-punctuation-dropped"),
        pytest.param("anything", 0, "", id="zero"),
        pytest.param("anything", 1, "…", id="one"),
    ],
)
def test_truncate_words(text: str, limit: int, expected: str) -> None:
    assert truncate_words(text, limit) == expected


# --- links ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        pytest.param(
            "https://Example.COM:443/a?utm_source=x&id=3&fbclid=1#frag",
            "",
            "https://example.com/a?id=3",
            id="host-case-default-port-tracking-fragment",
        ),
        pytest.param("http://example.com:80", "", "http://example.com/", id="empty-path"),
        pytest.param("http://example.com:8080/x", "", "http://example.com:8080/x", id="port"),
        pytest.param(
            "https://example.com/p?b=2&utm_medium=rss&a=1&UTM_Campaign=x&mc_cid=1&mc_eid=2"
            "&igshid=3&_hsenc=4&_hsmi=5&ref_src=6&gclid=7&msclkid=8",
            "",
            "https://example.com/p?b=2&a=1",
            id="tracking-params-removed-order-kept",
        ),
        pytest.param(
            "https://example.com/p?q=a%20b&flag&x=",
            "",
            "https://example.com/p?q=a%20b&flag&x=",
            id="other-params-byte-for-byte",
        ),
        pytest.param(
            "https://www.federalregister.gov/api/v1/documents.rss?conditions%5Bagencies%5D%5B%5D"
            "=industry-and-security-bureau",
            "",
            "https://www.federalregister.gov/api/v1/documents.rss?conditions%5Bagencies%5D%5B%5D"
            "=industry-and-security-bureau",
            id="federal-register-query-untouched",
        ),
        pytest.param("/news/1", FEED_URL, "https://feeds.example/news/1", id="root-relative"),
        pytest.param("news/2", FEED_URL, "https://feeds.example/sub/news/2", id="path-relative"),
        pytest.param("//cdn.example/x", FEED_URL, "https://cdn.example/x", id="protocol-relative"),
        pytest.param("/relative", "", None, id="relative-without-base"),
        pytest.param("javascript:alert(1)", FEED_URL, None, id="javascript"),
        pytest.param("mailto:desk@example.com", "", None, id="mailto"),
        pytest.param("ftp://example.com/file", "", None, id="ftp"),
        pytest.param("https://user:secret@example.com/", "", "https://example.com/", id="userinfo"),
        pytest.param(
            " https://example.com/with space\n", "", "https://example.com/with%20space", id="spaces"
        ),
        pytest.param("https://[::1]:8443/x", "", "https://[::1]:8443/x", id="ipv6"),
        pytest.param("https://example.com:99999/", "", None, id="bad-port"),
        pytest.param("http://", "", None, id="no-host"),
        pytest.param("", FEED_URL, None, id="empty"),
    ],
)
def test_canonicalize_link(raw: str, base: str, expected: str | None) -> None:
    assert canonicalize_link(raw, base) == expected


def test_relative_links_in_a_feed_resolve_against_its_url() -> None:
    links = {item.title: item.link for item in parse_fixture("rss20-relative-links.xml").items}
    assert links == {
        "root-relative": "https://feeds.example/news/1",
        "path-relative": "https://feeds.example/sub/news/2?id=7",
        "parent-relative": "https://feeds.example/archive/3",
        "protocol-relative": "https://cdn.feeds.example/4",
        "javascript": None,
        "mailto": None,
        "fragment and default port": "https://feeds.example/5",
    }


def test_content_location_header_is_the_base_for_relative_links() -> None:
    result = parse_fixture(
        "rss20-relative-links.xml",
        url="https://feeds.example/feed.xml",
        headers={"Content-Location": "https://mirror.example/other/feed.xml"},
    )
    assert by_title(result)["root-relative"].link == "https://mirror.example/news/1"
    assert by_title(result)["path-relative"].link == "https://mirror.example/other/news/2?id=7"


def test_relative_links_without_a_feed_url_are_dropped() -> None:
    result = parse_fixture("rss20-relative-links.xml", url="")
    assert by_title(result)["root-relative"].link is None
    assert by_title(result)["protocol-relative"].link is None


@pytest.mark.parametrize(
    ("url", "number"),
    [
        pytest.param(
            "https://www.federalregister.gov/documents/2023/02/08/2023-02130/some-title-slug",
            "2023-02130",
            id="documents-with-slug",
        ),
        pytest.param(
            "https://www.federalregister.gov/documents/2025/01/16/2025-00480",
            "2025-00480",
            id="documents-without-slug",
        ),
        pytest.param("https://www.federalregister.gov/d/2023-02130", "2023-02130", id="short"),
        pytest.param("http://federalregister.gov/d/E8-12345", "E8-12345", id="old-style-number"),
        pytest.param(
            "https://www.federalregister.gov/api/v1/documents/2025-00480.json",
            "2025-00480",
            id="api-json",
        ),
        pytest.param(
            "https://www.federalregister.gov/public-inspection/2025-00480/additions",
            "2025-00480",
            id="public-inspection",
        ),
        pytest.param(
            "https://public-inspection.federalregister.gov/2025-00480.pdf",
            "2025-00480",
            id="public-inspection-pdf",
        ),
        pytest.param("https://www.federalregister.gov/api/v1/documents.rss", None, id="feed"),
        pytest.param(
            "https://www.federalregister.gov/documents/search?conditions%5Bterm%5D=entity",
            None,
            id="search",
        ),
        pytest.param("https://example.com/d/2025-00480", None, id="other-host"),
        pytest.param("https://notfederalregister.gov/d/2025-00480", None, id="lookalike-host"),
        pytest.param("urn:uuid:1234", None, id="not-a-url"),
        pytest.param(None, None, id="none"),
    ],
)
def test_fr_document_number(url: str | None, number: str | None) -> None:
    assert fr_document_number(url) == number


# --- dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param(
            "updated beats published",
            datetime(2026, 11, 17, 11, 30, tzinfo=UTC),
            id="updated-over-published",
        ),
        pytest.param(
            "RFC 822 with offset", datetime(2026, 11, 17, 13, 15, tzinfo=UTC), id="rfc822-offset"
        ),
        pytest.param(
            "ISO 8601 with offset", datetime(2026, 11, 17, 14, 30, tzinfo=UTC), id="iso-offset"
        ),
        pytest.param("missing", None, id="missing"),
        pytest.param("garbage", None, id="garbage"),
        pytest.param("before 1990", None, id="before-1990"),
        pytest.param("far future", None, id="far-future"),
        pytest.param(
            "absurd updated, sound published",
            datetime(2026, 11, 18, 6, 0, tzinfo=UTC),
            id="absurd-updated-falls-back",
        ),
    ],
)
def test_published_dates(title: str, expected: datetime | None) -> None:
    result = parse_fixture("rss20-dates.xml")
    assert len(result.items) == 8  # a bad date never costs the item
    published = by_title(result)[title].published
    assert published == expected
    if published is not None:
        assert published.utcoffset() == timedelta(0)


def test_the_future_is_judged_from_fetched_at() -> None:
    later = parse_fixture("rss20-dates.xml", fetched_at=datetime(2099, 1, 1, tzinfo=UTC))
    assert by_title(later)["far future"].published == datetime(2099, 1, 1, tzinfo=UTC)


def test_a_naive_fetched_at_is_taken_as_utc() -> None:
    result = parse_fixture("rss20-dates.xml", fetched_at=datetime(2026, 11, 18, 12, 0))
    assert by_title(result)["RFC 822 with offset"].published == datetime(
        2026, 11, 17, 13, 15, tzinfo=UTC
    )


# --- encodings --------------------------------------------------------------------

CP1252_TITLE = "Zölle auf Halbleiter – „Überblick“ für Exporteure"
CYRILLIC_TITLE = "Экспортный контроль: новые правила для полупроводников"
CHINESE_TITLE = "出口管制实体清单新增十六家实体"
FRENCH_TITLE = "Contrôle des exportations : révision de la liste"
JAPANESE_TITLE = "経済安全保障推進法に基づく特定重要物資"
RDF_TITLE = "特定重要物資（半導体）の安定供給確保に関する取組方針の改定"


@pytest.mark.parametrize(
    ("fixture", "headers", "title", "warning"),
    [
        pytest.param(
            "rss20-declared-utf8-actually-cp1252.xml",
            {},
            CP1252_TITLE,
            "wrong character encoding: declared as utf-8; decoded as windows-1252",
            id="declared-utf8-actually-cp1252",
        ),
        pytest.param("rss20-windows-1251.xml", {}, CYRILLIC_TITLE, None, id="windows-1251"),
        pytest.param(
            "rss20-windows-1251.xml",
            {"Content-Type": "application/rss+xml; charset=utf-8"},
            CYRILLIC_TITLE,
            None,
            id="header-utf8-body-windows-1251",
        ),
        pytest.param(
            "rss20-windows-1251.xml",
            {"content-type": "text/xml; charset=no-such-charset"},
            CYRILLIC_TITLE,
            None,
            id="unknown-header-charset-ignored",
        ),
        pytest.param("rss20-gb2312.xml", {}, CHINESE_TITLE, None, id="gb2312"),
        pytest.param(
            "rss20-latin1-no-declaration.xml",
            {},
            FRENCH_TITLE,
            "wrong character encoding: none declared and not UTF-8; decoded as windows-1252",
            id="latin1-no-declaration",
        ),
        pytest.param("rss20-utf16le-bom.xml", {}, JAPANESE_TITLE, None, id="utf16le-bom"),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            {"Content-Type": "text/xml; charset=ISO-8859-1"},
            RDF_TITLE,
            None,
            id="header-latin1-body-utf8",
        ),
        pytest.param(
            "rss10-keizai-anpo_synthetic.rdf",
            {"Content-Type": "text/xml"},
            RDF_TITLE,
            None,
            id="text-xml-without-charset-is-not-ascii",
        ),
    ],
)
def test_encodings(fixture: str, headers: dict[str, str], title: str, warning: str | None) -> None:
    result = parse_fixture(fixture, headers=headers)
    assert result.error is None
    assert result.items[0].title == title
    assert result.warning == warning


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


BILLION_LAUGHS = (FIXTURES / "security-billion-laughs.rss").read_bytes()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            BILLION_LAUGHS,
            "refused: the DOCTYPE declares 10 XML entities (lol, lol1, lol2, …); feeds that"
            " declare entities are not parsed, to rule out entity-expansion bombs",
            id="billion-laughs",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE
            + BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-16-le"),
            "refused: the DOCTYPE declares 10 XML entities (lol, lol1, lol2, …); feeds that"
            " declare entities are not parsed, to rule out entity-expansion bombs",
            id="billion-laughs-in-utf16",
        ),
        pytest.param(
            (FIXTURES / "security-xxe-external-entity.rss").read_bytes(),
            "refused: the DOCTYPE declares an external entity (secret); external entities are"
            " never resolved",
            id="xxe",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!-- <a> --><?style <b> ?>'
            b'<!DOCTYPE rss SYSTEM "<x>" [<!ATTLIST rss v CDATA "<y>">'
            b'<!ENTITY e SYSTEM "file:///etc/hostname">]><rss version="2.0"><channel>'
            b"<item><title>&e;</title></item></channel></rss>",
            "refused: the DOCTYPE declares an external entity (e); external entities are never"
            " resolved",
            id="xxe-behind-comment-pi-and-quoted-markup",
        ),
        pytest.param(
            b'<!DOCTYPE r [<!ENTITY a "'
            + b"B" * 200_000
            + b'">]><rss>'
            + b"&a;" * 5_000
            + b"</rss>",
            "refused: the DOCTYPE declares 1 XML entity (a); feeds that declare entities are not"
            " parsed, to rule out entity-expansion bombs",
            id="quadratic-blowup",
        ),
    ],
)
def test_entity_declarations_are_refused_quickly_without_expansion(body: bytes, error: str) -> None:
    started = time.monotonic()
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert time.monotonic() - started < 1.0
    assert (result.items, result.error, result.feed_title) == ((), error, "")


def test_a_doctype_without_entities_is_still_read() -> None:
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old</title><item><title>Still here</title><link>https://old.example/1</link>"
        b"</item></channel></rss>"
    )
    result = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert result.error is None
    assert [item.title for item in result.items] == ["Still here"]


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

_ID_PREFIXES = ("fr:", "guid:", "link:", "hash:")


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
