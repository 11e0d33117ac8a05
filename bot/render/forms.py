"""The modals (forms) as Block Kit: new subscription, a channel's digest schedule, a new feed.

Forms are structure, not prose, so they are built here rather than from a
template; the block ids and action ids below are what `bot.app.surfaces`
reads back (`ViewSubmission.values[block_id][action_id]`), and what Slack's
`response_action: errors` names to put an error under a field.

Not obvious:
- A form is updated (views.update) with the same block and action ids, so
  Slack keeps what the user already typed or picked; only the preview block
  (which holds no input) changes.
- The query field and the topic picker `dispatch_action`: Slack sends a
  `block_actions` when the query is entered (Enter or leaving the field) or a
  topic picked, and the preview is recomputed from the form's state.
- Slack's limits: a modal's title and buttons take 24 characters, a select
  100 options, an option's text 75, a plain text input's initial value 3,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.daynames import WEEKDAYS
from bot.render.mrkdwn import escape_slack, fit_text
from bot.surfaces import SlackView

__all__ = [
    "DAYS",
    "FEED_FORM",
    "SCHEDULE_FORM",
    "SUBSCRIBE_FORM",
    "feed_form",
    "note_modal",
    "schedule_form",
    "subscription_form",
]

SUBSCRIBE_FORM = "form.subscribe"
SCHEDULE_FORM = "form.schedule"
FEED_FORM = "form.feed"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_OPTIONS = 100
_OPTION_CHARS = 75


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": fit_text(text, _OPTION_CHARS) or " ", "emoji": True}


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, **extra: Any
) -> dict[str, Any]:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    block.update(extra)
    return block


def _text_input(action_id: str, *, initial: str = "", placeholder: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
    if initial:
        element["initial_value"] = initial[:3000]
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return element


def _note(block_id: str, text: str) -> dict[str, Any]:
    """A context line; `text` is escaped (`*bold*` still reads as bold)."""
    shown = fit_text(str(escape_slack(text)), 2900) or " "
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": shown, "verbatim": True}],
    }


def subscription_form(
    topics: Sequence[tuple[str, str]], *, timezone: str, preview: str, channel: str = ""
) -> SlackView:
    """The "New subscription" modal: topics as (id, title); `preview` under the query."""
    topic_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": "subscribe.topic",
        "placeholder": _plain("Pick a topic"),
        "options": [_option(tid, title or tid) for tid, title in topics[:_MAX_OPTIONS]],
    }
    blocks: list[dict[str, Any]] = []
    if topics:
        blocks.append(_input("topic", "Topic", topic_select, optional=True, dispatch_action=True))
    query = _text_input("subscribe.query", placeholder='"entity list" OR ECCN')
    query["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
    blocks += [
        _input(
            "query",
            "Or a query" if topics else "Query",
            query,
            optional=bool(topics),
            dispatch_action=True,
            hint=_plain('Words, "phrases", OR, -not, feed:, tag:; Enter shows the preview'),
        ),
        _note("preview", preview),
        _input("delivery", "Delivery", _delivery_choice()),
        _input(
            "daily_at",
            "Daily at (for daily delivery)",
            {"type": "timepicker", "action_id": "subscribe.time", "initial_time": "09:00"},
        ),
        _input("timezone", "Time zone", _text_input("subscribe.zone", initial=timezone)),
    ]
    return SlackView(
        blocks=tuple(blocks),
        kind="modal",
        title="New subscription",
        submit="Subscribe",
        callback_id=SUBSCRIBE_FORM,
        private_metadata=channel,
    )


def _delivery_choice() -> dict[str, Any]:
    options = [
        _option("immediate", "As soon as new items match"),
        _option("hourly", "At most once an hour"),
        _option("daily", "Once a day"),
    ]
    return {
        "type": "radio_buttons",
        "action_id": "subscribe.mode",
        "options": options,
        "initial_option": options[0],
    }


def schedule_form(*, timezone: str, at: str = "08:30", days: Sequence[str] = DAYS[:5]) -> SlackView:
    """The admins' digest schedule modal: channel, time, zone, days."""
    day_options = [_option(day, name) for day, name in zip(DAYS, WEEKDAYS, strict=True)]
    chosen = [o for o in day_options if o["value"] in days] or day_options[:5]
    channel = {
        "type": "conversations_select",
        "action_id": "schedule.channel",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        "placeholder": _plain("The channel that gets the digest"),
    }
    blocks = (
        _input("channel", "Channel", channel),
        _input(
            "at", "Time", {"type": "timepicker", "action_id": "schedule.time", "initial_time": at}
        ),
        _input("timezone", "Time zone", _text_input("schedule.zone", initial=timezone)),
        _input(
            "days",
            "Days",
            {
                "type": "checkboxes",
                "action_id": "schedule.days",
                "options": day_options,
                "initial_options": chosen,
            },
        ),
        _note("about", "The bot must be in the channel: /invite @briefbot there first."),
    )
    return SlackView(
        blocks=blocks,
        kind="modal",
        title="Digest schedule",
        submit="Save",
        callback_id=SCHEDULE_FORM,
    )


def feed_form(*, url: str = "", tags: str = "", problem: str = "") -> SlackView:
    """The admins' new-feed modal; `problem` (the last try's) is shown above the fields."""
    blocks: list[dict[str, Any]] = []
    if problem:
        blocks.append(_note("problem", f":warning: {problem}"))
    blocks += [
        _input(
            "url",
            "Feed URL",
            _text_input("feed.url", initial=url, placeholder="https://example.org/feed.xml"),
        ),
        _input(
            "tags",
            "Tags (optional, separated by spaces)",
            _text_input("feed.tags", initial=tags, placeholder="export-controls japan"),
            optional=True,
        ),
        _note(
            "about", "The feed is fetched once before it is saved; nothing is saved if that fails."
        ),
    ]
    return SlackView(
        blocks=tuple(blocks),
        kind="modal",
        title="Add a feed",
        submit="Add",
        callback_id=FEED_FORM,
    )


def note_modal(title: str, text: str, *, callback_id: str = "form.note") -> SlackView:
    """A modal that only says something ("Checking the feed...", "Added ...")."""
    return SlackView(
        blocks=(_note("note", text),),
        kind="modal",
        title=title,
        callback_id=callback_id,
        close="Close",
    )
