"""Slack mrkdwn from untrusted text: escaping, the trusted helpers, and cutting to a limit.

Escaping follows https://api.slack.com/reference/surfaces/formatting#escaping:
`&`, `<` and `>` in feed text become `&amp;`, `&lt;` and `&gt;`, so a feed
title `<!channel>` reaches Slack as `&lt;!channel&gt;`: text, not a mention.
Feed strings also lose control characters and the bidi
embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069), which could
reorder the text around a title. What the helpers here return is Markup: text
already escaped, which the template environment (templates.py) prints as it
is; anything else it escapes with `escape_slack`.

Decided and tested: mrkdwn formatting characters from feeds (`*`, `_`, `~`, a
backtick) are left as they are. Slack has no escape for them, they act only at
word boundaries, and each item is a block of its own, so they cannot reach past
their item. Links and mentions, the parts that do harm, are neutralized.

`fit_text` cuts text to a limit without splitting a link or an entity (a link
that alone does not fit keeps its text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from urllib.parse import quote, urlsplit

from markupsafe import Markup

from bot.ingest.text import collapse_whitespace
from bot.models import UTC
from bot.render.slacklimits import SLACK_TOKEN, text_length

__all__ = [
    "DATE_FORMAT",
    "ELLIPSIS",
    "URL_CHARS",
    "as_trusted",
    "bold",
    "clean_feed_text",
    "code",
    "escape_slack",
    "fit_text",
    "highlight",
    "mark_trusted",
    "mrkdwn_to_plain",
    "plainify",
    "plural",
    "safe_url",
    "sanitize",
    "slack_date",
    "slack_link",
    "unescape_mrkdwn",
]

# A longer URL (after escaping) is shown as text, not linked: a link must fit a section.
URL_CHARS = 1_500
ELLIPSIS = "…"
DATE_FORMAT = "{date_short_pretty} {time}"

# Control characters (they would also end our block markers) and the bidi
# embedding/override/isolate controls; LRM/RLM marks are kept.
_CLEANED: dict[int, str | None] = {c: None for c in range(32) if c not in (9, 10)}
_CLEANED[0x7F] = None
_CLEANED |= dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# Lone surrogates (text decoded with surrogateescape) cannot be sent as UTF-8.
_CLEANED |= dict.fromkeys(range(0xD800, 0xE000), "\ufffd")
# What a cut may not split: a `<...>` token, an `&...;` escape; else one character.
_ENTITY = r"&(?:#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});"
_CUT_ATOM = re.compile(rf"<[^<>]*>|{_ENTITY}|.", re.S)
# In a URL: what would end or split a Slack token, what RFC 3986 does not allow, non-ASCII.
_URL_UNSAFE = re.compile(r'[<>|"`^{}\\\x7f-\U0010ffff]+')


# -- escaping ------------------------------------------------------------------


def clean_feed_text(value: object) -> str:
    """Feed text as one line without control or bidi-override characters."""
    return collapse_whitespace(str(value).translate(_CLEANED))


def escape_slack(value: object) -> Markup:
    """`value` as Slack text: `&`, `<`, `>` escaped, control characters dropped; Markup kept."""
    if hasattr(value, "__html__"):
        return mark_trusted(value.__html__())
    text = str(value).translate(_CLEANED)
    return mark_trusted(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def mark_trusted(text: str) -> Markup:
    """Mark text as safe for Slack. Only ever given escaped text or markup built here."""
    return Markup(text)  # noqa: S704 - see above


def as_trusted(value: object) -> str:
    """Markup as it is; anything else escaped."""
    return str(escape_slack(value))


def sanitize(text: str, *, mrkdwn: bool) -> tuple[str, list[str]]:
    """`text` with every `<` that opens no allowed token escaped; the escaped bits, shown.

    The last pass over what a template wrote: an operator's literal `<!here>`
    reaches Slack as text (and `check()` reports it).
    """
    if mrkdwn:
        allowed = [(m.start(), m.end()) for m in SLACK_TOKEN.finditer(text)]
    else:
        text, allowed = plainify(text), []
    out: list[str] = []
    stray: list[str] = []
    position = 0
    for start, end in [*allowed, (len(text), len(text))]:
        gap = text[position:start]
        if "<" in gap:
            stray += [repr(m.group(0)) for m in re.finditer(r"<[^<]{0,20}", gap)]
            gap = gap.replace("<", "&lt;")
        out.append(gap + text[start:end])
        position = end
    return "".join(out), stray


# -- links ---------------------------------------------------------------------


def safe_url(url: object) -> str | None:
    """`url` ready to sit in `<url|text>` when it is an absolute http(s) URL, else None.

    Characters that would end or split the token (`>`, `|`), spaces and
    non-ASCII are percent-encoded and `&` is escaped (Slack unescapes it).
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    try:
        netloc = _ascii_netloc(parts.netloc)
    except UnicodeError:
        return None
    url = f"{parts.scheme.lower()}://{netloc}{rest}"
    try:
        encoded = _URL_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), url)
    except UnicodeError:  # a lone surrogate
        return None
    encoded = encoded.replace("&", "&amp;")
    return encoded if text_length(encoded) <= URL_CHARS else None


def _ascii_netloc(netloc: str) -> str:
    """An internationalized host name as the ASCII (IDNA) name it stands for."""
    if netloc.isascii():
        return netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    return quote(userinfo, safe=":") + at + host.encode("idna").decode() + colon + quote(port)


def slack_link(url: object, text: object = "") -> Markup:
    """`<url|text>` for an http(s) URL; for any other (javascript:, data:, ...) the text alone."""
    label = " ".join(plainify(as_trusted(text)).split())  # a token is one line
    target = safe_url(url)
    if target is None:
        return mark_trusted(label) if label else escape_slack(url or "")
    return mark_trusted(f"<{target}|{label}>" if label else f"<{target}>")


# -- the trusted helpers templates call ----------------------------------------


def bold(text: object) -> Markup:
    """`*text*`, escaped; nothing for empty text (Slack would show `**`)."""
    inner = as_trusted(text).strip()
    return mark_trusted(f"*{inner}*") if inner else mark_trusted("")


def code(text: object) -> Markup:
    """`` `text` `` as inline code, escaped; a backtick inside would end it, so it becomes '."""
    inner = as_trusted(text).replace("`", "'").strip()
    return mark_trusted(f"`{inner}`") if inner else mark_trusted("")


def slack_date(value: object, fmt: str = DATE_FORMAT) -> Markup:
    """A Slack date token: each reader sees the time in their own zone; UTC is the fallback.

    https://api.slack.com/reference/surfaces/formatting#date-formatting
    """
    if not isinstance(value, datetime):
        return mark_trusted("")
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    fmt = re.sub(r"[<>|^\x00-\x1f]", "", fmt) or DATE_FORMAT
    try:
        fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return mark_trusted(f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>")
    except (OverflowError, ValueError, OSError):  # datetime.min in a far zone, and such
        return escape_slack(moment.isoformat())


def plural(count: object, word: str, plural_word: str | None = None) -> Markup:
    """A count and its noun: "1 item", "3 items", "1,204 items"."""
    number = count if isinstance(count, int) else 0
    noun = word if number == 1 else (plural_word or word + "s")
    return escape_slack(f"{number:,} {noun}")


def highlight(snippet: str, spans: Iterable[object]) -> Markup:
    """`snippet` escaped, with the matched spans in bold, widened to whole words.

    Slack bolds `*x*` only at word boundaries, so a match inside a word is
    widened to the word; overlapping or touching spans are merged; spans that
    are not (start, end) pairs inside the snippet are ignored.
    """
    ranges = sorted(_word_ranges(snippet, spans))
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out: list[str] = []
    position = 0
    for start, end in merged:
        out.append(escape_slack(snippet[position:start]))
        out.append(bold(snippet[start:end]) or escape_slack(snippet[start:end]))
        position = end
    out.append(escape_slack(snippet[position:]))
    return mark_trusted("".join(out))


def _word_ranges(snippet: str, spans: Iterable[object]) -> Iterator[tuple[int, int]]:
    for span in spans:
        if not isinstance(span, tuple | list) or len(span) != 2:
            continue
        start, end = span
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start, end = max(start, 0), min(end, len(snippet))
        while start < end and snippet[start].isspace():
            start += 1
        while end > start and snippet[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        while start > 0 and snippet[start - 1].isalnum():
            start -= 1
        while end < len(snippet) and snippet[end].isalnum():
            end += 1
        yield start, end


# -- back to plain text, and cutting -------------------------------------------


def mrkdwn_to_plain(text: str, *, unescape: bool = True) -> str:
    """Slack mrkdwn as plain text for a terminal: links and dates become their text.

    With `unescape=False` the `&amp; &lt; &gt;` escapes stay, which is what a
    fallback `text` sent to Slack needs.
    """
    plain = plainify(text)
    return unescape_mrkdwn(plain) if unescape else plain


def unescape_mrkdwn(text: str) -> str:
    """Slack's three escapes (`&lt; &gt; &amp;`) decoded: the text as Slack shows it."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plainify(text: str) -> str:
    """Tokens replaced by what Slack shows for them; escapes kept."""

    def shown(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1]
        target, _, label = inner.partition("|")
        if label:
            return label
        return "" if target.startswith("!") else target

    return SLACK_TOKEN.sub(shown, text)


def fit_text(text: str, limit: int) -> str:
    """`text` cut to `limit` UTF-16 units at a word boundary, ending in "…".

    Never cuts inside a `<...>` token or an `&...;` escape; a link that does not
    fit is replaced by its text, which is then cut like any other text.
    """
    if text_length(text) <= limit:
        return text
    budget = limit - text_length(ELLIPSIS)
    kept: list[str] = []
    used = 0
    last_space = 0  # len(kept) at the last space
    atoms = (m.group(0) for m in _CUT_ATOM.finditer(text))  # lazily: only the head is read
    pending: list[str] = []
    while True:
        atom = pending.pop() if pending else next(atoms, None)
        if atom is None:
            break
        size = text_length(atom) if len(atom) > 1 else 1 + (ord(atom) > 0xFFFF)
        if used + size > budget:
            if atom.startswith("<") and "|" in atom:
                label = atom[1:-1].partition("|")[2]
                pending += reversed([m.group(0) for m in _CUT_ATOM.finditer(label)])
                continue
            break
        kept.append(atom)
        used += size
        if atom.isspace():
            last_space = len(kept)
    # Prefer the word boundary unless it throws away most of what fits.
    if last_space and last_space > len(kept) // 2:
        kept = kept[:last_space]
    # Trailing punctuation goes; an escape's ";" is part of a longer atom and stays.
    while kept and kept[-1] in (" ", "\n", "\t", ",", ";", ":", "-", "–", "—"):
        kept.pop()
    return "".join(kept) + ELLIPSIS
