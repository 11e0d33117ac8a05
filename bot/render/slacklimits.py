"""Slack's message limits, checked on every message before it is sent.

The limits come from the Block Kit reference
(https://api.slack.com/reference/block-kit/blocks and
https://api.slack.com/reference/block-kit/composition-objects#text) and from
`chat.postMessage` (https://api.slack.com/methods/chat.postMessage):

- at most 50 blocks per message;
- a text object holds 1 to 3,000 characters (a section's text, a context element);
- a header's text is `plain_text` of at most 150 characters;
- a context block has at most 10 elements; a section at most 10 fields of 2,000;
- the blocks together: Slack answers `msg_blocks_too_long` somewhere near 13,000
  characters, a limit it does not document and that summing the `text` fields
  alone does not predict (slackapi/bolt-js#2509, #2867). We measure the blocks
  as compact JSON, which counts every text plus the structure around it, and
  keep that under 12,000;
- the top-level `text` (the fallback for notifications and screen readers):
  Slack truncates past 40,000 characters and advises 4,000, which we keep.

Lengths are counted in UTF-16 code units. That is never less than the number
of code points, so a message within our count is within Slack's whichever of
the two Slack counts.

Markup: Slack reads `<...>` as a link, mention or command in every text field
(https://api.slack.com/reference/surfaces/formatting#escaping), which is why
feed text must arrive with `&`, `<` and `>` escaped. The validator checks the
result: in mrkdwn text and in the top-level text every `<` must open a token of
the kinds the renderer writes (a link to an http(s) URL, a `<!date^...>`), or a
user or channel mention; a broadcast (`<!channel>`, `<!here>`, `<!everyone>`,
`<!subteam^...>`) is always reported. In `plain_text` no `<` may appear at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.models import SlackMessage

__all__ = [
    "MAX_BLOCKS",
    "MAX_BLOCKS_CHARS",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_SECTION_FIELDS",
    "MAX_SECTION_TEXT",
    "MAX_TEXT",
    "SLACK_TOKEN",
    "MessageTooLargeError",
    "block_size",
    "blocks_size",
    "ensure_valid",
    "find_stray_markup",
    "text_length",
    "validate_message",
]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
# Our budget for all blocks of one message, as compact JSON (see the module docstring).
MAX_BLOCKS_CHARS = 12_000
MAX_TEXT = 4_000

# The `<...>` tokens a message may carry. URLs never hold whitespace, `<`, `>`
# or `|` (the renderer percent-encodes them); display texts never hold `<` or `>`.
_LINK = r"https?://[^\s<>|]+(?:\|[^<>]*)?"
_DATE = r"!date\^-?[0-9]+\^[^<>|^]*(?:\^https?://[^\s<>|^]+)?\|[^<>]*"
_USER = r"@[UW][A-Z0-9]+(?:\|[^<>]*)?"
_CHANNEL = r"#C[A-Z0-9]+(?:\|[^<>]*)?"
SLACK_TOKEN = re.compile(rf"<(?:{_LINK}|{_DATE}|{_USER}|{_CHANNEL})>")


class MessageTooLargeError(ValueError):
    """A message breaks Slack's limits or carries markup Slack would misread."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("message not sendable: " + "; ".join(self.problems))


def text_length(text: str) -> int:
    """Length of `text` in UTF-16 code units (astral characters such as emoji count two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def block_size(block: Mapping[str, Any]) -> int:
    """Size of one block as compact JSON, in UTF-16 code units."""
    return text_length(json.dumps(block, ensure_ascii=False, separators=(",", ":")))


def blocks_size(blocks: Sequence[Mapping[str, Any]]) -> int:
    """Size of a list of blocks as compact JSON: the blocks, their commas and the brackets."""
    return sum(block_size(b) for b in blocks) + max(len(blocks) - 1, 0) + 2


def find_stray_markup(text: str, *, mrkdwn: bool = True) -> list[str]:
    """The unescaped `<...` sequences in `text` that are not tokens we allow, shown shortened.

    With `mrkdwn=False` (a `plain_text` object) every `<` is stray.
    """
    stray: list[str] = []
    position = text.find("<")
    while position != -1:
        token = SLACK_TOKEN.match(text, position) if mrkdwn else None
        if token is None:
            stray.append(_show(text[position : position + 30]))
            position = text.find("<", position + 1)
        else:
            position = text.find("<", token.end())
    return stray


def validate_message(msg: SlackMessage) -> list[str]:
    """Every way `msg` breaks Slack's limits or carries unescaped markup; empty when sendable."""
    problems: list[str] = []
    text_units = text_length(msg.text)
    if not msg.text.strip():
        problems.append("text (the notification fallback) is empty")
    elif text_units > MAX_TEXT:
        problems.append(f"text is {text_units:,} characters; the limit is {MAX_TEXT:,}")
    problems += [f"text: unescaped {s}" for s in find_stray_markup(msg.text)]

    if len(msg.blocks) > MAX_BLOCKS:
        problems.append(f"{len(msg.blocks)} blocks; the limit is {MAX_BLOCKS}")
    total = blocks_size(msg.blocks) if msg.blocks else 0
    if total > MAX_BLOCKS_CHARS:
        problems.append(
            f"blocks are {total:,} characters as JSON; the budget is {MAX_BLOCKS_CHARS:,}"
        )
    for number, block in enumerate(msg.blocks, 1):
        where = f"block {number} ({block.get('type', '?')})"
        problems += [f"{where}: {p}" for p in _block_problems(block)]
    return problems


def ensure_valid(msg: SlackMessage) -> None:
    """Raise MessageTooLargeError naming every problem of `msg`; return when it is sendable."""
    problems = validate_message(msg)
    if problems:
        raise MessageTooLargeError(problems)


def _block_problems(block: Mapping[str, Any]) -> Iterator[str]:
    kind = block.get("type")
    if kind == "header":
        text = block.get("text")
        if not isinstance(text, Mapping) or text.get("type") != "plain_text":
            yield "header text must be a plain_text object"
        else:
            yield from _text_problems(text, "text", MAX_HEADER_TEXT)
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields") or ()
        if text is None and not fields:
            yield "a section needs text or fields"
        if text is not None:
            yield from _text_problems(text, "text", MAX_SECTION_TEXT)
        if len(fields) > MAX_SECTION_FIELDS:
            yield f"{len(fields)} fields; the limit is {MAX_SECTION_FIELDS}"
        for number, field in enumerate(fields, 1):
            yield from _text_problems(field, f"field {number}", MAX_FIELD_TEXT)
    elif kind == "context":
        elements = block.get("elements") or ()
        if not elements:
            yield "a context block needs at least one element"
        if len(elements) > MAX_CONTEXT_ELEMENTS:
            yield f"{len(elements)} elements; the limit is {MAX_CONTEXT_ELEMENTS}"
        for number, element in enumerate(elements, 1):
            if isinstance(element, Mapping) and element.get("type") in ("mrkdwn", "plain_text"):
                yield from _text_problems(element, f"element {number}", MAX_SECTION_TEXT)


def _text_problems(obj: object, name: str, limit: int) -> Iterator[str]:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        yield f"{name} is not a text object"
        return
    text: str = obj["text"]
    units = text_length(text)
    if not text:
        yield f"{name} is empty (Slack needs at least 1 character)"
    elif units > limit:
        yield f"{name} is {units:,} characters; the limit is {limit:,}"
    for stray in find_stray_markup(text, mrkdwn=obj.get("type") == "mrkdwn"):
        yield f"{name}: unescaped {stray}"


def _show(fragment: str) -> str:
    return json.dumps(fragment, ensure_ascii=False)
