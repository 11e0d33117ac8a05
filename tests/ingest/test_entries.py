"""bot/ingest/entries.py, through parse_feed: identity, plain text, dates, authors and tags."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest.parse import parse_feed
from tests.ingest.feedfixtures import (
    FEED_URL,
    FETCHED_AT,
    FIXTURES,
    by_link,
    by_title,
    parse_fixture,
    rss,
)

# --- authors and tags -------------------------------------------------------------


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


def test_a_guid_reused_by_a_different_entry_keeps_both_and_drops_exact_repeats() -> None:
    result = parse_fixture("rss20-duplicate-guids.xml")
    assert [(i.title, i.link) for i in result.items] == [
        ("First copy", "https://feeds.example/dup/1"),
        ("Second item", "https://feeds.example/dup/2"),
        ("Reused GUID, different title", "https://feeds.example/dup/1-again"),
    ]
    first, second, reused = result.items
    assert second.id == "guid:https://feeds.example/dup/2"
    assert first.id.startswith("guid-shared:") and reused.id.startswith("guid-shared:")
    assert first.id != reused.id


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
