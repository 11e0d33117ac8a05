"""Feed bytes to normalized `Item`s: the one module that imports feedparser.

`parse_feed` never raises. What it could not read is reported in the result:
`error` when nothing at all could be read (not a feed, refused, too slow),
`warning` when a malformed or mis-encoded feed was read leniently.

Not obvious from the code's shape:

- Safety. The body is handed to feedparser wrapped in `BytesIO`: given raw
  bytes or a str, feedparser would treat a body such as `/etc/passwd` as a
  file name to open. Documents whose DOCTYPE declares entities are refused
  before parsing: external entities (XXE) and nested or huge internal ones
  (billion laughs, quadratic blowup) have no place in a feed. feedparser also
  switches external entity loading off and expat >= 2.4 caps entity
  amplification; the refusal keeps us from depending on either. Each parse
  runs under a time limit; a parse that overruns is abandoned (Python cannot
  kill a thread, so it finishes in the background) and reported as an error.
- Encoding. feedparser applies RFC 3023, where `text/xml` without a charset
  means US-ASCII; RFC 7303 (which obsoletes it) drops that rule, and real
  servers send `text/xml`, `text/html` or `application/octet-stream` for
  feeds. So the media type handed to feedparser is always `application/xml`,
  with the header's charset when the body agrees with it (see
  `_choose_charset`); otherwise the BOM, the XML declaration and
  feedparser's fallbacks (UTF-8, then windows-1252) decide. A declaration
  feedparser cannot see (split over lines) is handed over as the charset.
- Identity, in this order: `fr:<document number>` for Federal Register
  documents (the GUID is the html_url, whose title slug can change, while the
  document number cannot); `guid:<guid>` (`guid:sha1:<hex>` past 200
  characters); `link:<canonical link>`; `hash:<sha1 of title, raw dates and
  summary>`. The hash uses the raw date strings and the whole summary, so it
  neither depends on `fetched_at` nor on `summary_max_chars`.
- Text. Titles and summaries become plain text (see bot/ingest/text.py). Text that
  feedparser reports as plain stays as is, so a title `<!channel>` is kept
  literally; escaping for Slack is the renderer's job.
- The Federal Register agency (`dc:creator`) goes to `authors`, not `tags`:
  tags stay the entry's own categories.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import hashlib
import io
import logging
import re
import threading
import xml.sax
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import feedparser

from bot.ingest.text import normalize_for_key, to_plain_text, truncate_words
from bot.models import Item, ParseResult

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "canonicalize_link",
    "fr_document_number",
    "parse_feed",
]

logger = logging.getLogger(__name__)

# Seconds one document may take, entries included. A 10 MB feed (the fetch
# cap) parses in a few seconds on a small machine.
DEFAULT_TIME_LIMIT = 20.0
TITLE_MAX_CHARS = 300
TITLE_FROM_SUMMARY_CHARS = 100
GUID_MAX_CHARS = 200
MAX_TAGS = 50
TAG_MAX_CHARS = 100
AUTHOR_MAX_CHARS = 200
# Dates outside [1990, fetched_at + 2 days] are typos or placeholders.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
        "ref_src", "ref_url", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "vero_conv", "_openstat", "rb_clickid", "s_cid", "ncid", "_ga", "_gl",
        "wt.mc_id", "spm", "cmpid", "sr_share",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__hs")

_FR_PATH = re.compile(
    r"^/(?:documents/\d{4}/\d{1,2}/\d{1,2}|d|api/v1/documents|documents|"
    r"public-inspection(?:/\d{4}/\d{1,2}/\d{1,2})?)/([^/.?#]+)"
)
_FR_NUMBER = re.compile(r"^[A-Za-z0-9]{1,4}(?:-[A-Za-z0-9]{1,8}){1,3}$")

_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
# feedparser's own pattern for the declared encoding (feedparser/encodings.py).
_FEEDPARSER_SEES_ENCODING = re.compile(rb"""^<\?.*encoding=['"](.*?)['"].*\?>""")
_DOCTYPE = re.compile(rb"^\s*<!DOCTYPE([^>]*?)>", re.MULTILINE)  # feedparser's own pattern
# Tokens met while walking the prolog (everything before the root element).
_PROLOG_TOKEN = re.compile(
    rb"<!--|<\?|<!ENTITY|<!(?:DOCTYPE|ELEMENT|ATTLIST|NOTATION)|<[A-Za-z_:\x80-\xff]",
    re.IGNORECASE,
)
# A markup declaration up to its end or to an internal subset's "[", skipping
# quoted literals, which may hold "<" or ">" (XML 1.0 §2.8).
_DECLARATION = re.compile(rb"<!\w+(?:[^>\"'\[]|\"[^\"]*\"|'[^']*')*")
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s>\"']{1,60})\s*([^>]*)>?", re.IGNORECASE)
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]{0,40})")
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})


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
    return ParseResult(
        items=(),
        error=(
            f"gave up parsing after {time_limit:g} s: the document is too large or too"
            " complex to read in time"
        ),
    )


def canonicalize_link(raw: str, base: str = "") -> str | None:
    """The canonical form of a link, or None when it is not an http(s) URL.

    Resolved against `base` (RFC 3986 §5), fragment dropped, scheme and host
    lower-cased, default port and user info dropped, empty path made `/`
    (RFC 3986 §6.2.3), tracking parameters removed, other parameters kept
    byte for byte and in order.
    """
    # The WHATWG URL parser drops tabs and newlines anywhere in a URL.
    text = re.sub(r"[\t\r\n]", "", raw).strip()
    if not text:
        return None
    try:
        parts = urlsplit(urljoin(base, text) if base else text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/").replace(" ", "%20")
    query = _strip_tracking_params(parts.query).replace(" ", "%20")
    return urlunsplit((scheme, netloc, path, query, ""))


def _strip_tracking_params(query: str) -> str:
    """The query without click-tracking parameters; the others kept byte for byte."""
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        name = unquote_plus(piece.split("=", 1)[0]).strip().lower()
        if name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append(piece)
    return "&".join(kept)


def fr_document_number(url: str | None) -> str | None:
    """The Federal Register document number in a federalregister.gov URL, else None.

    Knows `/documents/YYYY/MM/DD/<number>/<slug>`, `/d/<number>`,
    `/api/v1/documents/<number>.json`, `/public-inspection/<number>/...` and
    `public-inspection.federalregister.gov/<number>.pdf` URLs.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if host != "federalregister.gov" and not host.endswith(".federalregister.gov"):
        return None
    if host == "public-inspection.federalregister.gov":
        match = re.match(r"^/([^/?#]+)\.pdf$", parts.path)  # the document's PDF
    else:
        match = _FR_PATH.match(parts.path)
    if not match:
        return None
    number = match.group(1)
    if not _FR_NUMBER.match(number) or not any(ch.isdigit() for ch in number):
        return None
    return number.upper()


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

    refusal = _refuse_entity_declarations(body)
    if refusal:
        return ParseResult(items=(), error=refusal)

    lower_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    base = _base_url(url, lower_headers.get("content-location", ""))
    header_charset = _header_charset(lower_headers.get("content-type", ""))
    charset, charset_source = _choose_charset(header_charset, body)
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=_feedparser_headers(charset, lower_headers, base),
        resolve_relative_uris=False,  # HTML is flattened to text; links are resolved below
        sanitize_html=False,  # ditto: no markup survives, so none needs sanitizing
    )

    entries: list[Any] = list(parsed.get("entries") or [])
    version = parsed.get("version") or ""
    bozo_exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    warning = (
        _describe_problem(bozo_exc, body, charset if charset_source == "header" else None)
        if bozo_exc is not None
        else None
    )
    feed_title = truncate_words(_plain_field(parsed.get("feed") or {}, "title"), TITLE_MAX_CHARS)

    if not version and not entries:
        return ParseResult(items=(), feed_title=feed_title, error=_describe_non_feed(body, warning))

    items: list[Item] = []
    seen_guids: set[str] = set()
    seen_ids: set[str] = set()
    for entry in entries:
        item = _normalize_entry(entry, feed_id, base, fetched_at, summary_max_chars)
        if item is None:
            logger.debug("feed %s: skipped an entry with no title, link or summary", feed_id)
            continue
        if (item.guid is not None and item.guid in seen_guids) or item.id in seen_ids:
            logger.debug("feed %s: dropped a repeat of %s in the same document", feed_id, item.id)
            continue
        if item.guid is not None:
            seen_guids.add(item.guid)
        seen_ids.add(item.id)
        items.append(item)
    if not items and isinstance(bozo_exc, xml.sax.SAXException):
        # Malformed and nothing usable in it: most likely a cut-off download.
        return ParseResult(
            items=(), feed_title=feed_title, error=f"{warning}; no entries could be read"
        )
    return ParseResult(items=tuple(items), feed_title=feed_title, warning=warning)


def _normalize_entry(
    entry: dict[str, Any],
    feed_id: str,
    base: str,
    fetched_at: datetime,
    summary_max_chars: int,
) -> Item | None:
    title = truncate_words(_plain_field(entry, "title"), TITLE_MAX_CHARS)
    summary_full = _plain_field(entry, "summary") or _plain_content(entry)
    link = canonicalize_link(_str(entry.get("link")), base)
    if not (title or link or summary_full):
        return None

    guid = _str(entry.get("id")).strip() or None
    fr_number = fr_document_number(guid) or fr_document_number(link)
    if fr_number:
        item_id = f"fr:{fr_number}"
    elif guid:
        item_id = f"guid:{guid}" if len(guid) <= GUID_MAX_CHARS else f"guid:sha1:{_sha1(guid)}"
    elif link:
        item_id = f"link:{link}"
    else:
        raw_dates = "\n".join(_str(_raw(entry, key)) for key in ("updated", "published", "created"))
        item_id = f"hash:{_sha1(chr(10).join((title, raw_dates, summary_full)))}"

    link_title_key = _sha1(f"{link}\n{normalize_for_key(title)}") if link and title else None
    shown_title = title or truncate_words(summary_full, TITLE_FROM_SUMMARY_CHARS) or (link or "")
    return Item(
        id=item_id,
        feed_id=feed_id,
        title=shown_title,
        summary=truncate_words(summary_full, summary_max_chars),
        link=link,
        published=_entry_time(entry, fetched_at),
        authors=_entry_authors(entry),
        tags=_entry_tags(entry),
        guid=guid,
        link_title_key=link_title_key,
    )


def _plain_field(container: dict[str, Any], key: str) -> str:
    """A text construct (title, summary) as plain text, honouring its declared type."""
    value = _str(_raw(container, key))
    if not value:
        return ""
    detail = _raw(container, f"{key}_detail")
    if isinstance(detail, Mapping):
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


def _entry_time(entry: dict[str, Any], fetched_at: datetime) -> datetime | None:
    """Updated, else published, else created, in UTC; implausible dates count as missing."""
    latest = fetched_at + FUTURE_SLACK
    for key in ("updated_parsed", "published_parsed", "created_parsed"):
        parsed = _raw(entry, key)
        if not parsed:
            continue
        try:
            # feedparser's struct_time is already UTC; timegm also copes with second 60.
            when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        except (OverflowError, ValueError, OSError, TypeError):
            logger.debug("unreadable %s %r: treated as missing", key, parsed)
            continue
        if when < EARLIEST_DATE or when > latest:
            logger.debug("implausible %s %s: treated as missing", key, when.isoformat())
            continue
        return when
    return None


def _entry_authors(entry: dict[str, Any]) -> tuple[str, ...]:
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


# --- encoding, base URL and safety checks --------------------------------------


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


def _header_charset(content_type: str) -> str | None:
    match = re.search(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", content_type, re.I)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _declared_charset(body: bytes) -> str | None:
    match = _XML_DECL_ENCODING.match(body.removeprefix(codecs.BOM_UTF8)[:400])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


def _choose_charset(header_charset: str | None, body: bytes) -> tuple[str | None, str]:
    """The charset to hand feedparser, and where it came from ("header", "declaration", "").

    None means: let feedparser read the document (BOM, XML declaration, its
    fallbacks). RFC 7303 §3.2 gives the Content-Type charset precedence over
    the XML declaration, but servers often stamp a default charset on files
    they did not write. So when header and declaration disagree, the header
    wins only if the body decodes under it; and when one of them says UTF-8
    and the body is valid non-ASCII UTF-8, UTF-8 wins (text in any other
    encoding practically never is valid UTF-8).
    """
    if body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, ""  # a byte-order mark is the strongest evidence there is
    declared = _declared_charset(body)
    if header_charset is None or declared == header_charset:
        if header_charset:
            return header_charset, "header"
        return _declaration_feedparser_misses(declared, body)
    if declared is None:
        return header_charset, "header"
    if "utf-8" in (declared, header_charset) and not body.isascii() and _decodes(body, "utf-8"):
        return "utf-8", "header" if header_charset == "utf-8" else "declaration"
    if _decodes(body, header_charset):
        return header_charset, "header"
    return _declaration_feedparser_misses(declared, body)


def _declaration_feedparser_misses(declared: str | None, body: bytes) -> tuple[str | None, str]:
    """feedparser finds `encoding="..."` only on the first line and without spaces
    around "="; a declaration written otherwise is handed over explicitly."""
    if declared and not _FEEDPARSER_SEES_ENCODING.match(body.removeprefix(codecs.BOM_UTF8)):
        return declared, "declaration"
    return None, ""


def _decodes(body: bytes, charset: str) -> bool:
    try:
        body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _base_url(url: str, content_location: str) -> str:
    """The base for relative links: Content-Location resolved against the URL (RFC 9110 §8.7)."""
    base = url.strip()
    if content_location.strip():
        with contextlib.suppress(ValueError):
            base = urljoin(base, content_location.strip())
    return base if canonicalize_link(base) else ""


def _refuse_entity_declarations(body: bytes) -> str | None:
    """An error text when the prolog declares XML entities, else None."""
    prolog_bytes = _ascii_view(body)
    pos = 0
    names: list[str] = []
    external = False
    while True:
        token = _PROLOG_TOKEN.search(prolog_bytes, pos)
        if token is None:
            break
        text = token.group().upper()
        if text in (b"<!--", b"<?"):
            end = prolog_bytes.find(b"-->" if text == b"<!--" else b"?>", token.end())
            if end < 0:
                break
            pos = end + 3 if text == b"<!--" else end + 2
        elif text.startswith(b"<!"):
            if text == b"<!ENTITY":
                entity = _ENTITY_DECL.match(prolog_bytes, token.start())
                names.append(entity.group(2).decode("latin-1") if entity else "?")
                if entity and re.match(rb"\s*(SYSTEM|PUBLIC)\b", entity.group(3), re.IGNORECASE):
                    external = True
            declaration = _DECLARATION.match(prolog_bytes, token.start())
            pos = max(token.end(), declaration.end() if declaration else 0)
        else:
            break  # the root element: the prolog is over
    if not names:
        return None
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    if external:
        return (
            f"refused: the DOCTYPE declares an external entity ({shown}); external entities are"
            " never resolved"
        )
    count = f"{len(names)} XML entit{'y' if len(names) == 1 else 'ies'}"
    return (
        f"refused: the DOCTYPE declares {count} ({shown}); feeds that declare entities are not"
        " parsed, to rule out entity-expansion bombs"
    )


def _ascii_view(body: bytes) -> bytes:
    """The body with UTF-16/32 turned into UTF-8, so ASCII markup can be searched for."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace").encode("utf-8")
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        codec = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
        return body.decode(codec, "replace").encode("utf-8")
    return body


def _describe_problem(exc: BaseException, body: bytes, header_charset: str | None) -> str:
    """feedparser's bozo exception as one short human sentence."""
    if isinstance(exc, xml.sax.SAXParseException):
        line = exc.getLineNumber()
        where = f" at line {line - _line_shift(body)}" if isinstance(line, int) and line > 0 else ""
        return f"malformed XML{where}: {exc.getMessage()}"
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        used = re.search(r"parsed as (\S+)", str(exc))
        decoded = f"decoded as {used.group(1)}" if used else "decoded with a fallback"
        declared = _declared_charset(body)
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


def _line_shift(body: bytes) -> int:
    """Lines feedparser added before the body (it prepends an XML declaration when
    the document does not start with one) minus lines it removed (a DOCTYPE)."""
    view = _ascii_view(body).removeprefix(codecs.BOM_UTF8)
    shift = 0 if view.startswith(b"<?xml") else 1
    root = re.search(rb"<\w", view)
    head = view[: root.start()] if root else view
    doctype = _DOCTYPE.search(head)
    if doctype:
        shift -= doctype.group(0).count(b"\n")
    return shift


def _describe_non_feed(body: bytes, problem: str | None) -> str:
    """Why a body that yielded no feed is not one, in a few words."""
    head = _ascii_view(body[:8192]).removeprefix(codecs.BOM_UTF8).decode("latin-1").lstrip()
    lowered = head.lower()
    if not head:
        return "not a feed: the body is empty"
    if head[0] in "{[":
        return "not a feed: looks like JSON"
    if re.search(r"<!doctype\s+html|<html[\s>]", lowered):
        return "not a feed: looks like an HTML page"
    if problem:
        return f"not a feed: {problem}"
    root = _ROOT_ELEMENT.search(head)
    if root and root.group(1).lower() not in _FEED_ROOTS:
        return f"not a feed: the root element is <{root.group(1)}>, not <rss>, <feed> or <rdf:RDF>"
    return "not a feed: no RSS, Atom or RDF document found"


def _raw(container: dict[str, Any], key: str) -> Any:
    """`container[key]` or None, bypassing FeedParserDict's key aliasing.

    feedparser maps `updated` to `published` (with a DeprecationWarning) and
    `description` to `summary`; dates and types must be read as stored.
    """
    return dict.get(container, key)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
