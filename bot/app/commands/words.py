"""Reading the text after `/brief` into `Word`s, with Slack's escapes decoded.

Slack sends the text after `/brief` verbatim, except that `&`, `<` and `>`
arrive as `&amp;`, `&lt;` and `&gt;`, and, with "escape channels, users, and
links" on, a picked channel as `<#C123|name>`, a user as `<@U123|name>` and a
URL as `<https://...>` or `<https://...|label>`
(https://api.slack.com/interactivity/slash-commands#app_command_handling).
Those are decoded here: a word keeps the channel, user or URL it stood for,
and its text is what the user saw (`#name`, `@name`, the URL). Whitespace runs
become one space. Nothing else is interpreted, so words such as `text=` or
`&` reach the search like any other. A bare `#name` (escaping off, or typed in
the console) names no channel id: `channel_of` gives None for it, and the
sub-command answers with how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CHANNEL_ID",
    "TIME_OF_DAY",
    "USER_ID",
    "Word",
    "channel_of",
    "joined",
    "read_words",
    "user_of",
]

CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,20}")
USER_ID = re.compile(r"[UW][A-Z0-9]{8,20}")
TIME_OF_DAY = re.compile(r"[0-9]{1,2}:[0-9]{2}")
# A Slack control sequence (<...>) or one of the three entities Slack escapes.
_SLACK_ESCAPE = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}

# Stands in for whitespace inside a Slack token's label while a line is split
# into words (a private-use character: never in what Slack sends).
_GLUE = "\ue000"


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command: its text as the user saw it, and what a Slack token stood for."""

    text: str
    channel: str | None = None
    user: str | None = None
    url: str | None = None


def read_words(text: str) -> list[Word]:
    """The words of a command line, with Slack's escapes decoded (see the module docstring)."""
    plain: list[str] = []
    tokens: dict[tuple[int, int], Word] = {}
    length = 0
    position = 0
    for match in _SLACK_ESCAPE.finditer(text):
        before = text[position : match.start()]
        plain.append(before)
        length += len(before)
        if match.group(2) is not None:
            shown, word = _ENTITIES[match.group(2)], None
        else:
            shown, word = _read_token(match.group(1), match.group(0))
        if word is not None:
            # A label with spaces ("Click here") stays one word: the token's.
            shown = re.sub(r"\s", _GLUE, shown)
            tokens[(length, length + len(shown))] = word
        plain.append(shown)
        length += len(shown)
        position = match.end()
    plain.append(text[position:])
    joined_text = "".join(plain)
    words = []
    for match in re.finditer(r"\S+", joined_text):
        token = tokens.get((match.start(), match.end()))
        words.append(token if token is not None else Word(match.group(0).replace(_GLUE, " ")))
    return words


def _read_token(inner: str, whole: str) -> tuple[str, Word | None]:
    """(what Slack shows for `<inner>`, the Word it makes), or the literal text if unknown."""
    # Slack escapes &, < and > inside tokens too (a URL's query string has &amp;).
    target, _, label = (_unescape(part) for part in inner.partition("|"))
    if target.startswith("#") and CHANNEL_ID.fullmatch(target[1:]):
        shown = f"#{label}" if label else target
        return shown, Word(shown, channel=target[1:])
    if target.startswith("@") and USER_ID.fullmatch(target[1:]):
        shown = f"@{label}" if label else target
        return shown, Word(shown, user=target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^...|text>
        shown = label or f"@{target[1:]}"
        return shown, Word(shown)
    if re.match(r"(?:https?|mailto):", target, re.IGNORECASE):
        shown = label or target
        return shown, Word(shown, url=target)
    return whole, None


def _unescape(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: _ENTITIES[m.group(1)], text)


def joined(words: Sequence[Word]) -> str:
    """The words' text as one line, one space between words."""
    return " ".join(w.text for w in words)


def channel_of(word: Word) -> str | None:
    """The channel id a word names: a picked channel, or a channel id typed as it is."""
    if word.channel is not None:
        return word.channel
    return word.text if CHANNEL_ID.fullmatch(word.text) else None


def user_of(word: Word) -> str | None:
    """The user id a word names: a picked user, or a user id typed as it is."""
    if word.user is not None:
        return word.user
    return word.text if USER_ID.fullmatch(word.text) else None
