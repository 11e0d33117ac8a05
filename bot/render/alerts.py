"""What `alert.j2` gets for one owner's alert: the items and the subscriptions that sent them.

Each subscription that sent the message gets a row of Mute / Remove
buttons named after what it follows ("Mute topic chips", "Remove query
ymtc OR \"working group\""), so a reader with several can tell the rows
apart; ids alone ("Mute s1") said nothing. A label too long for a button
(Slack: 75 characters, "Remove " included) is cut at a word and keeps the
subscription's id, so two long queries that start alike stay distinct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.models import Item
from bot.render.blocks import MAX_BUTTON_TEXT
from bot.render.mrkdwn import clean_feed_text
from bot.render.views import NAME_CHARS, TemplateViews, shorten

__all__ = ["alert_context", "button_label"]

# "Remove " and the label fit a button; a label cut short keeps its id.
_LABEL_CHARS = MAX_BUTTON_TEXT - len("Remove ")


def button_label(sub_id: str, label: str) -> str:
    """What a subscription's buttons call it: "topic chips", or "query ymtc OR … (s3)"."""
    shown = shorten(label, _LABEL_CHARS)
    if shown == " ".join(clean_feed_text(label).split()):
        return shown
    tail = f" ({shorten(sub_id, 20)})"
    return shorten(label, _LABEL_CHARS - len(tail)) + tail


def alert_context(
    views: TemplateViews,
    owner: str,
    items_with_subs: Sequence[tuple[Item, tuple[str, ...]]],
    *,
    more: int,
    sent_by: Sequence[str | tuple[str, str]] = (),
) -> dict[str, Any]:
    """The variables of alert.j2 (documented at its top); `sent_by`: ids or (id, label)."""
    pairs = [(s, s) if isinstance(s, str) else s for s in sent_by]
    return {
        "owner": owner,
        "items": [views.item(item, subscriptions=subs) for item, subs in items_with_subs],
        "more": max(more, 0),
        "more_hint": "/brief latest",
        "sent_by": [shorten(sub_id, NAME_CHARS) for sub_id, _ in pairs],
        "senders": [
            {"id": shorten(sub_id, NAME_CHARS), "button": button_label(sub_id, label)}
            for sub_id, label in pairs
        ],
    }
