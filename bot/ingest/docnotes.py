"""What the parse says of a document it could not read cleanly, in words a user can act on.

Not obvious:
- `line_shift`: feedparser prepends an XML declaration when the document has
  none and removes a DOCTYPE, so the line numbers of its complaints are
  shifted; the user is told the line of their own document.
- `whole_and_empty`: a malformed document without items is an empty feed
  (read with a warning) only when it ends with a feed's end tag and holds no
  entry element; otherwise it is most likely a cut-off download.
"""

from __future__ import annotations

import codecs
import re

from bot.ingest.charset import charset_label, declared_charset, header_charset
from bot.ingest.prolog import ascii_view

__all__ = ["describe_detection", "describe_non_feed", "line_shift", "whole_and_empty"]

_DOCTYPE = re.compile(rb"^\s*<!DOCTYPE([^>]*?)>", re.MULTILINE)  # feedparser's own pattern
_ROOT_ELEMENT = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:-]{0,40})")
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})
# A feed's end tag at the end of the text.
_FEED_END = re.compile(rb"</(?:[A-Za-z_][\w.-]{0,40}:)?(?:rss|feed|RDF)\s*>\Z")
# The start tag of an RSS/RDF item or an Atom entry (prefixed or not).
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")


def whole_and_empty(body: bytes) -> bool:
    """Whether the document ends with a feed's end tag and holds no entry element.

    Then a malformed feed without items is an empty feed read with a warning
    (a blank line before `<?xml`, an undefined entity in the channel's
    title), not a failure: nothing was cut off, and no entry went unread.
    """
    view = ascii_view(body)
    return _ends_with_feed_end_tag(view) and _ENTRY_START.search(view) is None


def _ends_with_feed_end_tag(view: bytes) -> bool:
    """Whether the last markup is a feed's end tag (trailing comments and PIs skipped).

    Walked back from the end rather than matched by one pattern: a pattern
    allowing comments after the end tag backtracks exponentially on a tail of
    many comments and no end tag.
    """
    tail = view[-4096:].rstrip()
    while tail.endswith((b"-->", b"?>")):
        start = tail.rfind(b"<!--" if tail.endswith(b"-->") else b"<?")
        if start < 0:
            return False
        tail = tail[:start].rstrip()
    return _FEED_END.search(tail[-64:]) is not None


def describe_detection(charset: str, content_type: str, body: bytes) -> str:
    """The warning for a charset detected from the text, saying what was stated instead."""
    detected = f"read as {charset_label(charset)}, detected from the text"
    stated_in_header = header_charset(content_type)
    if stated_in_header:
        return f"wrong character encoding: the HTTP header says {stated_in_header}; {detected}"
    declared = declared_charset(body)
    if declared:
        return f"wrong character encoding: declared as {declared}; {detected}"
    return f"no character encoding declared: {detected}"


def line_shift(body: bytes) -> int:
    """Lines feedparser added before the body (it prepends an XML declaration when
    the document does not start with one) minus lines it removed (a DOCTYPE)."""
    view = ascii_view(body).removeprefix(codecs.BOM_UTF8)
    shift = 0 if view.startswith(b"<?xml") else 1
    root = re.search(rb"<\w", view)
    head = view[: root.start()] if root else view
    doctype = _DOCTYPE.search(head)
    if doctype:
        shift -= doctype.group(0).count(b"\n")
    return shift


def describe_non_feed(body: bytes, problem: str | None) -> str:
    """Why a body that yielded no feed is not one, in a few words."""
    head = ascii_view(body[:8192]).removeprefix(codecs.BOM_UTF8).decode("latin-1").lstrip()
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
