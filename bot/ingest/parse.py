"""Feed bytes to normalized `Item`s: the one module that imports feedparser.

`parse_feed` never raises. What it could not read is reported in the result:
`error` when nothing at all could be read (not a feed, refused, too slow),
`warning` when a malformed or mis-encoded feed was read leniently.

Not obvious from the code's shape:

- Safety. The body is handed to feedparser wrapped in `BytesIO`: given raw
  bytes or a str, feedparser would treat a body such as `/etc/passwd` as a
  file name to open. Documents whose DOCTYPE declares entities are refused
  before parsing (bot/ingest/prolog.py). Each parse runs under a time limit;
  a parse that overruns is abandoned (Python cannot kill a thread, so it
  finishes in the background) and reported as an error.
- Encoding. feedparser is always told `application/xml`, with the charset
  bot/ingest/charset.py chooses from the header and the document. A charset
  it had to detect (a legacy East Asian encoding named nowhere, or named
  wrongly) is reported as a warning, since it is a guess, if a good one.
- Bounded work. feedparser de-duplicates an entry's tags with a list scan per
  tag, quadratic (20,000 `<category>` in one item took a minute): its
  `_add_tag` is wrapped here to stop reading past `TAGS_READ_PER_ENTRY` tags
  per entry, whatever element they come from (category, dc:subject,
  itunes:keywords...). Each title, summary and content value is cut to
  `HTML_PER_KEPT_CHAR` characters per character that can be kept before it
  is converted to text (bot/ingest/text.py `cut_html`): the rest would be
  thrown away, and converting it is what costs. One consequence: an item with
  neither GUID nor link, identified by a hash of its text, is identified by
  the text read, so only past ~16,000 characters of summary would a change of
  `summary_max_chars` change its identity.
- Speed. feedparser runs through `_run_feedparser` (its own steps for a body
  in memory) with parser classes of ours whose content parameters skip its
  key aliasing and deep copies; bare feedparser elsewhere in the process is
  unchanged. The cyclic GC is paused while entries become Items.
- Where it runs. In-process here; bot/ingest/parsepool.py runs this same
  function in worker processes it can kill at the time limit.
- Entries become Items in bot/ingest/entries.py (identity, text, dates), their
  links canonical by bot/ingest/links.py.
- Malformed and without items is an error ("no entries could be read": most
  likely a cut-off download) unless the document ends with the feed's end tag
  and holds no entry element: then it is an empty feed read with a warning
  (a blank line before `<?xml`, an undefined entity in an empty channel).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import logging
import re
import threading
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urljoin

import feedparser
import feedparser.api
import feedparser.mixin
import feedparser.urls
from feedparser.encodings import convert_to_utf8
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import replace_doctype
from feedparser.urls import make_safe_absolute_uri
from feedparser.util import FeedParserDict

from bot.ingest.charset import choose_charset, declared_charset, header_charset
from bot.ingest.docnotes import describe_detection, describe_non_feed, line_shift, whole_and_empty
from bot.ingest.entries import MAX_TAGS, TITLE_MAX_CHARS, entries_to_items, plain_field
from bot.ingest.links import canonicalize_link
from bot.ingest.prolog import refuse_entity_declarations
from bot.ingest.text import cut_html, truncate_words
from bot.models import ParseResult

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "HTML_PER_KEPT_CHAR",
    "TAGS_READ_PER_ENTRY",
    "parse_feed",
    "too_slow_error",
]

logger = logging.getLogger(__name__)

# Seconds one document may take, entries included. A 10 MB feed (the fetch
# cap) parses in a few seconds on a small machine.
DEFAULT_TIME_LIMIT = 20.0

# Characters of a title, summary or content read per character that can be
# kept. Real feeds need up to 8 (the most markup-heavy of 4,600 HTML fields in
# 100 recorded feeds); twice that is read.
HTML_PER_KEPT_CHAR = 16
# Tags feedparser collects per entry (or per feed); entries.py keeps MAX_TAGS.
TAGS_READ_PER_ENTRY = 4 * MAX_TAGS


def parse_feed(
    feed_id: str,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    fetched_at: datetime,
    summary_max_chars: int = 1000,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> ParseResult:
    """Read one fetched feed document into `Item`s. Never raises.

    `headers` are the HTTP response headers (any case): Content-Type's
    charset and Content-Location matter. `url` is the URL the body came from,
    the base for relative links. `fetched_at` bounds plausible dates.
    `time_limit` (seconds, None for none) bounds the whole call.
    """
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)

    def run() -> ParseResult:
        return _parse_guarded(feed_id, body, headers or {}, url, fetched_at, summary_max_chars)

    if time_limit is None:
        return run()
    box: list[ParseResult] = []
    worker = threading.Thread(
        target=lambda: box.append(run()), name=f"parse-{feed_id}"[:60], daemon=True
    )
    try:
        worker.start()
    except RuntimeError:  # no thread to be had: parse here, unbounded
        return run()
    worker.join(time_limit)
    if box:
        return box[0]
    logger.warning("feed %s: parse abandoned after %.1f s", feed_id, time_limit)
    return ParseResult(items=(), error=too_slow_error(time_limit))


def too_slow_error(time_limit: float) -> str:
    """The error of a parse that overran `time_limit` seconds."""
    return (
        f"gave up parsing after {time_limit:g} s: the document is too large or too"
        " complex to read in time"
    )


# --- the parse itself ------------------------------------------------------------


def _parse_guarded(
    feed_id: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    fetched_at: datetime,
    summary_max_chars: int,
) -> ParseResult:
    try:
        return _parse(feed_id, body, headers, url, fetched_at, summary_max_chars)
    except Exception as exc:  # the contract: bad input never crashes the caller
        logger.exception("feed %s: unexpected failure while parsing", feed_id)
        return ParseResult(items=(), error=f"could not parse the feed: {type(exc).__name__}")


def _parse(
    feed_id: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    fetched_at: datetime,
    summary_max_chars: int,
) -> ParseResult:
    untyped: object = body  # callers outside mypy's reach may pass anything
    if not isinstance(untyped, bytes | bytearray | memoryview):
        return ParseResult(items=(), error="not a feed: the body is not bytes")
    body = bytes(untyped)
    if not body.strip():
        return ParseResult(items=(), error="not a feed: the body is empty")

    refusal = refuse_entity_declarations(body)
    if refusal:
        return ParseResult(items=(), error=refusal)

    lower_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    base = _base_url(url, lower_headers.get("content-location", ""))
    charset, charset_source = choose_charset(
        header_charset(lower_headers.get("content-type", "")), body
    )
    charset_from_header = charset if charset_source == "header" else None
    parsed = _run_feedparser(body, _feedparser_headers(charset, lower_headers, base))
    with _cyclic_gc_paused():
        result = _read_parsed(
            parsed, feed_id, body, base, fetched_at, summary_max_chars, charset_from_header
        )
    if charset_source == "detected" and charset and not result.error and not result.warning:
        note = describe_detection(charset, lower_headers.get("content-type", ""), body)
        result = replace(result, warning=note)
    return result


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document's entries are made.

    Each of thousands of entries allocates dicts, tuples and Items, and every
    few hundred allocations the collector would rescan the young objects,
    every few thousand the whole heap (the document's entries, and in the bot
    the store's index): about a quarter of the bot's own work on a feed of
    small entries. Nothing made here forms cycles that need it; memory is
    still freed by reference counting. As in the store's load
    (bot/store/tinydb/engine.py): left as found when another thread turned it
    off first.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_parsed(
    parsed: Any,
    feed_id: str,
    body: bytes,
    base: str,
    fetched_at: datetime,
    summary_max_chars: int,
    charset_from_header: str | None,
) -> ParseResult:
    """feedparser's result as a ParseResult: the items, the feed's title, what went wrong."""
    entries: list[Any] = list(parsed.get("entries") or [])
    version = parsed.get("version") or ""
    bozo_exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    warning = (
        _describe_problem(bozo_exc, body, charset_from_header) if bozo_exc is not None else None
    )
    read_chars = HTML_PER_KEPT_CHAR * max(summary_max_chars, TITLE_MAX_CHARS)
    _cut_text_fields([parsed.get("feed") or {}, *entries], read_chars)
    feed_title = truncate_words(plain_field(parsed.get("feed") or {}, "title"), TITLE_MAX_CHARS)

    if not version and not entries:
        return ParseResult(items=(), feed_title=feed_title, error=describe_non_feed(body, warning))

    items = entries_to_items(entries, feed_id, base, fetched_at, summary_max_chars)
    if not items and isinstance(bozo_exc, xml.sax.SAXException) and not whole_and_empty(body):
        # Malformed and nothing usable in it: most likely a cut-off download.
        return ParseResult(
            items=(), feed_title=feed_title, error=f"{warning}; no entries could be read"
        )
    return ParseResult(items=tuple(items), feed_title=feed_title, warning=warning)


def _cut_text_fields(containers: list[Any], max_chars: int) -> None:
    """Cut each title, summary and content value longer than `max_chars`, in place.

    A `*_detail` value and a content block are cut alike, so that a summary
    feedparser copied from the content still equals it (entries.py reads the
    type by that equality).
    """
    for container in containers:
        for key, detail_key in (("title", "title_detail"), ("summary", "summary_detail")):
            _cut_value(container, key, max_chars)
            _cut_value(dict.get(container, detail_key), "value", max_chars)
        for block in dict.get(container, "content") or ():
            _cut_value(block, "value", max_chars)


def _cut_value(mapping: object, key: str, max_chars: int) -> None:
    if isinstance(mapping, dict):
        text = dict.get(mapping, key)
        if isinstance(text, str) and len(text) > max_chars:
            dict.__setitem__(mapping, key, cut_html(text, max_chars))


def _add_tag_capped(self: Any, term: Any, scheme: Any, label: Any) -> None:
    """feedparser's `_add_tag`, skipped once the entry (or feed) holds TAGS_READ_PER_ENTRY."""
    tags = dict.get(self._get_context(), "tags")
    if tags is not None and len(tags) >= TAGS_READ_PER_ENTRY:
        return
    _feedparser_add_tag(self, term, scheme, label)


_feedparser_add_tag = _FeedParserMixin._add_tag
_FeedParserMixin._add_tag = _add_tag_capped


class _ContentParams(FeedParserDict):  # type: ignore[misc]  # untyped library
    """feedparser's parameters of the text being read (type, language, base, value...).

    None of these keys is one FeedParserDict aliases, so its key mapping
    (a dozen comparisons per look-up) is skipped, and the copy feedparser
    makes for each `*_detail` is shallow where it deep-copies: every value is
    a str, an int or None. The copy is a plain FeedParserDict, as before.
    """

    __slots__ = ()
    get = dict.get
    __getitem__ = dict.__getitem__
    __setitem__ = dict.__setitem__
    __contains__ = dict.__contains__

    def __deepcopy__(self, memo: object) -> FeedParserDict:
        return FeedParserDict(self)


class _ContentParamsMixin:
    """Makes a feedparser parser keep its content parameters in a `_ContentParams`."""

    contentparams: Any

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.contentparams = _ContentParams()

    def push_content(self, *args: Any) -> None:
        super().push_content(*args)  # type: ignore[misc]
        self.contentparams = _ContentParams(self.contentparams)

    def resolve_uri(self, uri: str) -> str:
        return _resolve_uri(self.baseuri or "", uri)  # type: ignore[attr-defined]


# feedparser resolves each entry's GUID, link and the like against the base
# (`_urljoin`: a fix-up and urllib's urljoin, two URL parses and an unparse), an
# eighth of its time on small entries given a base URL. A URI that is one path
# segment (`1234`, `post-12.html`: no dot segment, nothing urljoin reads) joins
# to the base's directory followed by it, whatever the base:
# tests/ingest/test_parse_resolve.py holds `_resolve_uri` equal to `_urljoin`.
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]*\Z")


def _resolve_uri(base: str, uri: str) -> str:
    """feedparser's `_urljoin(base, uri)`, quicker for a URI of one plain path segment."""
    if _PATH_SEGMENT.match(uri):
        directory = _joined_directory(base)
        if directory is not None:
            return directory + uri
    return cast(str, feedparser.urls._urljoin(base, uri))


@functools.lru_cache(maxsize=64)
def _joined_directory(base: str) -> str | None:
    """What `urljoin(base, segment)` puts before a plain path segment; None if it refuses."""
    try:
        return urljoin(base, "x")[:-1]
    except ValueError:  # (an IPv6 host without its "]")
        return None


_StrictParser = type("_StrictParser", (_ContentParamsMixin, feedparser.api.StrictFeedParser), {})
_LooseParser = type("_LooseParser", (_ContentParamsMixin, feedparser.api.LooseFeedParser), {})


def _run_feedparser(body: bytes, headers: dict[str, str]) -> Any:
    """`feedparser.parse(BytesIO(body), response_headers=headers, resolve_relative_uris=False,
    sanitize_html=False)`, with parser classes of the bot's own (`_ContentParams`).

    feedparser.api.parse's own steps for a body in memory (feedparser 6), so
    that bare feedparser, used by others in this process, is left as it is.
    Relative URIs in HTML are not resolved and HTML is not sanitized: HTML
    is flattened to text (no markup survives, so none needs sanitizing) and
    links are resolved by entries.py.
    """
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], body, result)
    strict = bool(result["encoding"])
    result["version"], data, entities = replace_doctype(data)
    location = headers.get("content-location", "")
    base = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
    lang = headers.get("content-language")
    parser: Any = None
    if strict:
        parser = _StrictParser(base, lang, "utf-8")
        parser.resolve_relative_uris = parser.sanitize_html = False
        # Entity declarations were refused before (prolog.py); external entities are off.
        sax = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)  # noqa: S317
        sax.setFeature(xml.sax.handler.feature_namespaces, 1)
        with contextlib.suppress(xml.sax.SAXNotSupportedException):
            sax.setFeature(xml.sax.handler.feature_external_ges, 0)
        sax.setContentHandler(parser)
        sax.setErrorHandler(parser)
        source = xml.sax.xmlreader.InputSource()
        source.setByteStream(io.BytesIO(data))
        try:
            sax.parse(source)
        except xml.sax.SAXException as exc:
            result["bozo"] = 1
            result["bozo_exception"] = parser.exc or exc
            strict = False
    if not strict:
        parser = _LooseParser(base, lang, "utf-8", entities)
        parser.resolve_relative_uris = parser.sanitize_html = False
        parser.feed(data.decode("utf-8", "replace"))
    result["feed"] = parser.feeddata
    result["entries"] = parser.entries
    result["version"] = result["version"] or parser.version
    result["namespaces"] = parser.namespaces_in_use
    return result


# feedparser joins the base URI with each element's xml:base at every start tag
# (make_safe_absolute_uri, two URL parses and an unparse), almost always the same
# two strings: remembered, it is a quarter of feedparser's time on a feed of
# small entries given a base URL. A pure function of its arguments (and of
# feedparser's constant list of schemes); bounded, since xml:base values are
# the document's.
feedparser.mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=64)(
    feedparser.mixin.make_safe_absolute_uri
)


# --- what feedparser is told, and what its complaints mean ---------------------


def _feedparser_headers(
    charset: str | None, headers: Mapping[str, str], base: str
) -> dict[str, str]:
    """The response headers as feedparser should see them (see the module docstring)."""
    out = {"content-type": f"application/xml; charset={charset}" if charset else "application/xml"}
    if base:
        out["content-location"] = base
    if headers.get("content-language"):
        out["content-language"] = headers["content-language"]
    return out


def _base_url(url: str, content_location: str) -> str:
    """The base for relative links: Content-Location resolved against the URL (RFC 9110 §8.7)."""
    base = url.strip()
    if content_location.strip():
        with contextlib.suppress(ValueError):
            base = urljoin(base, content_location.strip())
    return base if canonicalize_link(base) else ""


def _describe_problem(exc: BaseException, body: bytes, header_charset: str | None) -> str:
    """feedparser's bozo exception as one short human sentence."""
    if isinstance(exc, xml.sax.SAXParseException):
        line = exc.getLineNumber()
        where = f" at line {line - line_shift(body)}" if isinstance(line, int) and line > 0 else ""
        return f"malformed XML{where}: {exc.getMessage()}"
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        used = re.search(r"parsed as (\S+)", str(exc))
        decoded = f"decoded as {used.group(1)}" if used else "decoded with a fallback"
        declared = declared_charset(body)
        if header_charset:
            return f"wrong character encoding: the HTTP header says {header_charset}; {decoded}"
        if declared:
            return f"wrong character encoding: declared as {declared}; {decoded}"
        return f"wrong character encoding: none declared and not UTF-8; {decoded}"
    if isinstance(exc, feedparser.CharacterEncodingUnknown):
        return "unknown character encoding: undecodable bytes were replaced"
    if isinstance(exc, feedparser.UndeclaredNamespace):
        return f"malformed XML: {str(exc)[:120]}"
    return f"malformed feed: {type(exc).__name__}: {str(exc)[:120]}"
