"""Block Kit from a template's output, and packing blocks into messages within Slack's limits.

How a template makes blocks. It writes Slack mrkdwn and marks blocks with helpers:

    {{ header("Briefing · " ~ date_label) }}
    {% call section() %}*{{ link(item.url, item.title) }}*{% endcall %}
    {% call context() %}and {{ more_count }} more{% endcall %}
    {{ divider() }}
    {% call fallback() %}the notification text{% endcall %}
    {{ summary_end() }}

Buttons: `{{ actions(button("Mute", "sub.mute", sub_id), ...) }}` is an
actions block; `{% call section(accessory=button(...)) %}..{% endcall %}` a
section with a button at its side. A button's label is plain text (cut to
75 characters), its `action_id` and `value` are what the Slack app is handed
when it is pressed (bot/surfaces.py), never shown.

Text outside any block becomes a section of its own. Inside a block each line is
stripped and runs of blank lines are folded, so templates may be indented.
`summary_end()` matters only when a digest is too long for one message: the
blocks above it are posted in the channel, the rest follow (in its thread).

Where Jinja itself escapes (`~`, `join`), markupsafe also writes `&#39;`/`&#34;`
for quotes, which Slack would show as such; those two are turned back into
quotes after rendering (feed text can never produce them: its `&` is always
`&amp;`). Every mrkdwn text object is sent with `verbatim: true`, so Slack does
not turn plain `@here`, `#channel` or bare URLs in feed text into mentions or
links either (https://api.slack.com/reference/block-kit/composition-objects#text).

Limits: each block is cut to its limit (`fit_text`); the blocks are then packed
into messages of at most 50 blocks and MAX_BLOCKS_CHARS (`pack_messages`, which
the slash commands also use to answer in as few messages as they can).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from bot.ingest.text import truncate_words
from bot.models import SlackMessage
from bot.render.mrkdwn import (
    as_trusted,
    bold,
    code,
    fit_text,
    mark_trusted,
    plainify,
    plural,
    sanitize,
    slack_date,
    slack_link,
)
from bot.render.slacklimits import (
    MAX_BLOCKS,
    MAX_BLOCKS_CHARS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    block_size,
)

__all__ = [
    "EMPTY_TEXT",
    "FALLBACK_CHARS",
    "NOTHING",
    "BlockHelpers",
    "TemplateOutput",
    "messages_of",
    "pack_messages",
]

FALLBACK_CHARS = 3_000
MAX_BUTTON_TEXT = 75  # Slack's limit on a button's label
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_ACTIONS_ELEMENTS = 25
_EXTRA = "\x02"  # marks a section's accessory (JSON) at the start of its body
NOTHING = "(nothing to show)"  # a message whose every text came out empty
EMPTY_TEXT = "(empty message)"  # a message's text when it would be empty
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(slots=True)
class TemplateOutput:
    """One template's rendering: blocks, the fallback it asked for, where the summary ends."""

    blocks: list[dict[str, Any]]
    fallback: str | None
    lead: int | None
    stray: list[str] = field(default_factory=list)

    def or_nothing(self) -> TemplateOutput:
        """This output, or one saying NOTHING when it has no block (Slack needs one)."""
        return self if self.blocks else TemplateOutput([_section(NOTHING)], NOTHING, None)


# -- from rendered text to blocks ------------------------------------------------


class BlockHelpers:
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
            "actions": self.actions,
            "button": button,
            "link": slack_link,
            "bold": bold,
            "code": code,
            "date": slack_date,
            "plural": plural,
        }

    def _mark(
        self,
        kind: str,
        text: object,
        caller: Callable[[], str] | None,
        extra: object = None,
    ) -> Markup:
        body = as_trusted(caller() if caller is not None else text)
        if self.nonce in body:
            raise jinja2.TemplateRuntimeError(f"blocks cannot be nested: a block inside {kind}()")
        body = body.replace(chr(0), "").replace(_EXTRA, "")
        if extra is not None:
            # JSON (ASCII only: no NUL, no marker characters) ahead of the text.
            body = f"{_EXTRA}{json.dumps(extra)}{_EXTRA}{body}"
        return mark_trusted(f"\x00{self.nonce}{kind}\x01{body}\x00")

    def header(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("header", text, caller)

    def section(
        self,
        text: object = "",
        caller: Callable[[], str] | None = None,
        accessory: Mapping[str, Any] | None = None,
    ) -> Markup:
        return self._mark("section", text, caller, dict(accessory) if accessory else None)

    def actions(self, *buttons: Mapping[str, Any] | None) -> Markup:
        """An actions block of the buttons given (None and empty ones left out)."""
        elements = [dict(b) for b in buttons if b][:MAX_ACTIONS_ELEMENTS]
        return self._mark("actions", "", None, elements) if elements else Markup("")

    def context(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("context", text, caller)

    def fallback(self, text: object = "", caller: Callable[[], str] | None = None) -> Markup:
        return self._mark("fallback", text, caller)

    def divider(self) -> Markup:
        return self._mark("divider", "", None)

    def summary_end(self) -> Markup:
        return self._mark("summary_end", "", None)

    def parse(self, rendered: str) -> TemplateOutput:
        """Blocks, fallback and summary end from a template's output; stray markup escaped."""
        # markupsafe's quote escapes, from `~` and `join` (see the module docstring).
        rendered = rendered.replace("&#39;", "'").replace("&#34;", '"')
        out = TemplateOutput(blocks=[], fallback=None, lead=None)
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
            out.fallback, stray = sanitize(out.fallback, mrkdwn=True)
            out.stray += stray
        return out


def _tidy(text: str) -> str:
    """Each line stripped, blank lines at the ends dropped, runs of blank lines folded."""
    lines = [line.strip() for line in text.replace("\x01", "").replace("\x00", "").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def button(
    text: object, action_id: object, value: object = "", style: str | None = None
) -> dict[str, Any]:
    """A button for `actions()` or a section's `accessory` (see the module docstring)."""
    label = text.unescape() if isinstance(text, Markup) else str(text)
    element: dict[str, Any] = {
        "type": "button",
        "text": _text_object(fit_text(" ".join(label.split()), MAX_BUTTON_TEXT), "plain_text"),
        "action_id": str(action_id)[:MAX_ACTION_ID],
    }
    if value != "":
        element["value"] = str(value)[:MAX_BUTTON_VALUE]
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def _add_block(out: TemplateOutput, kind: str, raw: str) -> None:
    extra: Any = None
    if raw.startswith(_EXTRA):
        encoded, _, raw = raw[1:].partition(_EXTRA)
        extra = json.loads(encoded)
    if kind == "actions":
        out.blocks.append({"type": "actions", "elements": extra or []})
        return
    text = _tidy(raw)
    if kind == "divider":
        out.blocks.append({"type": "divider"})
        return
    if not text:
        return
    text, stray = sanitize(text, mrkdwn=kind != "header")
    out.stray += stray
    if kind == "header":
        plain = fit_text(" ".join(text.split()), MAX_HEADER_TEXT)
        out.blocks.append({"type": "header", "text": _text_object(plain, "plain_text")})
    elif kind == "context":
        element = _text_object(fit_text(text, MAX_SECTION_TEXT), "mrkdwn")
        out.blocks.append({"type": "context", "elements": [element]})
    else:
        block = _section(fit_text(text, MAX_SECTION_TEXT))
        if extra:
            block["accessory"] = extra
        out.blocks.append(block)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text_object(text)}


def _text_object(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    if kind == "plain_text":
        return {"type": "plain_text", "text": text, "emoji": True}
    return {"type": "mrkdwn", "text": text, "verbatim": True}


# -- from blocks to messages ---------------------------------------------------


def pack_messages(messages: Iterable[SlackMessage]) -> list[SlackMessage]:
    """The blocks of `messages`, in order, in as few messages as Slack's limits allow.

    A packed message holds at most MAX_BLOCKS blocks and MAX_BLOCKS_CHARS of
    them as compact JSON (a block larger than that alone goes alone). Its text
    is the texts of the messages whose last block it holds, and of those
    without blocks that came among them; one that holds no message's last
    block (the middle of a long message) takes that message's text. The texts
    are joined by line breaks and shortened to MAX_TEXT; EMPTY_TEXT when that
    is empty. `in_thread` is not kept: every packed message is False, and a
    caller that threads them sets it afterwards (`messages_of`).

    Each reply to a slash command is one `respond()` call, and a response_url
    takes about five, so a reply is packed rather than sent as many small ones.
    """
    packed: list[SlackMessage] = []
    blocks: list[Any] = []
    texts: list[str] = []
    size = 2  # the list's brackets
    for message in messages:
        texts.append(message.text)
        for block in message.blocks:
            extra = block_size(block) + (1 if blocks else 0)
            if blocks and (len(blocks) >= MAX_BLOCKS or size + extra > MAX_BLOCKS_CHARS):
                packed.append(_packed(blocks, texts[:-1] or texts))
                blocks, texts, size = [], [message.text], 2
                extra -= 1
            blocks.append(block)
            size += extra
    if blocks or texts:
        packed.append(_packed(blocks, texts))
    return packed


def _packed(blocks: Sequence[Any], texts: Sequence[str]) -> SlackMessage:
    text = truncate_words("\n".join(t for t in texts if t), MAX_TEXT) or EMPTY_TEXT
    return SlackMessage(text=text, blocks=tuple(blocks))


def messages_of(out: TemplateOutput, *, thread: bool = False) -> list[SlackMessage]:
    """A template's blocks packed into messages: the summary (blocks above summary_end()) first.

    The summary and the rest are packed apart, so that the summary stands
    alone. Each message's text is what its own blocks say (`_fallback_text`),
    except the first's, which is the template's fallback when it wrote one.
    With `thread`, every message after the first goes in the first's thread.
    """
    parts = [out.blocks] if out.lead is None else [out.blocks[: out.lead], out.blocks[out.lead :]]
    chunks = [
        packed.blocks
        for part in parts
        if part  # a summary_end() first or last leaves a part with nothing to send
        for packed in pack_messages([SlackMessage(text="", blocks=tuple(part))])
    ]
    messages = []
    for number, chunk in enumerate(chunks):
        text = out.fallback if number == 0 and out.fallback else _fallback_text(chunk)
        messages.append(
            SlackMessage(
                text=fit_text(text, FALLBACK_CHARS),
                blocks=chunk,
                in_thread=thread and number > 0,
            )
        )
    return messages


def _fallback_text(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The plain text of blocks, shortened: a message's fallback when its template gave none."""
    parts: list[str] = []
    for block in blocks:
        if block.get("type") == "actions":
            continue  # buttons say what to do, not what the message says
        texts = [block.get("text"), *(block.get("elements") or [])]
        parts += [
            t["text"] for t in texts if isinstance(t, Mapping) and isinstance(t.get("text"), str)
        ]
    return fit_text(plainify("\n".join(parts)), FALLBACK_CHARS) or EMPTY_TEXT
