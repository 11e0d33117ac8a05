"""One feedparser entry to an `Item`: plain text, dates, authors and tags; identity per document.

Not obvious:
- Identity (id, second dedup key, the keys release 0.1 gave the entry) is
  `bot/ingest/identity.py`'s, and is assigned per document, not per entry:
  whether a GUID is shared by distinct entries is a fact of the document.
  Such a document is warned about once (naming the feed), not once per entry.
- Text. Titles and summaries become plain text (see bot/ingest/text.py). Text that
  feedparser reports as plain stays as is, so a title `<!channel>` is kept
  literally; escaping for Slack is the renderer's job.
- The link shown (`Item.link`) is FeedBurner's `origLink` when there is one
  (the publisher's own URL, the same in every feed that carries the story,
  where the entry's link is a redirect through FeedBurner), else the entry's
  link, else a GUID that is an http(s) URL, else the first enclosure
  (podcasts). Identity keeps using the entry's own link.
- An entry with no title, link or text is kept when it has such another link
  or a graphic (an inline SVG or an image, titled by its accessible name);
  its identity then uses that link. One with nothing at all is skipped.
- Dates. A date before 1990, more than a day after `fetched_at`, or with a
  year feedparser misreads (`10000-01-01` comes back as 2010-12-01) counts as
  missing: the item is then dated by when it was first seen, so a typo
  cannot sort it above everything for years, and the date the feed gave is
  kept in `extras["ignored_date"]`.
- The Federal Register agency (`dc:creator`) goes to `authors`, not `tags`:
  tags stay the entry's own categories.
- Within one document, an entry whose id repeats an earlier one's is dropped.

Entries are feedparser's dicts, but this module does not import feedparser
(bot/ingest/parse.py is its one importer).
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.ingest.identity import EntryFacts, identify
from bot.ingest.links import canonicalize_link, fr_document_number
from bot.ingest.text import graphic_label, to_plain_text, truncate_words
from bot.models import Item

__all__ = ["TITLE_MAX_CHARS", "entries_to_items", "plain_field"]

logger = logging.getLogger(__name__)

TITLE_MAX_CHARS = 300
TITLE_FROM_SUMMARY_CHARS = 100
UNTITLED_GRAPHIC = "(image)"
MAX_TAGS = 50
TAG_MAX_CHARS = 100
AUTHOR_MAX_CHARS = 200
# Dates outside [1990, fetched_at + 1 day] are typos or placeholders. A day
# covers clocks that are off and local times labelled UTC (at most 14 hours).
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
IGNORED_DATE_KEY = "ignored_date"
RAW_DATE_MAX_CHARS = 100
# How the date fields are named in feedparser's entries, in order of preference.
_DATE_KEYS = ("updated", "published", "created")
_PARSED_DATE_KEYS = tuple((key, f"{key}_parsed") for key in _DATE_KEYS)
_DETAIL_KEYS = {"title": "title_detail", "summary": "summary_detail"}
# An ISO 8601 date: feedparser reads a five-digit year's first four digits and
# rolls a month 13 or a day 45 over into another date instead of refusing it.
_ISO_DATE = re.compile(r"\s*[+-]?(\d{4,})-(\d{1,2})(?:-(\d{1,2}))?")

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})


def entries_to_items(
    entries: Iterable[dict[str, Any]],
    feed_id: str,
    base: str,
    fetched_at: datetime,
    summary_max_chars: int,
) -> list[Item]:
    """The document's entries as Items, in order; empty entries and repeats dropped."""
    drafts: list[tuple[dict[str, Any], EntryFacts]] = []
    for entry in entries:
        draft = _normalize_entry(entry, feed_id, base, fetched_at, summary_max_chars)
        if draft is None:
            logger.debug("feed %s: skipped an entry with no title, link or summary", feed_id)
            continue
        drafts.append(draft)
    identities, shared = identify(feed_id, [facts for _, facts in drafts])
    if shared:
        logger.warning(
            "feed %s: %d different entries share %d GUID(s); each is told apart by its"
            " link and title",
            feed_id,
            len({i.id for i in identities if i.id.startswith("guid-shared:")}),
            shared,
        )
    items: list[Item] = []
    seen_ids: set[str] = set()
    for (fields, _), identity in zip(drafts, identities, strict=True):
        if identity.id in seen_ids:
            logger.debug("feed %s: dropped a repeat of %s in the document", feed_id, identity.id)
            continue
        seen_ids.add(identity.id)
        # Made once, with its identity (dataclasses.replace cost a third of this module's time).
        items.append(
            Item(
                id=identity.id,
                feed_id=feed_id,
                link_title_key=identity.link_title_key,
                former_keys=identity.former_keys,
                **fields,
            )
        )
    return items


def _normalize_entry(
    entry: dict[str, Any],
    feed_id: str,
    base: str,
    fetched_at: datetime,
    summary_max_chars: int,
) -> tuple[dict[str, Any], EntryFacts] | None:
    """The entry's Item fields but its identity, and what its identity is made of."""
    title = truncate_words(plain_field(entry, "title"), TITLE_MAX_CHARS)
    summary_full = plain_field(entry, "summary") or _plain_content(entry)
    link = canonicalize_link(_str(dict.get(entry, "link")), base)
    shown_link = _shown_link(entry, link, base)
    if not (title or link or summary_full):
        textless_title = _textless_title(entry, shown_link)
        if textless_title is None:
            return None
        title, link = textless_title, shown_link

    guid = _str(dict.get(entry, "id")).strip() or None
    # Only release 0.1's hash of an entry with neither GUID nor link reads the dates as written.
    raw_dates = "" if guid or link else "\n".join(_str(_raw(entry, key)) for key in _DATE_KEYS)
    facts = EntryFacts(
        guid=guid,
        link=link,
        title=title,
        text=summary_full,
        raw_dates=raw_dates,
        fr_number=fr_document_number(guid) or fr_document_number(link),
    )
    shown_title = title or truncate_words(summary_full, TITLE_FROM_SUMMARY_CHARS) or (link or "")
    published, ignored_date = _entry_time(entry, fetched_at)
    fields = {
        "title": shown_title,
        "summary": truncate_words(summary_full, summary_max_chars),
        "link": shown_link,
        "published": published,
        "authors": _entry_authors(entry),
        "tags": _entry_tags(entry),
        "guid": guid,
        "extras": {IGNORED_DATE_KEY: ignored_date} if ignored_date else {},
    }
    return fields, facts


def _shown_link(entry: dict[str, Any], link: str | None, base: str) -> str | None:
    """The link a reader is given: origLink, link, a GUID URL, an enclosure (module docstring)."""
    origlink = _str(_raw(entry, "feedburner_origlink"))
    original = canonicalize_link(origlink, base) if origlink else None
    if original or link:
        return original or link
    guid_url = canonicalize_link(_str(_raw(entry, "id")))  # no base: a GUID is never relative
    if guid_url:
        return guid_url
    for block in _raw(entry, "links") or []:
        if isinstance(block, Mapping) and block.get("rel") == "enclosure":
            href = canonicalize_link(_str(block.get("href")), base)
            if href:
                return href
    return None


def _textless_title(entry: dict[str, Any], shown_link: str | None) -> str | None:
    """The title of an entry with no text and no link: a graphic's name, or "" to show
    `shown_link`; None when there is nothing to show at all (the entry is skipped)."""
    markup = [_str(_raw(entry, "title")), _str(_raw(entry, "summary"))]
    markup += [_str(b.get("value")) for b in _raw(entry, "content") or [] if isinstance(b, Mapping)]
    labels = [label for label in map(graphic_label, markup) if label is not None]
    if labels:
        named = next((label for label in labels if label), "")
        return truncate_words(named, TITLE_MAX_CHARS) or ("" if shown_link else UNTITLED_GRAPHIC)
    return "" if shown_link else None


def plain_field(container: dict[str, Any], key: str) -> str:
    """A text construct (title, summary) as plain text, honouring its declared type."""
    value = _str(dict.get(container, key))
    if not value:
        return ""
    detail = dict.get(container, _DETAIL_KEYS.get(key) or f"{key}_detail")
    if isinstance(detail, dict | Mapping):
        content_type = _str(detail.get("type"))
    else:
        # feedparser copies an Atom entry's <content> into `summary` without a
        # `summary_detail`; the type is then the content's. Unknown means HTML,
        # as in feedparser itself.
        content_type = next(
            (
                _str(block.get("type"))
                for block in _raw(container, "content") or []
                if isinstance(block, Mapping) and block.get("value") == value
            ),
            "text/html",
        )
    return to_plain_text(value, is_html=content_type.lower() in _HTML_TYPES)


def _plain_content(entry: dict[str, Any]) -> str:
    for block in _raw(entry, "content") or []:
        if isinstance(block, Mapping):
            text = to_plain_text(
                _str(block.get("value")),
                is_html=_str(block.get("type")).lower() in _HTML_TYPES,
            )
            if text:
                return text
    return ""


def _entry_time(entry: dict[str, Any], fetched_at: datetime) -> tuple[datetime | None, str]:
    """Updated, else published, else created, in UTC; implausible dates count as missing.

    Also the first date the feed gave when none was used ("" when none was given).
    """
    latest = fetched_at + FUTURE_SLACK
    ignored = ""
    for key, parsed_key in _PARSED_DATE_KEYS:
        when = _read_time(entry, key, parsed_key) if dict.get(entry, parsed_key) else None
        if when is not None and EARLIEST_DATE <= when <= latest:
            return when, ""
        if when is not None:
            logger.debug("implausible %s %s: treated as missing", key, when.isoformat())
        ignored = ignored or _str(_raw(entry, key)).strip()[:RAW_DATE_MAX_CHARS]
    return None, ignored


def _read_time(entry: dict[str, Any], key: str, parsed_key: str) -> datetime | None:
    """One of the entry's dates in UTC, or None when absent or unreadable."""
    parsed = _raw(entry, parsed_key)
    if not parsed or not _iso_fields_valid(_str(_raw(entry, key))):
        return None
    try:
        # feedparser's struct_time is already UTC; timegm also copes with second 60.
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        logger.debug("unreadable %s %r: treated as missing", key, parsed)
        return None


def _iso_fields_valid(raw: str) -> bool:
    """False for an ISO 8601 date feedparser would misread: a year past 9999, month 13, day 32."""
    match = _ISO_DATE.match(raw)
    if not match:
        return True  # not ISO 8601: feedparser's other parsers refuse such fields themselves
    year, month, day = match.group(1), int(match.group(2)), int(match.group(3) or 1)
    try:
        datetime(int(year), month, day)
    except ValueError:
        return False
    return len(year) == 4


def _entry_authors(entry: dict[str, Any]) -> tuple[str, ...]:
    if not dict.get(entry, "authors") and not dict.get(entry, "author"):
        return ()
    raw: list[str] = []
    for author in _raw(entry, "authors") or []:
        if isinstance(author, Mapping):
            raw.append(_str(author.get("name")) or _str(author.get("email")))
    if not any(raw):
        raw.append(_str(_raw(entry, "author")))
    names: list[str] = []
    for value in raw:
        name = truncate_words(to_plain_text(value, is_html=False), AUTHOR_MAX_CHARS)
        if name and name not in names:
            names.append(name)
    return tuple(names)


def _entry_tags(entry: dict[str, Any]) -> tuple[str, ...]:
    if not dict.get(entry, "tags"):
        return ()
    tags: list[str] = []
    for tag in _raw(entry, "tags") or []:
        if not isinstance(tag, Mapping):
            continue
        term = _str(tag.get("term")) or _str(tag.get("label"))
        text = to_plain_text(term, is_html=False).lower()[:TAG_MAX_CHARS].strip()
        if text and text not in tags:
            tags.append(text)
            if len(tags) == MAX_TAGS:
                break
    return tuple(tags)


def _raw(container: dict[str, Any], key: str) -> Any:
    """`container[key]` or None, bypassing FeedParserDict's key aliasing.

    feedparser maps `updated` to `published` (with a DeprecationWarning) and
    `description` to `summary`; dates and types must be read as stored.
    """
    return dict.get(container, key)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
