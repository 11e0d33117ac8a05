"""Slack mrkdwn shown in a terminal the way Slack shows it: bold, italics, code, links.

`briefbot digest --dry-run` and `briefbot console` print what would reach
Slack. Raw mrkdwn (`*bold*`, `<https://…|label>`, `:warning:`) is hard to read
there, so each message is turned into styled text: `*x*` bold, `_x_` italic,
`` `x` `` as code, a link as its label (a terminal hyperlink where the terminal
has them), a date token as its fallback text, emoji codes as the emoji (the
few the templates use) or dropped, and Slack's `&lt; &gt; &amp;` escapes
decoded. Returns (text, style) runs, so this module needs no terminal library.
"""

from __future__ import annotations

import re

from bot.render.mrkdwn import unescape_mrkdwn
from bot.render.slacklimits import SLACK_TOKEN

__all__ = ["Run", "mrkdwn_runs"]

Run = tuple[str, str]  # (text, rich style: "" for plain)

_EMOJI = {
    "white_check_mark": "✅",
    "warning": "⚠️",
    "pause_button": "⏸",
    "hourglass_flowing_sand": "⏳",
    "newspaper": "📰",
    "bell": "🔔",
    "mag": "🔍",
}
_HELD = re.compile("\ue000(\\d+)\ue001")
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]{1,40}):")
_STYLED = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<!\w)_([^_\n]+)_(?!\w)|`([^`\n]+)`")


def mrkdwn_runs(text: str) -> list[Run]:
    """`text` (Slack mrkdwn) as runs of plain text, each with its style."""
    tokens: list[str] = []

    def hold(match: re.Match[str]) -> str:
        tokens.append(match.group(0)[1:-1])
        return f"\ue000{len(tokens) - 1}\ue001"

    # Tokens out of the way first, so that `*<url|title>*` is a bold link.
    held = SLACK_TOKEN.sub(hold, text)
    runs: list[Run] = []
    for piece, style in _styled(held):
        position = 0
        for placeholder in _HELD.finditer(piece):
            runs.append((piece[position : placeholder.start()], style))
            shown, token_style = _token(tokens[int(placeholder.group(1))])
            runs.append((shown, " ".join(s for s in (style, token_style) if s)))
            position = placeholder.end()
        runs.append((piece[position:], style))
    return [(piece, style) for piece, style in runs if piece]


def _token(inner: str) -> Run:
    target, _, label = inner.partition("|")
    if target.startswith("!date^"):
        return unescape_mrkdwn(label), ""
    if target.startswith(("!", "#", "@")):
        return unescape_mrkdwn(label or target), "bold"
    shown = unescape_mrkdwn(label or target)
    return shown, f"underline link {target}" if " " not in target else "underline"


def _styled(text: str) -> list[Run]:
    runs: list[Run] = []
    position = 0
    for match in _STYLED.finditer(text):
        runs.append((_plain(text[position : match.start()]), ""))
        bold, italic, code = match.groups()
        if bold is not None:
            runs.append((_plain(bold), "bold"))
        elif italic is not None:
            runs.append((_plain(italic), "italic"))
        else:
            runs.append((unescape_mrkdwn(code or ""), "cyan"))
        position = match.end()
    runs.append((_plain(text[position:]), ""))
    return runs


def _plain(text: str) -> str:
    return unescape_mrkdwn(_EMOJI_CODE.sub(lambda m: _EMOJI.get(m.group(1), ""), text))
