"""Questions in plain words over Slack: a DM to the bot and Slack's assistant panel.

`register_questions(app, handler)` adds the listeners to the Bolt app that
`build_app` made when it was given a `QuestionHandler` (in `briefbot run`,
`bot.app.questions.handle_question` bound to the runtime). Each turns the
event into a `bot.models.QuestionRequest` and posts the handler's messages
with chat.postMessage: in the DM (in the thread when the question was in
one), or in the assistant thread.

- A DM (`message.im`): a message typed in the bot's Messages tab.
- The assistant panel (bolt-python's `Assistant` middleware):
  `assistant_thread_started` gets suggested prompts; a message in the
  thread gets the status "is reading the stored items…" while it is worked
  on, the answer, and the question as the thread's title;
  `assistant_thread_context_changed` is acknowledged and ignored (answers
  do not depend on the channel the user is looking at), so no context is
  stored in the thread's messages.

Not obvious:
- Acks come first: each listener's ack function does nothing (Bolt acks
  events itself), the work runs in a lazy listener on the app's pool, as
  for `/brief`; Slack retries an event not acknowledged within 3 s.
- Ignored: the bot's own messages (Bolt drops them; `bot_id` and the bot's
  user id are checked again), every message with a subtype (edits,
  deletions, joins, `assistant_app_thread`), messages outside a DM, empty
  ones. A repeat of the same `event_id` is dropped by the app's middleware.
- The asker's time zone is read with users.info (scope users:read) and kept
  for `ZONE_TTL`; unreadable, the handler falls back (subscription, UTC).
- The client's calls go through the Bolt client (the bot token); failures
  to post are logged without the token (slack_sdk never puts it in text).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from slack_bolt import Assistant, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.models import QuestionRequest, SlackMessage
from bot.slack.installations import scope_team

__all__ = [
    "MAX_POSTS",
    "STATUS",
    "SUGGESTED_PROMPTS",
    "ZONE_TTL",
    "QuestionHandler",
    "register_questions",
]

log = logging.getLogger(__name__)

STATUS = "is reading the stored items…"
SUGGESTED_TITLE = "Ask about what briefbot has read"
SUGGESTED_PROMPTS: tuple[Mapping[str, str], ...] = (
    {"title": "What did BIS publish this week?", "message": "What did BIS publish this week?"},
    {
        "title": "Entity List additions this month",
        "message": "Entity List additions this month by country",
    },
    {"title": "Export controls in the last 30 days", "message": "export controls last 30 days"},
    {"title": "What's new since Monday?", "message": "What's new since Monday?"},
)
# A reply is a few messages at most (an answer is one or two).
MAX_POSTS = 5
TITLE_CHARS = 80
ZONE_TTL = 3600.0
APOLOGY = (
    "Sorry, briefbot could not answer that just now: something went wrong on its side "
    "(it is in the bot's log). Please try again in a minute."
)


class QuestionHandler(Protocol):
    """What answers a question in plain words (in `briefbot run`: `handle_question`)."""

    def __call__(self, request: QuestionRequest) -> list[SlackMessage]: ...


class _Work(Protocol):
    def track(self) -> Any: ...


class _Zones:
    """Users' time zones from users.info, each kept for ZONE_TTL seconds (thread-safe)."""

    def __init__(self) -> None:
        self._zones: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def of(self, client: WebClient, event: Mapping[str, Any]) -> str | None:
        """The zone of the event's user."""
        user_id = str(event["user"])
        now = time.monotonic()
        with self._lock:
            known = self._zones.get(user_id)
        if known is not None and now - known[0] < ZONE_TTL:
            return known[1]
        zone: str | None = None
        try:
            user = client.users_info(user=user_id).get("user") or {}
            found = user.get("tz") if isinstance(user, dict) else None
            zone = found if isinstance(found, str) and found else None
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("cannot read the time zone of %s (%s): answering in UTC", user_id, exc)
        with self._lock:
            self._zones[user_id] = (now, zone)
        return zone


def register_questions(app: Any, handler: QuestionHandler, work: _Work) -> None:
    """Listen to DMs and the assistant panel on `app`, answering with `handler`."""
    zones = _Zones()
    assistant = Assistant()

    def noted() -> None:
        """Nothing before the ack: Bolt acknowledges the event when this returns."""

    def started(event: dict[str, Any], client: WebClient) -> None:
        thread = event.get("assistant_thread") or {}
        _call(
            client.assistant_threads_setSuggestedPrompts,
            channel_id=thread.get("channel_id"),
            thread_ts=thread.get("thread_ts"),
            prompts=[dict(p) for p in SUGGESTED_PROMPTS],
            title=SUGGESTED_TITLE,
        )

    def asked(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if not _is_question(event, context):
            return
        channel, thread_ts = str(event["channel"]), str(event["thread_ts"])
        with work.track():
            _call(
                client.assistant_threads_setStatus,
                channel_id=channel,
                thread_ts=thread_ts,
                status=STATUS,
            )
            request = _request(event, "assistant", zones.of(client, event), _team(app, context))
            posted = _post(client, _reply(handler, request), channel, thread_ts)
            title = _title(request.text)
            if title:
                _call(
                    client.assistant_threads_setTitle,
                    channel_id=channel,
                    thread_ts=thread_ts,
                    title=title,
                )
            if not posted:  # Slack clears the status when the app replies; else it stays
                _call(
                    client.assistant_threads_setStatus,
                    channel_id=channel,
                    thread_ts=thread_ts,
                    status="",
                )

    def direct(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if not _is_question(event, context):
            return
        with work.track():
            request = _request(event, "dm", zones.of(client, event), _team(app, context))
            _post(client, _reply(handler, request), request.channel_id, request.thread_ts)

    assistant.thread_started(lazy=[started])(noted)
    assistant.thread_context_changed(noted)
    assistant.user_message(lazy=[asked])(noted)
    app.assistant(assistant)
    app.event("message")(ack=noted, lazy=[direct])


def _is_question(event: Mapping[str, Any], context: BoltContext) -> bool:
    """A user's own message in a DM with the bot, not an edit, join or bot message."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") is None
        and event.get("bot_id") is None
        and isinstance(event.get("user"), str)
        and event.get("user") != context.bot_user_id
        and isinstance(event.get("channel"), str)
        and bool(str(event.get("text") or "").strip())
    )


def _request(
    event: Mapping[str, Any], surface: str, zone: str | None, team: tuple[str, str]
) -> QuestionRequest:
    thread_ts = event.get("thread_ts")
    return QuestionRequest(
        user_id=str(event["user"]),
        channel_id=str(event["channel"]),
        text=str(event.get("text") or ""),
        surface=surface,
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        timezone=zone,
        team_id=team[0],
        enterprise_id=team[1],
    )


def _team(app: Any, context: BoltContext) -> tuple[str, str]:
    """The request's workspace (team, enterprise) when the app serves many; else ("", "")."""
    if not getattr(app, "many_workspaces", False):
        return "", ""
    return scope_team(context.team_id, context.enterprise_id), context.enterprise_id or ""


def _reply(handler: QuestionHandler, request: QuestionRequest) -> list[SlackMessage]:
    try:
        return handler(request)
    except Exception:
        log.exception("a question (%s) from %s failed", request.surface, request.user_id)
        return [SlackMessage(text=APOLOGY)]


def _post(
    client: WebClient, messages: Sequence[SlackMessage], channel: str, thread_ts: str | None
) -> bool:
    """Post the reply; False when Slack refused or could not be reached (logged)."""
    for message in list(messages)[:MAX_POSTS]:
        ok = _call(
            client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            text=message.text,
            blocks=[dict(block) for block in message.blocks] or None,
            # Never link_names or parse: feed text must not become mentions.
            unfurl_links=False,
            unfurl_media=False,
        )
        if not ok:
            return False
    return True


def _call(method: Any, **kwargs: Any) -> bool:
    """One Web API call; False (and a log line) when Slack refused it or was unreachable."""
    name = getattr(method, "__name__", "a Slack call")
    try:
        method(**kwargs)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        log.warning("Slack refused %s: %s", name, code or "an error")
        return False
    except (SlackClientError, OSError) as exc:
        log.warning("could not reach Slack for %s: %s", name, exc)
        return False
    return True


def _title(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= TITLE_CHARS:
        return words
    cut = words.rfind(" ", 0, TITLE_CHARS - 1)
    return words[: cut if cut > TITLE_CHARS // 2 else TITLE_CHARS - 1] + "…"
