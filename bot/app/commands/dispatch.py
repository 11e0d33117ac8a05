"""`handle_command`: one `/brief` line in, the reply out; the table of sub-commands.

`handle_command(runtime, request, poster=...)` reads one command line and
returns the reply (Slack messages rendered by `runtime.renderer`). It never
raises: a mistake of the user gets what was wrong plus the sub-command's usage
line; an internal error is logged with its traceback under a short reference
that the user is shown instead ("Something went wrong on our side (ref
4F2A9C)...").

The first word picks the sub-command from `HANDLERS`; any other first word
makes the whole line a question (`/brief what's new on IPEF`, answered as
`/brief ask` is), or a search when it is written in query syntax
(`/brief "entity list" since:30d`); so does "entity list ..." (a question
about the Entity List, not `/brief entity <name>`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from bot.app.commands import (
    ask,
    charts,
    deadlines,
    digests,
    feeds,
    search,
    subscriptions,
    watches,
)
from bot.app.commands.help import show_help, usage
from bot.app.commands.session import CommandError, Refused, Session
from bot.app.commands.words import Word, read_words
from bot.app.runtime import Runtime
from bot.deliver.ports import Poster, poster_for
from bot.find.query.question import uses_query_syntax
from bot.models import CommandReply, CommandRequest, SlackMessage

__all__ = ["HANDLERS", "HOME_VERBS", "MAX_COMMAND_CHARS", "Handler", "handle_command"]

log = logging.getLogger(__name__)

# Slack caps a slash command's text well below this; a longer line is a paste gone wrong.
MAX_COMMAND_CHARS = 4000

# "entity list" and "entity lists" open a question, not `/brief entity <name>`.
_ENTITY_LIST = frozenset({"list", "lists", "list:", "list,"})

#: What answers one sub-command: the session, and the words after the sub-command's name.
Handler = Callable[[Session, list[Word]], list[SlackMessage]]

#: Sub-commands that change what a Home tab shows (the caller's subscriptions).
HOME_VERBS = frozenset({"subscribe", "unsubscribe", "mute", "unmute"})

#: Every sub-command, by the first word that picks it.
HANDLERS: dict[str, Handler] = {
    "help": show_help,
    "ask": ask.ask,
    "search": search.search,
    "latest": search.latest,
    "deadlines": deadlines.deadlines,
    "subscribe": subscriptions.subscribe,
    "subscriptions": subscriptions.subscriptions,
    "unsubscribe": subscriptions.unsubscribe,
    "mute": subscriptions.mute,
    "unmute": subscriptions.unmute,
    "remind": subscriptions.remind,
    "topics": feeds.topics,
    "feeds": feeds.feeds,
    "status": feeds.status,
    "digest": digests.digest,
    "schedule": digests.schedule,
    "feed": feeds.feed,
    "watch": watches.watch,
    "watches": watches.watches,
    "unwatch": watches.unwatch,
    "entity": watches.entity,
    "chart": charts.chart,
    "month": charts.month,
}


def handle_command(
    runtime: Runtime, request: CommandRequest, *, poster: Poster | None = None
) -> CommandReply:
    """Run one `/brief` command and return the reply; never raises.

    `poster` is the Slack delivery layer; without it (the console) the commands
    that must post say so, and `feed poll` leaves the alerts queued.
    """
    deliveries = poster
    if poster is not None:  # many workspaces: the caller's workspace's token asks Slack
        poster = poster_for(poster, request.team_id, request.enterprise_id)
    session = Session(runtime, request, poster, deliveries=deliveries)
    try:
        messages = _answer(session)
        return CommandReply(messages, home_changed=session.verb in HOME_VERBS)
    except Exception:
        ref = secrets.token_hex(3).upper()
        log.exception(
            "/brief %s from %s%s in %s failed (ref %s)",
            session.verb or "(question)",
            request.user_id,
            f" ({request.user_name})" if request.user_name else "",
            request.channel_id,
            ref,
        )
        return CommandReply(_apology(runtime, ref))


def _answer(session: Session) -> list[SlackMessage]:
    """The reply to the session's line; a mistake or a refusal is a notice, not an error."""
    text = session.request.text
    if len(text) > MAX_COMMAND_CHARS:
        return session.notice(
            f"That command is {len(text):,} characters long; /brief takes "
            f"up to {MAX_COMMAND_CHARS:,}."
        )
    words = read_words(text)
    first = words[0].text.lower() if words else "help"
    handler = HANDLERS.get(first)
    if first == "entity" and len(words) > 1 and words[1].text.lower() in _ENTITY_LIST:
        handler = None  # "/brief entity list since:30d" is a question, as it always was
    try:
        if handler is None and uses_query_syntax(text):
            return search.question(session, words, verbs=HANDLERS)
        if handler is None:
            return ask.question(session, words, verbs=HANDLERS)
        session.verb = first
        return handler(session, words[1:])
    except CommandError as err:
        message = err.message
        if err.detail:
            message += "\n" + err.detail
        return session.notice(f"{message}\nUsage: {usage(err.verb)}")
    except Refused as err:
        return session.notice(str(err))


def _apology(runtime: Runtime, ref: str) -> list[SlackMessage]:
    """The reply to an internal error: its reference, in a notice if the renderer still works."""
    text = f"Something went wrong on our side (ref {ref}); the error is in the bot's log."
    try:
        return runtime.renderer.render_notice(text)
    except Exception:  # the renderer itself is what broke
        block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
        return [SlackMessage(text=text, blocks=(block,))]
