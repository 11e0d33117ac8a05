"""The character encoding feedparser is told to use, from the HTTP header and the document.

feedparser applies RFC 3023, where `text/xml` without a charset means
US-ASCII; RFC 7303 (which obsoletes it) drops that rule, and real servers send
`text/xml`, `text/html` or `application/octet-stream` for feeds. So the media
type handed to feedparser is always `application/xml` (bot/ingest/parse.py),
with the header's charset when the body agrees with it (see `choose_charset`);
otherwise the BOM, the XML declaration and feedparser's fallbacks (UTF-8, then
windows-1252) decide. A declaration feedparser cannot see (split over lines)
is handed over as the charset.

Legacy East Asian and Thai encodings (Shift_JIS, EUC-JP, Big5, GB2312,
EUC-KR, TIS-620...) are often served with no charset anywhere, or under a
server's default (UTF-8, ISO-8859-1) that the body does not match; feedparser's
windows-1252 fallback then stores mojibake. So when nothing reliable names the
encoding, charset-normalizer is asked (`detect_legacy_charset`). Its answer is
taken only for those multi-byte encodings, whose strict byte structure makes a
detection trustworthy, and for Thai when the decoded text reads as Thai:
for single-byte European text it guesses wrongly too often (Portuguese
Latin-1 as Baltic windows-1257), where windows-1252 is the better fallback.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = [
    "charset_label",
    "choose_charset",
    "declared_charset",
    "detect_legacy_charset",
    "header_charset",
]

# Codecs whose detection is trusted (charset-normalizer's names), each family's
# widest member first: the one the body is decoded with when the detector
# says the body could be any of them.
_MULTIBYTE_FAMILIES = (
    ("cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213"),
    ("euc_jp", "euc_jis_2004", "euc_jisx0213"),
    ("iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3",
     "iso2022_jp_ext"),
    ("gb18030", "gbk", "gb2312", "hz"),
    ("big5hkscs", "cp950", "big5"),
    ("cp949", "euc_kr", "johab", "iso2022_kr"),
)  # fmt: skip
_THAI = ("cp874", "tis_620", "iso8859_11")
# How people name the detected codecs (Python's names: cp932 is Windows' Shift_JIS).
_LABELS = {
    "cp932": "Shift_JIS", "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP",
    "euc_jis_2004": "EUC-JIS-2004", "iso2022_jp": "ISO-2022-JP", "gb18030": "GB18030",
    "gbk": "GBK", "gb2312": "GB2312", "big5hkscs": "Big5", "big5": "Big5", "cp950": "Big5",
    "cp949": "EUC-KR", "euc_kr": "EUC-KR", "johab": "Johab", "cp874": "TIS-620",
}  # fmt: skip
# Charsets that decode any byte string, so "it decodes" proves nothing.
_CATCH_ALL = frozenset({"latin-1", "iso8859-1", "cp1252", "us-ascii", "ascii"})
# Bytes charset-normalizer looks at (it samples within them); a feed's first
# 256 KB are plenty to tell its encoding.
_DETECT_BYTES = 256 * 1024

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
    """The charset to hand feedparser, and where it came from.

    The source is "header", "declaration", "detected" or "" (feedparser decides).
    A legacy East Asian or Thai encoding is detected when the header and
    declaration name none, or one the body does not decode under, or one that
    decodes anything (ISO-8859-1, windows-1252); see the module docstring.
    """
    charset, source = _stated_charset(header_charset, body)
    if source == "bom":
        return None, ""
    in_force = charset or declared_charset(body) or "utf-8"
    if _codec_name(in_force) in _CATCH_ALL or not _decodes(body, in_force):
        detected = detect_legacy_charset(body)
        if detected:
            return detected, "detected"
    return charset, source


def detect_legacy_charset(body: bytes) -> str | None:
    """The legacy East Asian or Thai encoding of `body`, when it plainly is in one; else None."""
    if body.isascii() and b"\x1b" not in body:  # ISO-2022 is 7-bit, with escapes
        return None
    sample = body[:_DETECT_BYTES]
    if len(body) > _DETECT_BYTES:
        sample = sample[: sample.rfind(b">") + 1] or sample  # not inside a character
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        return None
    candidates = (best.encoding, *best.could_be_from_charset)
    for family in _MULTIBYTE_FAMILIES:
        if best.encoding in family:
            return next(name for name in family if name in candidates)
    if best.encoding in _THAI and best.language == "Thai":
        return "cp874"
    return None


def charset_label(name: str) -> str:
    """The name people know a detected charset by ("Shift_JIS" for cp932)."""
    return _LABELS.get(name, name)


def _stated_charset(header_charset: str | None, body: bytes) -> tuple[str | None, str]:
    """The charset the header and the document state (the rules below); "bom" for a BOM.

    None means: let feedparser read the document (BOM, XML declaration, its
    fallbacks). RFC 7303 §3.2 gives the Content-Type charset precedence over
    the XML declaration, but servers often stamp a default charset on files
    they did not write. So when header and declaration disagree, the header
    wins only if the body decodes under it; and when one of them says UTF-8
    and the body is valid non-ASCII UTF-8, UTF-8 wins (text in any other
    encoding practically never is valid UTF-8).
    """
    if body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, "bom"  # a byte-order mark is the strongest evidence there is
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


def _codec_name(charset: str) -> str:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return charset


def _decodes(body: bytes, charset: str) -> bool:
    try:
        body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
