"""Plain-text helpers for feed text: strip HTML, decode entities, collapse whitespace, truncate.

Everything here is pure and total: any `str` in, a `str` out, no exceptions.
The output is plain text meant for people, not markup: `<` and `&` may appear
in it literally, and escaping them for Slack is the renderer's job.

Two real-world repairs live here because feeds need them:

- `decode_leftover_entities`: the Federal Register double-escapes apostrophes
  and quotes in descriptions (`&amp;#39;`), so one decoding pass leaves a
  literal `&#39;`; Movable Type's plain-text Atom summaries carry escaped
  HTML entities (`&amp;nbsp;`), and other feeds double-escape named ones
  (`&amp;amp;mdash;`). A second, strict pass (numeric references, `&apos;`
  and the HTML 4 named entities but `&lt;` and `&gt;`, semicolon required)
  undoes that without touching text like "AT&T" or "&notice".
- `repair_double_utf8`: UTF-8 text that was decoded once as Latin-1/CP1252 and
  re-encoded ("Ð’ ÐœÐ¾Ñ..." instead of "В Мо..."). Repaired only when the
  whole string maps back to bytes that are valid UTF-8, which ordinary text
  in any language practically never does.

Markup a lenient parse leaves behind is read as a browser would: an HTML
comment left open runs to the end of the fragment (HTML5; html.parser would
show it as text), and CDATA markers still present after the HTML is read
(a CDATA section nested in another one ends the outer one early, so the rest
of the markup arrives escaped) mean that text was markup: it is read again.
"""

from __future__ import annotations

import html
import html.entities
import re
from html.parser import HTMLParser

__all__ = [
    "collapse_whitespace",
    "cut_html",
    "decode_leftover_entities",
    "graphic_label",
    "html_to_text",
    "normalize_for_key",
    "repair_double_utf8",
    "strip_cdata_markers",
    "to_plain_text",
    "truncate_words",
]

ELLIPSIS = "…"

# Elements whose text is not content a reader sees.
_SKIPPED_ELEMENTS = frozenset({"script", "style", "template", "noscript", "head", "title"})
# Elements that separate words: "<p>a</p><p>b</p>" must read "a b", not "ab".
_BREAKING_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip

# Semicolon required: HTML5 would also decode "&notice" as "¬ice", which a
# second pass over already-decoded text must never do. `&lt;` and `&gt;` stay:
# left over, they are most often markup shown on purpose ("write &lt;b&gt;").
_LEFTOVER_NAMES = sorted(set(html.entities.name2codepoint) - {"lt", "gt"}, key=len, reverse=True)
_LEFTOVER_ENTITY = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|apos|" + "|".join(_LEFTOVER_NAMES) + ");"
)
# An HTML comment: `<!-->` and `<!--->` are empty ones; one never closed runs
# to the end; `--!>` closes one too (HTML5 tokenizer).
_HTML_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:--!?>|\Z))", re.DOTALL)
_CDATA_MARKER = re.compile(r"<!\[CDATA\[|\]\]>")
# What html.parser reads as the start of a tag, comment or declaration.
_TAG_OPENER = re.compile(r"<[A-Za-z/!?]")
# Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F, a set
# Unicode promises never to change) and the line and paragraph separators (Zl,
# Zp) become spaces; zero-width space and BOM go.
_CONTROLS_TO_SPACE: dict[int, str | None] = {
    **dict.fromkeys((*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029), " "),
    0x200B: None,
    0xFEFF: None,
}
# CP1252 puts printable characters where Latin-1 has C1 controls; map them back.
_CP1252_REVERSE = {
    bytes([b]).decode("cp1252"): b
    for b in range(0x80, 0xA0)
    if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)  # undefined in CP1252
}
# A UTF-8 lead byte (0xC2-0xF4) followed by a continuation byte (0x80-0xBF),
# both seen through a Latin-1/CP1252 decoding.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf" + "".join(sorted(_CP1252_REVERSE)) + "]"
)


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth += 1
        elif tag in _BREAKING_ELEMENTS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img/>: never opens a skipped element.
        if tag in _BREAKING_ELEMENTS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BREAKING_ELEMENTS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)

    def unknown_decl(self, data: str) -> None:
        # html.parser reports "<![CDATA[x]]>" here and would drop "x".
        if data.startswith("CDATA[") and not self._skip_depth:
            self.parts.append(data[len("CDATA[") :])


class _GraphicLabel(HTMLParser):
    """Finds inline graphics (`<svg>`, `<img>`) and their accessible names."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = False
        self.names: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("svg", "img"):
            self.found = True
            named = dict(attrs)
            self.names.append(named.get("aria-label") or named.get("alt") or "")
        self._in_title = tag == "title" and self.found

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_title = False

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.names.append(data)


def collapse_whitespace(text: str) -> str:
    """Replace runs of whitespace and control characters by one space; strip the ends."""
    # One C-level pass (str.translate), not a Python loop per character: on a
    # 10 MB feed of articles, the loop cost more than feedparser itself.
    return " ".join(text.translate(_CONTROLS_TO_SPACE).split())


def decode_leftover_entities(text: str) -> str:
    """Decode entities left over after one decoding pass (double escaping)."""
    if "&" not in text:
        return text
    return _LEFTOVER_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def strip_cdata_markers(text: str) -> str:
    """Drop literal `<![CDATA[` / `]]>` markers that a lenient parse left in text."""
    return _CDATA_MARKER.sub("", text)


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment: tags dropped, script/style dropped, entities decoded."""
    if "<" not in fragment and "&" not in fragment:
        return fragment
    if "<!--" in fragment:
        fragment = _HTML_COMMENT.sub("", fragment)
    extractor = _TextExtractor()
    try:
        extractor.feed(_defuse_unclosed_markup(fragment))
        extractor.close()
    except Exception:  # html.parser is lenient, but never let markup crash a poll
        return re.sub(r"<[^>]*>", " ", fragment)
    return "".join(extractor.parts)


def graphic_label(fragment: str) -> str | None:
    """The accessible name of the graphics in an HTML fragment (an SVG's `aria-label`
    or `<title>`, an image's `alt`): "" when they have none, None when there are none."""
    if "<svg" not in fragment.lower() and "<img" not in fragment.lower():
        return None
    finder = _GraphicLabel()
    try:
        finder.feed(fragment)
        finder.close()
    except Exception:  # as in html_to_text: markup never crashes a poll
        return ""
    return collapse_whitespace(" ".join(finder.names)) if finder.found else None


def cut_html(fragment: str, max_chars: int) -> str:
    """`fragment` cut to at most `max_chars` characters, never inside a tag.

    For text that is read only up to a point (a summary is kept to
    `summary_max_chars`): converting the rest of a long document would be
    work thrown away, and html.parser's cost is not linear on every input.
    A cut that falls inside a tag (`<img src="data:…` cut short) drops that
    tag's beginning too, so no half tag turns up as text.
    """
    if len(fragment) <= max_chars:
        return fragment
    head = fragment[: max(0, max_chars)]
    opened = head.rfind("<")
    if opened > head.rfind(">") and _TAG_OPENER.match(head, opened):
        head = head[:opened]
    return head


def _defuse_unclosed_markup(fragment: str) -> str:
    """`fragment` with every `<` after its last `>` written as `&lt;`.

    No tag, comment or declaration can end there, and html.parser reads each
    such `<` as text anyway, but only after scanning to the end of the input
    for its end, once per `<`: quadratic (CPython gh-135462, CVE-2025-6069;
    `<a` repeated 20,000 times took 3 s). Escaped, the text is the same and
    the scan never starts.
    """
    last = fragment.rfind(">")
    if fragment.find("<", last + 1) < 0:
        return fragment
    return fragment[: last + 1] + fragment[last + 1 :].replace("<", "&lt;")


def repair_double_utf8(text: str) -> str:
    """Undo UTF-8 that was mis-decoded as Latin-1/CP1252 ("Ð’" for "В"); else return text."""
    if not _MOJIBAKE_HINT.search(text):
        return text
    raw = bytearray()
    for ch in text:
        code = ord(ch)
        if code < 0x100:
            raw.append(code)
        elif ch in _CP1252_REVERSE:
            raw.append(_CP1252_REVERSE[ch])
        else:
            return text  # a character no single-byte decoding produces: text is genuine
    try:
        repaired = raw.decode("utf-8")
    except UnicodeDecodeError:
        return text
    return repaired


def to_plain_text(value: str, *, is_html: bool) -> str:
    """Feed text (HTML or plain) as one clean line of plain text."""
    if value.isascii() and "<" not in value and "&" not in value and "]]>" not in value:
        # No markup, entity, CDATA marker or mojibake possible: only the whitespace
        # to collapse (most titles; the result is the same as the full path's).
        return collapse_whitespace(value)
    text = strip_cdata_markers(value)
    if is_html:
        text = html_to_text(text)
        if _CDATA_MARKER.search(text):  # markup that a broken nested CDATA escaped
            text = html_to_text(strip_cdata_markers(text))
    text = decode_leftover_entities(text)
    text = repair_double_utf8(text)
    return collapse_whitespace(text)


def truncate_words(text: str, max_chars: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Cut `text` to at most `max_chars` characters at a word boundary, ending in `ellipsis`.

    A single word longer than the limit is cut inside the word rather than
    returning nothing.
    """
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    room = max_chars - len(ellipsis)
    if room <= 0:
        return ellipsis[:max_chars]
    head = text[: room + 1]
    cut = head.rfind(" ")
    # Prefer the word boundary unless it throws away most of the room.
    head = head[:cut] if cut > room // 2 else head[:room]
    head = head.rstrip(" ,;:-–—")
    return head + ellipsis


def normalize_for_key(text: str) -> str:
    """Case- and whitespace-insensitive form of a title, for identity keys."""
    return " ".join(text.casefold().split())
