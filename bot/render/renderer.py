"""Jinja2 templates to Slack messages: Block Kit blocks plus a plain-text fallback, within limits.

How a template makes blocks. It writes Slack mrkdwn and marks blocks with helpers:

    {{ header("Briefing · " ~ date_label) }}
    {% call section() %}*{{ link(item.url, item.title) }}*{% endcall %}
    {% call context() %}and {{ more_count }} more{% endcall %}
    {{ divider() }}
    {% call fallback() %}the notification text{% endcall %}
    {{ summary_end() }}

Text outside any block becomes a section of its own. Inside a block each line is
stripped and runs of blank lines are folded, so templates may be indented.
`summary_end()` matters only when a digest is too long for one message: the
blocks above it are posted in the channel, the rest follow (in its thread).
The operator's `templates_dir` is searched first, then the bundled templates.

Escaping is enforced here, not remembered in templates
(https://api.slack.com/reference/surfaces/formatting#escaping): the
Environment's `finalize` hook escapes `&`, `<` and `>` in every value a template
prints unless a trusted helper made it (`link`, `bold`, `code`, `date`,
`plural`, the block helpers). Autoescape is on as well so that macros and call
blocks hand their already-escaped output on as Markup; the `safe`, `urlize` and
`xmlattr` filters are removed. So a feed title `<!channel>` reaches Slack as
`&lt;!channel&gt;`: text, not a mention. Where Jinja itself escapes (`~`,
`join`), markupsafe also writes `&#39;`/`&#34;` for quotes, which Slack would
show as such; those two are turned back into quotes after rendering (feed text
can never produce them: its `&` is always `&amp;`). Feed strings also lose
control characters and the bidi embedding/override/isolate controls
(U+202A-U+202E, U+2066-U+2069), which could reorder the text around a title.
A last pass escapes any `<` that does not open a token we allow (an operator's
literal `<!here>`), and `check()` reports it.

Decided and tested: mrkdwn formatting characters from feeds (`*`, `_`, `~`, a
backtick) are left as they are. Slack has no escape for them, they act only at
word boundaries, and each item is a block of its own, so they cannot reach past
their item. Links and mentions, the parts that do harm, are neutralized. Every
mrkdwn text object is sent with `verbatim: true`, so Slack does not turn plain
`@here`, `#channel` or bare URLs in feed text into mentions or links either
(https://api.slack.com/reference/block-kit/composition-objects#text).

Limits: feed strings are shortened at a word boundary before the template sees
them; each block is then cut to its limit without splitting a link or an entity
(a link that alone does not fit keeps its text); the blocks are packed into
messages of at most 50 blocks and MAX_BLOCKS_CHARS. Every message the public
methods return passes `slacklimits.validate_message`.

A broken operator template (found by `check()` at start-up) never costs a
digest: at run time it is logged and the bundled template is used instead.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from bot.ingest.text import collapse_whitespace, truncate_words
from bot.models import (
    UTC,
    DigestSection,
    DigestView,
    FeedState,
    Item,
    SlackMessage,
)
from bot.render.slacklimits import (
    MAX_BLOCKS,
    MAX_BLOCKS_CHARS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    SLACK_TOKEN,
    block_size,
    text_length,
    validate_message,
)

__all__ = [
    "BUNDLED_TEMPLATES",
    "DIGEST_POST_OPTIONS",
    "TEMPLATE_NAMES",
    "FeedStatusRow",
    "RenderError",
    "Renderer",
    "SearchHitLike",
    "bold",
    "clean_feed_text",
    "code",
    "escape_slack",
    "fit_text",
    "highlight",
    "mrkdwn_to_plain",
    "plural",
    "safe_url",
    "slack_date",
    "slack_link",
]

log = logging.getLogger(__name__)

# For chat.postMessage of digests and alerts: no previews of every linked page.
DIGEST_POST_OPTIONS: Final[Mapping[str, bool]] = MappingProxyType(
    {"unfurl_links": False, "unfurl_media": False}
)
TEMPLATE_NAMES: Final = (
    "digest.j2",
    "alert.j2",
    "search.j2",
    "help.j2",
    "feed_status.j2",
    "notice.j2",
)
BUNDLED_TEMPLATES: Final = Path(__file__).parents[1] / "templates"

# Feed strings are shortened to these (characters) before a template sees them:
# a digest is read in ten seconds, and the block limits stay far away.
TITLE_CHARS = 250
SUMMARY_CHARS = 300
SNIPPET_CHARS = 400
NAME_CHARS = 80
ERROR_CHARS = 160
MAX_ALSO_IN = 6
# A longer URL (after escaping) is shown as text, not linked: a link must fit a section.
URL_CHARS = 1_500
FALLBACK_CHARS = 3_000
ELLIPSIS = "…"
DATE_FORMAT = "{date_short_pretty} {time}"
NOTHING = "(nothing to show)"  # a message whose every text came out empty

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
_BLANK_RUNS = re.compile(r"\n{3,}")
# In a URL: what would end or split a Slack token, what RFC 3986 does not allow, non-ASCII.
_URL_UNSAFE = re.compile(r'[<>|"`^{}\\\x7f-\U0010ffff]+')


class RenderError(RuntimeError):
    """A bundled template failed: a bug in the bot, not in the operator's files."""


class SearchHitLike(Protocol):
    """What `render_search` needs of a search hit (search.py's hits have these)."""

    @property
    def item(self) -> Item: ...

    @property
    def snippet(self) -> str: ...

    @property
    def spans(self) -> Sequence[tuple[int, int]]: ...

    @property
    def also_in(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class FeedStatusRow:
    """One feed for `/brief feeds`: its config and what the bot remembers about it."""

    feed_id: str
    name: str
    enabled: bool
    state: FeedState | None = None


# -- what templates get ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as templates see it: feed strings cleaned and shortened, names resolved."""

    title: str
    url: str | None
    feed: str
    feed_id: str
    published: datetime | None
    summary: str
    entity_list: str | None
    also_in: tuple[str, ...]
    subscriptions: tuple[str, ...]
    item: Item


@dataclass(frozen=True, slots=True)
class SectionView:
    topic_id: str
    title: str
    items: tuple[ItemView, ...]


@dataclass(frozen=True, slots=True)
class HitView:
    item: ItemView
    snippet: Markup


@dataclass(frozen=True, slots=True)
class CommandView:
    usage: str
    description: str


@dataclass(frozen=True, slots=True)
class FeedRowView:
    feed_id: str
    name: str
    status: str  # "ok", "failing", "disabled", "new"
    last_success: datetime | None
    failing_since: datetime | None
    failures: int
    error: str | None
    next_due: datetime | None
    items_stored: int


# -- escaping and trusted helpers (also usable outside templates) ------------


def clean_feed_text(value: object) -> str:
    """Feed text as one line without control or bidi-override characters."""
    return collapse_whitespace(str(value).translate(_CLEANED))


def escape_slack(value: object) -> Markup:
    """`value` as Slack text: `&`, `<`, `>` escaped, control characters dropped; Markup kept."""
    if hasattr(value, "__html__"):
        return _markup(value.__html__())
    text = str(value).translate(_CLEANED)
    return _markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


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
    label = " ".join(_plainify(_trusted(text)).split())  # a token is one line
    target = safe_url(url)
    if target is None:
        return _markup(label) if label else escape_slack(url or "")
    return _markup(f"<{target}|{label}>" if label else f"<{target}>")


def bold(text: object) -> Markup:
    """`*text*`, escaped; nothing for empty text (Slack would show `**`)."""
    inner = _trusted(text).strip()
    return _markup(f"*{inner}*") if inner else _markup("")


def code(text: object) -> Markup:
    """`` `text` `` as inline code, escaped; a backtick inside would end it, so it becomes '."""
    inner = _trusted(text).replace("`", "'").strip()
    return _markup(f"`{inner}`") if inner else _markup("")


def slack_date(value: object, fmt: str = DATE_FORMAT) -> Markup:
    """A Slack date token: each reader sees the time in their own zone; UTC is the fallback.

    https://api.slack.com/reference/surfaces/formatting#date-formatting
    """
    if not isinstance(value, datetime):
        return _markup("")
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    fmt = re.sub(r"[<>|^\x00-\x1f]", "", fmt) or DATE_FORMAT
    try:
        fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return _markup(f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>")
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
    return _markup("".join(out))


def mrkdwn_to_plain(text: str, *, unescape: bool = True) -> str:
    """Slack mrkdwn as plain text for a terminal: links and dates become their text.

    With `unescape=False` the `&amp; &lt; &gt;` escapes stay, which is what a
    fallback `text` sent to Slack needs.
    """
    plain = _plainify(text)
    if unescape:
        plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return plain


def _markup(text: str) -> Markup:
    """Mark text as safe for Slack. Only ever given escaped text or markup built here."""
    return Markup(text)  # noqa: S704 - see above


def _trusted(value: object) -> str:
    """Markup as it is; anything else escaped."""
    return str(escape_slack(value))


def _plainify(text: str) -> str:
    """Tokens replaced by what Slack shows for them; escapes kept."""

    def shown(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1]
        target, _, label = inner.partition("|")
        if label:
            return label
        return "" if target.startswith("!") else target

    return SLACK_TOKEN.sub(shown, text)


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


def _shorten(value: object, limit: int) -> str:
    # Only the head can be shown; cleaning a 100 kB summary whole would be wasted time.
    head = str(value)[: limit * 2 + 64]
    return truncate_words(clean_feed_text(head), limit, ellipsis=ELLIPSIS)


# -- from rendered text to blocks ---------------------------------------------


@dataclass(slots=True)
class _Output:
    """One template's rendering: blocks, the fallback it asked for, where the summary ends."""

    blocks: list[dict[str, Any]]
    fallback: str | None
    lead: int | None
    stray: list[str] = field(default_factory=list)


class _Blocks:
    """The block helpers of one Renderer: each returns a marker that `parse` turns into a block.

    A marker is NUL, a per-renderer random nonce, the block kind, SOH, the
    block's escaped text and NUL. Feed text loses its control characters
    before it is printed and cannot know the nonce, so it cannot forge one.
    """

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.pattern = re.compile("\x00" + self.nonce + r"([a-z_]+)\x01([^\x00]*)\x00")

    def globals(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "section": self.section,
            "context": self.context,
            "fallback": self.fallback,
            "divider": self.divider,
            "summary_end": self.summary_end,
            "link": slack_link,
            "bold": bold,
            "code": code,
            "date": slack_date,
            "plural": plural,
        }

    def _mark(self, kind: str, text: object, caller: Callable[[], str] | None) -> Markup:
        body = _trusted(caller() if caller is not None else text)
        if self.nonce in body:
            raise jinja2.TemplateRuntimeError(f"blocks cannot be nested: a block inside {kind}()")
        return _markup(f"\x00{self.nonce}{kind}\x01{body.replace(chr(0), '')}\x00")

    def header(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("header", text, caller)

    def section(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("section", text, caller)

    def context(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("context", text, caller)

    def fallback(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("fallback", text, caller)

    def divider(self) -> Markup:
        return self._mark("divider", "", None)

    def summary_end(self) -> Markup:
        return self._mark("summary_end", "", None)

    def parse(self, rendered: str) -> _Output:
        """Blocks, fallback and summary end from a template's output; stray markup escaped."""
        # markupsafe's quote escapes, from `~` and `join` (see the module docstring).
        rendered = rendered.replace("&#39;", "'").replace("&#34;", '"')
        out = _Output(blocks=[], fallback=None, lead=None)
        position = 0
        for marker in self.pattern.finditer(rendered):
            _add_block(out, "section", rendered[position : marker.start()])
            kind, body = marker.groups()
            if kind == "summary_end":
                out.lead = len(out.blocks)
            elif kind == "fallback":
                text = _tidy(body)
                out.fallback = text if out.fallback is None else f"{out.fallback} {text}"
            else:
                _add_block(out, kind, body)
            position = marker.end()
        _add_block(out, "section", rendered[position:])
        if out.fallback is not None:
            out.fallback, stray = _sanitize(out.fallback, mrkdwn=True)
            out.stray += stray
        return out


def _tidy(text: str) -> str:
    """Each line stripped, blank lines at the ends dropped, runs of blank lines folded."""
    lines = [line.strip() for line in text.replace("\x01", "").replace("\x00", "").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _sanitize(text: str, *, mrkdwn: bool) -> tuple[str, list[str]]:
    """`text` with every `<` that opens no allowed token escaped; the escaped bits, shown."""
    if mrkdwn:
        allowed = [(m.start(), m.end()) for m in SLACK_TOKEN.finditer(text)]
    else:
        text, allowed = _plainify(text), []
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


def _add_block(out: _Output, kind: str, raw: str) -> None:
    text = _tidy(raw)
    if kind == "divider":
        out.blocks.append({"type": "divider"})
        return
    if not text:
        return
    text, stray = _sanitize(text, mrkdwn=kind != "header")
    out.stray += stray
    if kind == "header":
        plain = fit_text(" ".join(text.split()), MAX_HEADER_TEXT)
        out.blocks.append({"type": "header", "text": _text_object(plain, "plain_text")})
    elif kind == "context":
        element = _text_object(fit_text(text, MAX_SECTION_TEXT), "mrkdwn")
        out.blocks.append({"type": "context", "elements": [element]})
    else:
        out.blocks.append(_section(fit_text(text, MAX_SECTION_TEXT)))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text_object(text)}


def _text_object(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    if kind == "plain_text":
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text, "verbatim": True}


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


def _pack(blocks: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Blocks in order, into as few messages as fit Slack's block count and size budget."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 2  # the list's brackets
    for block in blocks:
        extra = block_size(block) + (1 if current else 0)
        if current and (len(current) >= MAX_BLOCKS or size + extra > MAX_BLOCKS_CHARS):
            chunks.append(current)
            current, size = [], 2
            extra -= 1
        current.append(block)
        size += extra
    if current:
        chunks.append(current)
    return chunks


def _fallback_of(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The plain text of blocks, shortened: a message's fallback when its template gave none."""
    parts: list[str] = []
    for block in blocks:
        texts = [block.get("text"), *(block.get("elements") or [])]
        parts += [t["text"] for t in texts if isinstance(t, Mapping) and "text" in t]
    return fit_text(_plainify("\n".join(parts)), FALLBACK_CHARS) or "(empty message)"


# -- the renderer ---------------------------------------------------------------


class Renderer:
    """Renders digests, alerts, search results, help, feed status and notices to SlackMessages."""

    def __init__(
        self, templates_dir: str | None = None, *, feed_names: Mapping[str, str] | None = None
    ) -> None:
        self.templates_dir = templates_dir
        self._feed_names = dict(feed_names or {})
        self._blocks = _Blocks()
        bundled = jinja2.FileSystemLoader(str(BUNDLED_TEMPLATES))
        loaders: list[jinja2.BaseLoader] = [bundled]
        if templates_dir:
            loaders.insert(0, jinja2.FileSystemLoader(templates_dir))
        self._env = self._make_environment(jinja2.ChoiceLoader(loaders))
        self._bundled_env = self._make_environment(bundled)

    def _make_environment(self, loader: jinja2.BaseLoader) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            finalize=escape_slack,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
        )
        for unsafe in ("safe", "urlize", "xmlattr"):
            env.filters.pop(unsafe, None)
        env.globals.update(self._blocks.globals())
        return env

    # -- public rendering ------------------------------------------------------

    def render_digest(self, view: DigestView, *, thread: bool = True) -> list[SlackMessage]:
        """A channel's digest: one message, or a summary plus the rest (in its thread)."""
        return self._digest(view, thread=thread, strict=False)

    def render_alerts(
        self,
        owner: str,
        items_with_subs: Sequence[tuple[Item, tuple[str, ...]]],
        *,
        more: int = 0,
    ) -> list[SlackMessage]:
        """One message for one owner naming each item and the subscriptions it matched."""
        return self._alerts(owner, items_with_subs, more=more, strict=False)

    def render_search(
        self, query_text: str, hits: Sequence[SearchHitLike], total: int
    ) -> list[SlackMessage]:
        """Search results: each hit's title, snippet with the matches in bold, feed and date."""
        return self._search(query_text, hits, total, strict=False)

    def render_help(self, commands: Sequence[tuple[str, str]]) -> list[SlackMessage]:
        """The `/brief help` reply from (usage, description) pairs."""
        return self._help(commands, strict=False)

    def render_feed_status(self, rows: Sequence[FeedStatusRow]) -> list[SlackMessage]:
        """Which feeds are healthy, failing (since when, why), disabled or not polled yet."""
        return self._feed_status(rows, strict=False)

    def render_notice(self, text: str) -> list[SlackMessage]:
        """A one-block message of plain text (escaped), e.g. "Subscribed to entity-list"."""
        return self._messages(self._render("notice.j2", {"text": text}, strict=False))

    def check(self) -> list[str]:
        """Compile every template and render it with sample data; the problems, as file:line: what.

        Run by `briefbot check-config` and at start-up, so that a broken
        override is found then, not at digest time.
        """
        errors: list[str] = []
        if self.templates_dir and not Path(self.templates_dir).is_dir():
            errors.append(f"templates_dir {self.templates_dir}: not a directory")
        broken: set[str] = set()
        for name in TEMPLATE_NAMES:
            try:
                self._env.get_template(name)
            except jinja2.TemplateSyntaxError as error:
                broken.add(name)
                path = _display_path(error.filename or name)
                errors.append(f"{path}:{error.lineno}: {error.message}")
            except jinja2.TemplateError as error:
                broken.add(name)
                errors.append(f"{name}: {error}")
        for name, job in self._sample_jobs():
            if name in broken:
                continue
            try:
                messages = job()
            except Exception as error:  # any failure of an operator's template is reported
                broken.add(name)
                errors.append(self._describe(error, name))
                continue
            for number, message in enumerate(messages, 1):
                errors += [
                    f"{self._path_of(name)}: message {number}: {problem}"
                    for problem in validate_message(message)
                ]
        return list(dict.fromkeys(errors))

    # -- per kind ---------------------------------------------------------------

    def _digest(self, view: DigestView, *, thread: bool, strict: bool) -> list[SlackMessage]:
        context: dict[str, Any] = {
            "view": view,
            "date_label": view.date_label,
            "sections": [self._section_view(s) for s in view.sections],
            "item_count": view.item_count,
            "more_count": view.more_count,
            "more_hint": view.more_hint,
            "split": False,
            "thread": thread,
        }
        whole = self._render("digest.j2", context, strict=strict)
        if len(_pack(whole.blocks)) == 1:
            whole.lead = None  # one message: nothing to split at summary_end()
            return self._messages(whole)
        split = self._render("digest.j2", {**context, "split": True}, strict=strict)
        return self._messages(split, thread=thread)

    def _alerts(
        self,
        owner: str,
        items_with_subs: Sequence[tuple[Item, tuple[str, ...]]],
        *,
        more: int,
        strict: bool,
    ) -> list[SlackMessage]:
        context = {
            "owner": owner,
            "items": [self._item_view(item, subscriptions=subs) for item, subs in items_with_subs],
            "more": max(more, 0),
            "more_hint": "/brief latest",
        }
        return self._messages(self._render("alert.j2", context, strict=strict))

    def _search(
        self, query_text: str, hits: Sequence[SearchHitLike], total: int, *, strict: bool
    ) -> list[SlackMessage]:
        views = [
            HitView(
                item=self._item_view(hit.item, also_in=hit.also_in or None),
                snippet=_snippet(hit.snippet, hit.spans),
            )
            for hit in hits
        ]
        context = {
            "query": _shorten(query_text, SUMMARY_CHARS),
            "hits": views,
            "total": max(total, len(views)),
        }
        return self._messages(self._render("search.j2", context, strict=strict))

    def _help(self, commands: Sequence[tuple[str, str]], *, strict: bool) -> list[SlackMessage]:
        views = [CommandView(usage, description) for usage, description in commands]
        return self._messages(self._render("help.j2", {"commands": views}, strict=strict))

    def _feed_status(self, rows: Sequence[FeedStatusRow], *, strict: bool) -> list[SlackMessage]:
        views = [self._feed_row_view(row) for row in rows]
        counts = dict.fromkeys(("ok", "failing", "disabled", "new"), 0)
        for row in views:
            counts[row.status] += 1
        context = {"rows": views, "counts": counts}
        return self._messages(self._render("feed_status.j2", context, strict=strict))

    # -- views --------------------------------------------------------------------

    def _feed_name(self, feed_id: str) -> str:
        return _shorten(self._feed_names.get(feed_id) or feed_id, NAME_CHARS)

    def _item_view(
        self,
        item: Item,
        *,
        also_in: Sequence[str] | None = None,
        subscriptions: Sequence[str] = (),
    ) -> ItemView:
        title = _shorten(item.title, TITLE_CHARS) or _shorten(item.link or "", TITLE_CHARS)
        others = _also_in_ids(item) if also_in is None else list(also_in)
        names = list(dict.fromkeys(self._feed_name(f) for f in others if f != item.feed_id))
        if len(names) > MAX_ALSO_IN:
            names[MAX_ALSO_IN - 1 :] = [f"{len(names) - MAX_ALSO_IN + 1} more"]
        entity_list = item.extras.get("entity_list")
        summary_line = entity_list.get("summary") if isinstance(entity_list, Mapping) else None
        return ItemView(
            title=title or "(untitled)",
            url=item.link if safe_url(item.link) else None,
            feed=self._feed_name(item.feed_id),
            feed_id=item.feed_id,
            published=item.published or item.first_seen,
            summary=_shorten(item.summary, SUMMARY_CHARS),
            entity_list=_shorten(summary_line, SUMMARY_CHARS) if summary_line else None,
            also_in=tuple(names),
            subscriptions=tuple(_shorten(s, NAME_CHARS) for s in subscriptions),
            item=item,
        )

    def _section_view(self, section: DigestSection) -> SectionView:
        return SectionView(
            topic_id=section.topic_id,
            title=_shorten(section.title or section.topic_id, NAME_CHARS),
            items=tuple(self._item_view(item) for item in section.items),
        )

    def _feed_row_view(self, row: FeedStatusRow) -> FeedRowView:
        state = row.state or FeedState(feed_id=row.feed_id)
        if not row.enabled:
            status = "disabled"
        elif state.consecutive_failures > 0:
            status = "failing"
        elif state.last_success is None:
            status = "new"
        else:
            status = "ok"
        return FeedRowView(
            feed_id=_shorten(row.feed_id, NAME_CHARS),
            name=_shorten(row.name or row.feed_id, NAME_CHARS),
            status=status,
            last_success=state.last_success,
            failing_since=state.failing_since,
            failures=state.consecutive_failures,
            error=_shorten(state.last_error, ERROR_CHARS) if state.last_error else None,
            next_due=state.next_due,
            items_stored=state.items_stored,
        )

    # -- rendering machinery ----------------------------------------------------------

    def _render(self, name: str, context: Mapping[str, Any], *, strict: bool) -> _Output:
        """Render `name`; unless strict, an operator's broken template yields to the bundled one.

        Strict (check()) also refuses output without blocks or with literal markup;
        at run time those are an empty notice (shown as NOTHING) and escaped.
        """
        try:
            out = self._blocks.parse(self._env.get_template(name).render(context))
            if strict and not out.blocks:
                raise jinja2.TemplateRuntimeError("the template produced no blocks")
            if strict and out.stray:
                raise jinja2.TemplateRuntimeError(
                    f"writes {', '.join(out.stray)}, which Slack would read as markup "
                    "(write &lt; for a literal <)"
                )
            return out if out.blocks else _Output([_section(NOTHING)], NOTHING, None)
        except Exception as error:  # an override's bug must not cost a digest
            if strict:
                raise
            described = self._describe(error, name)
            if not self.templates_dir:
                raise RenderError(described) from error
            # The fault may lie in any override (an imported macro file too).
            log.warning("%s; using the bundled %s instead", described, name)
        try:
            out = self._blocks.parse(self._bundled_env.get_template(name).render(context))
        except Exception as error:
            raise RenderError(self._describe(error, name)) from error
        return out if out.blocks else _Output([_section(NOTHING)], NOTHING, None)

    def _messages(self, out: _Output, *, thread: bool = False) -> list[SlackMessage]:
        """Pack blocks into messages: the summary (blocks above summary_end()) first."""
        if out.lead is None:
            chunks = _pack(out.blocks)
        else:
            chunks = _pack(out.blocks[: out.lead]) + _pack(out.blocks[out.lead :])
        messages = []
        for number, chunk in enumerate(chunks):
            text = out.fallback if number == 0 and out.fallback else _fallback_of(chunk)
            messages.append(
                SlackMessage(
                    text=fit_text(text, FALLBACK_CHARS),
                    blocks=tuple(chunk),
                    in_thread=thread and number > 0,
                )
            )
        return messages

    def _overridden(self, name: str) -> bool:
        return bool(self.templates_dir) and (Path(str(self.templates_dir)) / name).is_file()

    def _path_of(self, name: str) -> str:
        folder = Path(str(self.templates_dir)) if self._overridden(name) else BUNDLED_TEMPLATES
        return _display_path(str(folder / name))

    def _describe(self, error: BaseException, name: str) -> str:
        """`path:line: message` for a template error, from the template frames of its traceback."""
        if isinstance(error, jinja2.TemplateSyntaxError):
            return f"{_display_path(error.filename or name)}:{error.lineno}: {error.message}"
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if frame.filename.endswith((".j2", ".jinja", ".html", ".txt"))
        ]
        message = str(error) or type(error).__name__
        if frames:
            return f"{_display_path(frames[-1].filename)}:{frames[-1].lineno}: {message}"
        return f"{self._path_of(name)}: {message}"

    def _sample_jobs(self) -> list[tuple[str, Callable[[], list[SlackMessage]]]]:
        """Every template rendered with sample data, through each branch the bundled ones have."""
        samples = _samples()
        empty = DigestView(channel="C0SAMPLE", date_label="Monday 1 June 2026", sections=())

        def digest(view: DigestView, thread: bool) -> Callable[[], list[SlackMessage]]:
            return lambda: self._digest(view, thread=thread, strict=True)

        return [
            ("digest.j2", digest(samples.digest, True)),
            ("digest.j2", digest(samples.long_digest, True)),
            ("digest.j2", digest(samples.long_digest, False)),
            ("digest.j2", digest(empty, True)),
            ("alert.j2", lambda: self._alerts("U0SAMPLE", samples.alerts, more=2, strict=True)),
            ("alert.j2", lambda: self._alerts("C0SAMPLE", samples.alerts[:1], more=0, strict=True)),
            ("search.j2", lambda: self._search("entity list", samples.hits, 12, strict=True)),
            ("search.j2", lambda: self._search("nothing", [], 0, strict=True)),
            ("help.j2", lambda: self._help(samples.commands, strict=True)),
            ("feed_status.j2", lambda: self._feed_status(samples.feed_rows, strict=True)),
            (
                "notice.j2",
                lambda: self._messages(
                    self._render("notice.j2", {"text": "Subscribed."}, strict=True)
                ),
            ),
        ]


def _snippet(snippet: object, spans: object) -> Markup:
    text = str(snippet).replace("\n", " ")
    shortened = truncate_words(text, SNIPPET_CHARS, ellipsis=ELLIPSIS)
    cut = shortened != text
    head = shortened[: -len(ELLIPSIS)] if cut else text
    pairs = spans if isinstance(spans, Iterable) else ()
    marked = highlight(head, pairs)
    return _markup(marked + ELLIPSIS) if cut else marked


def _also_in_ids(item: Item) -> list[str]:
    value = item.extras.get("also_in")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def _display_path(filename: str) -> str:
    """A template path as a person would type it: relative to the working directory if inside it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


# -- sample data for check() ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SampleHit:
    item: Item
    snippet: str
    spans: Sequence[tuple[int, int]]
    also_in: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Samples:
    digest: DigestView
    long_digest: DigestView
    alerts: list[tuple[Item, tuple[str, ...]]]
    hits: list[_SampleHit]
    commands: list[tuple[str, str]]
    feed_rows: list[FeedStatusRow]


def _samples() -> _Samples:
    now = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    entity = Item(
        id="2026-01234",
        feed_id="fr-bis",
        title="Additions to the Entity List",
        summary="BIS amends the EAR by adding 36 entities to the Entity List.",
        link="https://www.federalregister.gov/d/2026-01234",
        published=now - timedelta(hours=3),
        extras={
            "entity_list": {"summary": "36 entities added: China 30, Japan 1"},
            "also_in": ["fr-entity-list"],
        },
    )
    plain = Item(
        id="n1",
        feed_id="news",
        title="Chip export rules & <!here> what changes",
        summary="",
        link="javascript:alert(1)",
    )
    long = Item(id="n2", feed_id="news", title="word " * 80, link="https://example.com/x")
    sections = (
        DigestSection("entity-list", "Entity List", (entity,)),
        DigestSection("chips", "Semiconductors", (plain, long)),
        DigestSection("japan", "Japan economic security", (plain,)),
    )
    many = tuple(
        Item(id=f"m{i}", feed_id="news", title=f"Item {i}", link=f"https://example.com/{i}")
        for i in range(60)
    )
    return _Samples(
        digest=DigestView(
            channel="C0SAMPLE", date_label="Monday 1 June 2026", sections=sections, more_count=3
        ),
        long_digest=DigestView(
            channel="C0SAMPLE",
            date_label="Monday 1 June 2026",
            sections=(DigestSection("chips", "Semiconductors", many), *sections),
            more_count=5,
        ),
        alerts=[(entity, ("topic entity-list", "query BIS")), (plain, ("topic chips",))],
        hits=[_SampleHit(entity, "adding 36 entities to the Entity List", [(26, 37)], ())],
        commands=[("/brief help", "this list"), ("/brief search QUERY", "search what was seen")],
        feed_rows=[
            FeedStatusRow(
                "fr-bis", "Federal Register: BIS", True, FeedState("fr-bis", last_success=now)
            ),
            FeedStatusRow(
                "news",
                "News",
                True,
                FeedState("news", consecutive_failures=3, failing_since=now, last_error="HTTP 503"),
            ),
            FeedStatusRow("old", "Old feed", False, None),
            FeedStatusRow("fresh", "Fresh feed", True, None),
        ],
    )
