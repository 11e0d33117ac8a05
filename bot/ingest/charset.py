"""The character encoding feedparser is told to use, from the HTTP header and the document.

feedparser applies RFC 3023, where `text/xml` without a charset means
US-ASCII; RFC 7303 (which obsoletes it) drops that rule, and real servers send
`text/xml`, `text/html` or `application/octet-stream` for feeds. So the media
type handed to feedparser is always `application/xml` (bot/ingest/parse.py),
with the header's charset when the body agrees with it (see `choose_charset`);
otherwise the BOM, the XML declaration and feedparser's fallbacks (UTF-8, then
windows-1252) decide. A declaration feedparser cannot see (split over lines)
is handed over as the charset.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["choose_charset", "declared_charset", "header_charset"]

_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
# feedparser's own pattern for the declared encoding (feedparser/encodings.py).
_FEEDPARSER_SEES_ENCODING = re.compile(rb"""^<\?.*encoding=['"](.*?)['"].*\?>""")


def header_charset(content_type: str) -> str | None:
    """The charset a Content-Type names, by its codec name; None when none or unknown."""
    match = re.search(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", content_type, re.I)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def declared_charset(body: bytes) -> str | None:
    """The encoding the XML declaration names, by its codec name; None when none or unknown."""
    match = _XML_DECL_ENCODING.match(body.removeprefix(codecs.BOM_UTF8)[:400])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except (LookupError, UnicodeDecodeError):
        return None


def choose_charset(header_charset: str | None, body: bytes) -> tuple[str | None, str]:
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
    declared = declared_charset(body)
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
