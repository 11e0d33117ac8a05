"""Every `/brief` sub-command as plain Python over the Runtime, for the Slack app and the console.

`handle_command(runtime, request, poster=...)` reads one command line and
returns the reply (Slack messages rendered by `runtime.renderer`). It never
raises: a mistake of the user gets what was wrong plus the sub-command's usage
line; an internal error is logged with its traceback under a short reference
that the user is shown instead ("Something went wrong on our side (ref
4F2A9C)...").

Reading the text. Slack sends the text after `/brief` verbatim, except that
`&`, `<` and `>` arrive as `&amp;`, `&lt;` and `&gt;`, and, with "escape
channels, users, and links" on, a picked channel as `<#C123|name>`, a user as
`<@U123|name>` and a URL as `<https://...>` or `<https://...|label>`
(https://api.slack.com/interactivity/slash-commands#app_command_handling).
Those are decoded here: a word keeps the channel, user or URL it stood for,
and its text is what the user saw (`#name`, `@name`, the URL). Whitespace runs
become one space. Nothing else is interpreted, so words such as `text=` or
`&` reach the search like any other. A bare `#name` (escaping off, or typed in
the console) names no channel id and is answered with how to fix it.

The first word picks the sub-command; any other first word makes the whole
line a question for search (`/brief what's new on IPEF`), so `search QUERY`
exists for questions that start with a sub-command's name.

Permissions: admins are the Slack user ids under `admins:` in feeds.yaml
(`CommandRequest.is_admin` overrides that for the local console). Admin only:
`feed ...`, `schedule HH:MM|off`, `subscribe #channel ...`, `subscriptions
all|@user`, and `digest post`. The last one is an admin's because posting moves
the channel's digest cursor: the next scheduled digest then starts after what
was posted, so a member's "post it now" would take items from everyone's
morning digest.

Writes hold `runtime.lock` and end with `runtime.store.commit()`; changes to
feeds and schedules then call `runtime.refresh_config()` so the scheduler
sees them. The digest preview builds the digest without leaving a trace: a
channel seen for the first time gets no cursor record from a preview.

Replies are ephemeral (`CommandReply.in_channel` False): `digest post`
publishes through the Poster, which records the delivery exactly once, and
answers the caller privately.
"""

from __future__ import annotations

import difflib
import logging
import re
import secrets
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from bot.app.runtime import DIGEST_TABLE, Poster, Runtime
from bot.brief.schedule import digest_zone, next_digest_time
from bot.brief.subscriptions import (
    SubscriptionError,
    create_subscription,
    delete_subscription,
    list_subscriptions,
    set_muted,
)
from bot.config.model import DigestConfig
from bot.config.overrides import (
    OverrideError,
    add_feed,
    clear_schedule,
    feeds_added_from_slack,
    remove_feed,
    removed_feed_ids,
    set_feed_enabled,
    set_schedule,
)
from bot.config.units import format_days, format_duration, parse_days
from bot.find.query import QueryError
from bot.find.search import MAX_LIMIT, SearchHit
from bot.ingest.text import truncate_words
from bot.models import Item, SlackMessage, Subscription
from bot.render.slacklimits import MAX_BLOCKS, MAX_BLOCKS_CHARS, MAX_TEXT, block_size

__all__ = [
    "COMMANDS",
    "CommandReply",
    "CommandRequest",
    "handle_command",
]

log = logging.getLogger(__name__)

#: (usage, description) for `/brief help`, in display order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("/brief help", "this list"),
    ("/brief <question or query>", "search what the bot has seen: entity list since:30d"),
    ("/brief search <query>", "the same, for a question that starts like a command"),
    ("/brief latest [topic|feed|query] [n]", "the newest items, newest first (n up to 50)"),
    (
        "/brief subscribe <topic or query> [hourly|daily [HH:MM]] [tz:Area/City]",
        "alerts by direct message when new items match",
    ),
    ("/brief subscribe #channel <topic or query> ...", "alerts into a channel (admins)"),
    ("/brief subscriptions [all]", "your subscriptions and this channel's (all: admins)"),
    ("/brief unsubscribe <id>", "remove a subscription"),
    ("/brief mute <id>", "pause a subscription's alerts"),
    ("/brief unmute <id>", "resume them"),
    ("/brief topics", "the topics you can subscribe to"),
    ("/brief feeds", "the feeds the bot watches"),
    ("/brief status", "each feed's health and delivery problems"),
    ("/brief digest", "preview this channel's digest (only you see it)"),
    ("/brief digest post", "post this channel's digest now (admins)"),
    ("/brief schedule [HH:MM [zone] [days] | off]", "show or set this channel's digest time"),
    ("/brief feed add <url> [tags...]", "watch a new feed (admins)"),
    ("/brief feed remove|pause|resume <id>", "stop, pause or resume a feed (admins)"),
    ("/brief feed poll [id...]", "poll now, then send alerts (admins)"),
)

LATEST_DEFAULT = 10
LATEST_MAX = 50
SEARCH_LIMIT = 10
# Slack caps a slash command's text well below this; a longer line is a paste gone wrong.
MAX_COMMAND_CHARS = 4000
# Lines per section of a listing: a section holds at most 3,000 characters.
_SECTION_CHARS = 2800

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,20}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{8,20}")
_TIME_OF_DAY = re.compile(r"[0-9]{1,2}:[0-9]{2}")
# A Slack control sequence (<...>) or one of the three entities Slack escapes.
_SLACK_ESCAPE = re.compile(r"<([^<>]*)>|&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_MODES = {
    "immediate": "immediate",
    "immediately": "immediate",
    "hourly": "hourly",
    "daily": "daily",
}


@dataclass(frozen=True)
class CommandRequest:
    """One `/brief` line: who typed it, where, and the text after `/brief` as Slack sent it.

    `is_admin` None lets `admins:` in feeds.yaml decide; the local console sets it.
    """

    user_id: str
    channel_id: str
    text: str
    user_name: str = ""
    is_admin: bool | None = None


@dataclass(frozen=True)
class CommandReply:
    """The reply to the caller; `in_channel` False: only the caller sees it."""

    messages: list[SlackMessage]
    in_channel: bool = False


def handle_command(
    runtime: Runtime, request: CommandRequest, *, poster: Poster | None = None
) -> CommandReply:
    """Run one `/brief` command and return the reply; never raises.

    `poster` is the Slack delivery layer; without it (the console) the commands
    that must post say so, and `feed poll` leaves the alerts queued.
    """
    session = _Session(runtime, request, poster)
    try:
        return CommandReply(session.run())
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
        text = f"Something went wrong on our side (ref {ref}); the error is in the bot's log."
        try:
            messages = runtime.renderer.render_notice(text)
        except Exception:  # the renderer itself is what broke
            block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
            messages = [SlackMessage(text=text, blocks=(block,))]
        return CommandReply(messages)


# --------------------------------------------------------------------------- reading the text


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command: its text as the user saw it, and what a Slack token stood for."""

    text: str
    channel: str | None = None
    user: str | None = None
    url: str | None = None


# Stands in for whitespace inside a Slack token's label while a line is split
# into words (a private-use character: never in what Slack sends).
_GLUE = "\ue000"


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
    joined = "".join(plain)
    words = []
    for match in re.finditer(r"\S+", joined):
        token = tokens.get((match.start(), match.end()))
        words.append(token if token is not None else Word(match.group(0).replace(_GLUE, " ")))
    return words


def _read_token(inner: str, whole: str) -> tuple[str, Word | None]:
    """(what Slack shows for `<inner>`, the Word it makes), or the literal text if unknown."""
    # Slack escapes &, < and > inside tokens too (a URL's query string has &amp;).
    target, _, label = (_unescape(part) for part in inner.partition("|"))
    if target.startswith("#") and _CHANNEL_ID.fullmatch(target[1:]):
        shown = f"#{label}" if label else target
        return shown, Word(shown, channel=target[1:])
    if target.startswith("@") and _USER_ID.fullmatch(target[1:]):
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


def _joined(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in words)


# --------------------------------------------------------------------------- errors


class _CommandError(Exception):
    """A mistake in the command: `message`, then the sub-command's usage line."""

    def __init__(self, message: str, verb: str | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.verb = verb
        self.detail = detail


class _Refused(Exception):
    """The caller may not do this (admin only)."""


def _usage(verb: str | None) -> str:
    """The usage lines of one sub-command, or the general ones."""
    if verb is None:
        lines = [u for u, _ in COMMANDS[:3]]
    else:
        lines = [u for u, _ in COMMANDS if u.split()[1] == verb]
    return " · ".join(f"`{line}`" for line in lines) or "`/brief help`"


def _marked(text: str, column: int | None) -> str:
    """`text` as inline code with a marker before the 1-based `column`.

    A backtick in the text would end the code span early, so it becomes ' (as
    render.code does); one character for one, so the column still holds.
    """
    text = text.replace("`", "'")
    if column is None or not 1 <= column <= len(text) + 1:
        return f"`{text}`"
    return f"`{text[: column - 1]}▶{text[column - 1 :]}`"


# --------------------------------------------------------------------------- the session


@dataclass(frozen=True, slots=True)
class _ItemHit:
    """An item shown by `render_search` without a search (latest from a feed)."""

    item: Item
    snippet: str
    spans: tuple[tuple[int, int], ...] = ()
    also_in: tuple[str, ...] = ()


@dataclass
class _Session:
    """One command being answered."""

    runtime: Runtime
    request: CommandRequest
    poster: Poster | None
    verb: str | None = None

    # -- dispatch ---------------------------------------------------------------

    def run(self) -> list[SlackMessage]:
        if len(self.request.text) > MAX_COMMAND_CHARS:
            return self.notice(
                f"That command is {len(self.request.text):,} characters long; /brief takes "
                f"up to {MAX_COMMAND_CHARS:,}."
            )
        words = read_words(self.request.text)
        handlers = self.handlers()
        first = words[0].text.lower() if words else "help"
        handler = handlers.get(first)
        if handler is not None:
            self.verb = first
            args = words[1:]
        else:
            handler, args = self.do_question, words
        try:
            return handler(args)
        except _CommandError as err:
            text = err.message
            if err.detail:
                text += "\n" + err.detail
            return self.notice(f"{text}\nUsage: {_usage(err.verb)}")
        except _Refused as err:
            return self.notice(str(err))

    def handlers(self) -> dict[str, Callable[[list[Word]], list[SlackMessage]]]:
        return {
            "help": self.do_help,
            "search": self.do_search,
            "latest": self.do_latest,
            "subscribe": self.do_subscribe,
            "subscriptions": self.do_subscriptions,
            "unsubscribe": self.do_unsubscribe,
            "mute": self.do_mute,
            "unmute": self.do_unmute,
            "topics": self.do_topics,
            "feeds": self.do_feeds,
            "status": self.do_status,
            "digest": self.do_digest,
            "schedule": self.do_schedule,
            "feed": self.do_feed,
        }

    # -- helpers ------------------------------------------------------------------

    @property
    def is_admin(self) -> bool:
        if self.request.is_admin is not None:
            return self.request.is_admin
        return self.request.user_id in self.runtime.config.admins

    def require_admin(self, action: str) -> None:
        if self.is_admin:
            return
        admins = self.runtime.config.admins
        if admins:
            raise _Refused(f"Only admins can {action}. Admins: {', '.join(admins)}.")
        raise _Refused(
            f"Only admins can {action}. No admins are configured: add Slack user ids "
            "under admins: in feeds.yaml."
        )

    def no_args(self, args: Sequence[Word]) -> None:
        if args:
            raise _CommandError(
                f"{self.verb} takes no words after it; to search for these, use "
                f"/brief search {self.verb} {_joined(args)}",
                self.verb,
            )

    def notice(self, *parts: str) -> list[SlackMessage]:
        """Plain-text notices (escaped by the renderer), long ones in several sections."""
        messages: list[SlackMessage] = []
        for part in parts:
            for chunk in _chunks(part, _SECTION_CHARS):
                messages += self.runtime.renderer.render_notice(chunk)
        return _pack_messages(messages)

    def now(self) -> datetime:
        return self.runtime.clock()

    def commit(self) -> None:
        self.runtime.store.commit()

    # -- help and search ------------------------------------------------------------

    def do_help(self, args: list[Word]) -> list[SlackMessage]:
        return self.runtime.renderer.render_help(COMMANDS)

    def do_question(self, args: list[Word]) -> list[SlackMessage]:
        return self.search(_joined(args), verb=None, first=args[0].text.lower())

    def do_search(self, args: list[Word]) -> list[SlackMessage]:
        if not args:
            raise _CommandError("say what to search for", "search")
        return self.search(_joined(args), verb="search")

    def search(
        self, text: str, *, verb: str | None, first: str | None = None
    ) -> list[SlackMessage]:
        try:
            results = self.runtime.search(text, limit=SEARCH_LIMIT)
        except QueryError as err:
            raise _CommandError(
                f"query error: {err}", verb, detail=_marked(text, err.column)
            ) from None
        messages = self.runtime.renderer.render_search(text, results.hits, results.total)
        extra = []
        if not results.complete:
            extra.append("The search index is still being built: results may be missing.")
        if results.total == 0 and first is not None:
            close = difflib.get_close_matches(first, list(self.handlers()), n=1, cutoff=0.75)
            if close:
                extra.append(f"Did you mean /brief {close[0]}? /brief help lists the commands.")
        if extra:
            messages = _pack_messages(messages + self.notice(*extra))
        return messages

    def do_latest(self, args: list[Word]) -> list[SlackMessage]:
        count = LATEST_DEFAULT
        if args and re.fullmatch(r"[0-9]+", args[-1].text):
            count = int(args[-1].text)
            args = args[:-1]
            if not 1 <= count <= LATEST_MAX:
                raise _CommandError(f"n must be between 1 and {LATEST_MAX}", "latest")
        what = _joined(args)
        topic = _find_id(what, [t.id for t in self.runtime.config.topics])
        feed = _find_id(what, [f.id for f in self.runtime.config.feeds])
        renderer = self.runtime.renderer
        if not what or (feed is not None and topic is None):
            label, ids = "latest", None
            if feed is not None:
                label, ids = f"latest from {self.runtime.feed_names()[feed]}", [feed]
            items = self.runtime.latest(feed_ids=ids, limit=count)
            hits = [_ItemHit(item, item.summary) for item in items]
            return renderer.render_search(label, hits, len(hits))
        # A topic or a query: search ranks by relevance (with a recency boost), so
        # take its best MAX_LIMIT and show the newest of those.
        if topic is not None:
            query = next(t.query for t in self.runtime.config.topics if t.id == topic)
            label = f"latest on {topic}"
        else:
            query, label = what, f"latest: {what}"
        try:
            results = self.runtime.search(query, limit=MAX_LIMIT)
        except QueryError as err:
            raise _CommandError(
                f"query error: {err}", "latest", detail=_marked(query, err.column)
            ) from None
        newest: list[SearchHit] = sorted(results.hits, key=lambda h: h.item.when, reverse=True)
        return renderer.render_search(label, newest[:count], results.total)

    # -- subscriptions --------------------------------------------------------------

    def do_subscribe(self, args: list[Word]) -> list[SlackMessage]:
        if not args:
            raise _CommandError(
                "say what to subscribe to: a topic id (/brief topics) or a query", "subscribe"
            )
        owner, where = self.request.user_id, "by direct message"
        channel = _channel_of(args[0])
        if channel is not None:
            self.require_admin("subscribe a channel")
            owner, where = channel, f"in {args[0].text}"
            args = args[1:]
        elif args[0].text.startswith("#") and len(args[0].text) > 1:
            raise _CommandError(_bare_channel_message(args[0].text), "subscribe")
        words, mode, daily_at, zone = _read_delivery_options(args)
        if not words:
            raise _CommandError("say what to subscribe to after the options", "subscribe")
        if zone is None:
            zone = "UTC"
            if mode != "immediate":
                zone = _user_timezone(self.poster, self.request.user_id) or "UTC"
        with self.runtime.lock:
            try:
                sub = create_subscription(
                    self.runtime.store,
                    owner=owner,
                    created_by=self.request.user_id,
                    topic_or_query=_joined(words),
                    topics=self.runtime.topics(),
                    mode=mode,
                    daily_at=daily_at,
                    timezone=zone,
                    now=self.now(),
                )
            except SubscriptionError as err:
                raise _CommandError(_sentence(str(err)), "subscribe") from None
            self.commit()
        return self.notice(
            f"Subscribed to {sub.label} (id {sub.id}): alerts {where} {_delivery(sub)}.\n"
            f"/brief mute {sub.id} pauses them, /brief unsubscribe {sub.id} stops them."
        )

    def do_subscriptions(self, args: list[Word]) -> list[SlackMessage]:
        store = self.runtime.store
        if not args:
            mine = list_subscriptions(store, owner=self.request.user_id)
            parts = [
                _subscription_list("Your subscriptions", mine)
                if mine
                else "You have no subscriptions. " + self.subscribe_example()
            ]
            channel = self.request.channel_id
            if _CHANNEL_ID.fullmatch(channel):
                here = list_subscriptions(store, owner=channel)
                if here:
                    parts.append(_subscription_list("This channel's subscriptions", here))
            return self.notice(*parts)
        if len(args) == 1 and args[0].text.lower() == "all":
            self.require_admin("list everyone's subscriptions")
            every = list_subscriptions(store)
            if not every:
                return self.notice("Nobody has subscribed to anything yet.")
            return self.notice(_subscription_list("All subscriptions", every, owners=True))
        user = _user_of(args[0]) if len(args) == 1 else None
        if user is not None:
            self.require_admin("list someone else's subscriptions")
            theirs = list_subscriptions(store, owner=user)
            if not theirs:
                return self.notice(f"{args[0].text} has no subscriptions.")
            return self.notice(_subscription_list(f"Subscriptions of {args[0].text}", theirs))
        raise _CommandError(f"unknown option {_joined(args)!r}", "subscriptions")

    def subscribe_example(self) -> str:
        topics = self.runtime.config.topics
        example = topics[0].id if topics else '"entity list"'
        return f"Try /brief subscribe {example}."

    def do_unsubscribe(self, args: list[Word]) -> list[SlackMessage]:
        sub_id = _one_id(args, "unsubscribe", "a subscription id")
        with self.runtime.lock:
            try:
                sub = delete_subscription(
                    self.runtime.store, sub_id, by=self.request.user_id, is_admin=self.is_admin
                )
            except SubscriptionError as err:
                raise _CommandError(_sentence(str(err)), "unsubscribe") from None
            self.commit()
        return self.notice(f"Unsubscribed {sub.id} ({sub.label}): no more alerts from it.")

    def do_mute(self, args: list[Word]) -> list[SlackMessage]:
        return self.set_muted(args, muted=True)

    def do_unmute(self, args: list[Word]) -> list[SlackMessage]:
        return self.set_muted(args, muted=False)

    def set_muted(self, args: list[Word], *, muted: bool) -> list[SlackMessage]:
        verb = "mute" if muted else "unmute"
        sub_id = _one_id(args, verb, "a subscription id")
        with self.runtime.lock:
            try:
                sub = set_muted(
                    self.runtime.store,
                    sub_id,
                    muted,
                    by=self.request.user_id,
                    is_admin=self.is_admin,
                )
            except SubscriptionError as err:
                raise _CommandError(_sentence(str(err)), verb) from None
            self.commit()
        if muted:
            return self.notice(
                f"Muted {sub.id} ({sub.label}): no alerts until /brief unmute {sub.id}."
            )
        return self.notice(f"Unmuted {sub.id} ({sub.label}): alerts resume with new items.")

    # -- what the bot knows ---------------------------------------------------------------

    def do_topics(self, args: list[Word]) -> list[SlackMessage]:
        self.no_args(args)
        topics = self.runtime.config.topics
        if not topics:
            return self.notice(
                "No topics are defined: an operator adds them under topics: in "
                "feeds.yaml. You can still subscribe to a query."
            )
        lines = [f"{_count(len(topics), 'topic')} (subscribe with /brief subscribe ID):"]
        for topic in sorted(topics, key=lambda t: -t.priority):
            priority = f" (priority {topic.priority})" if topic.priority else ""
            description = f": {topic.description}" if topic.description else ""
            lines.append(f"• *{topic.id}*{priority}{description}\nquery: {topic.query}")
        return self.notice("\n".join(lines))

    def do_feeds(self, args: list[Word]) -> list[SlackMessage]:
        self.no_args(args)
        feeds = self.runtime.config.feeds
        added = feeds_added_from_slack(self.runtime.store)
        removed = removed_feed_ids(self.runtime.base_config, self.runtime.store)
        enabled = sum(1 for f in feeds if f.enabled)
        if not feeds and not removed:
            return self.notice(
                "No feeds are configured: an operator adds them under feeds: in feeds.yaml, "
                "or an admin with /brief feed add URL."
            )
        lines = [f"{_count(len(feeds), 'feed')}, {enabled} enabled:"]
        for feed in feeds:
            name = f" {feed.name}" if feed.name else ""
            tags = f" · tags: {', '.join(feed.tags)}" if feed.tags else ""
            state = "enabled" if feed.enabled else "paused"
            origin = f" · added from Slack by {added[feed.id]}" if feed.id in added else ""
            lines.append(
                f"• *{feed.id}*{name}{tags} · every {format_duration(feed.interval_seconds)}"
                f" · {state}{origin}"
            )
        if removed:
            lines.append(
                f"Removed from Slack: {', '.join(removed)} (/brief feed resume ID brings one back)."
            )
        return self.notice("\n".join(lines))

    def do_status(self, args: list[Word]) -> list[SlackMessage]:
        self.no_args(args)
        messages = self.runtime.renderer.render_feed_status(self.runtime.feed_status_rows())
        errors = self.runtime.delivery_errors()
        if errors:
            lines = ["Delivery problems:"]
            for target, record in sorted(errors.items()):
                lines.append(f"• {target}: {record.get('error')} ({_when(record.get('at'))})")
            messages = _pack_messages(messages + self.notice("\n".join(lines)))
        return messages

    # -- digests ------------------------------------------------------------------------

    def channel_digest(self) -> tuple[DigestConfig, bool]:
        """This channel's digest settings, and whether a schedule exists (else defaults)."""
        channel = self.request.channel_id
        digest = self.runtime.digest_config(channel)
        if digest is not None:
            return digest, True
        return DigestConfig(channel=channel, at=time(8, 30), timezone="UTC"), False

    def do_digest(self, args: list[Word]) -> list[SlackMessage]:
        if args and args[0].text.lower() == "post" and len(args) == 1:
            return self.post_digest()
        if args:
            raise _CommandError(f"unknown digest option {_joined(args)!r}", "digest")
        digest, scheduled = self.channel_digest()
        runtime = self.runtime
        with runtime.lock:
            # build_digest records a first-seen cursor for a new channel; a
            # preview must not, or it would decide where the first real digest starts.
            had_record = runtime.store.get_record(DIGEST_TABLE, digest.channel) is not None
            try:
                _view, messages = runtime.build_digest(digest)
            finally:
                if not had_record:
                    runtime.store.delete_record(DIGEST_TABLE, digest.channel)
        about = "" if scheduled else " (no digest is scheduled here: this uses the defaults)"
        if not messages:
            return self.notice(f"Nothing new for this channel since its last digest{about}.")
        intro = self.notice(
            f"Preview of this channel's digest, only you can see it{about}. "
            "An admin can post it with /brief digest post."
        )
        return _pack_messages(intro + messages)

    def post_digest(self) -> list[SlackMessage]:
        self.require_admin("post the digest")
        if self.poster is None:
            return self.notice("digest post needs Slack: set SLACK_BOT_TOKEN.")
        digest, _scheduled = self.channel_digest()
        outcome = self.runtime.send_digest(digest, self.poster)
        if outcome.status == "sent":
            return self.notice(f"Posted this channel's digest ({_count(outcome.items, 'item')}).")
        if outcome.status == "skipped":
            return self.notice("Nothing new since the last digest: nothing was posted.")
        if outcome.status == "already-sent":
            return self.notice("This digest was already posted.")
        return self.notice(f"The digest was not posted: {outcome.error}")

    def do_schedule(self, args: list[Word]) -> list[SlackMessage]:
        channel = self.request.channel_id
        if not args:
            return self.notice(self.describe_schedule())
        if not _CHANNEL_ID.fullmatch(channel):
            raise _CommandError(
                "schedule sets a channel's digest: run it in the channel that should get it",
                "schedule",
            )
        if len(args) == 1 and args[0].text.lower() == "off":
            self.require_admin("change the digest schedule")
            with self.runtime.lock:
                cleared = clear_schedule(self.runtime.store, channel)
                self.commit()
            if not cleared:
                return self.notice("No schedule was set from Slack for this channel.")
            self.runtime.refresh_config()
            return self.notice("Removed the schedule set from Slack. " + self.describe_schedule())
        self.require_admin("change the digest schedule")
        at = args[0].text
        if not _TIME_OF_DAY.fullmatch(at):
            raise _CommandError(f"{at!r} is not a time of day such as 08:30", "schedule")
        zone, days = _read_zone_and_days(args[1:])
        with self.runtime.lock:
            try:
                set_schedule(
                    self.runtime.store,
                    self.runtime.config,
                    channel,
                    at=at,
                    timezone=zone,
                    days=days,
                    by=self.request.user_id,
                    now=self.now(),
                )
            except OverrideError as err:
                raise _CommandError(_sentence(str(err)), "schedule") from None
            self.commit()
        self.runtime.refresh_config()
        return self.notice("Schedule saved. " + self.describe_schedule())

    def describe_schedule(self) -> str:
        digest = self.runtime.digest_config(self.request.channel_id)
        if digest is None:
            return (
                "No digest is scheduled for this channel. An admin can set one: "
                "/brief schedule 08:30 Asia/Tokyo mon-fri"
            )
        zone = digest_zone(digest)
        upcoming = next_digest_time(digest, self.now()).astimezone(zone)
        topics = ", ".join(digest.topics) if digest.topics else "all topics"
        return (
            f"This channel's digest: {digest.at:%H:%M} {digest.timezone}, "
            f"{format_days(digest.days)}; {topics}, up to {digest.max_items} items. "
            f"Next: {upcoming:%a %d %b %H:%M} ({digest.timezone})."
        )

    # -- feeds (admin) ------------------------------------------------------------------

    def do_feed(self, args: list[Word]) -> list[SlackMessage]:
        action = args[0].text.lower() if args else ""
        rest = args[1:]
        if action == "add":
            self.require_admin("add feeds")
            return self.feed_add(rest)
        if action in ("remove", "pause", "resume"):
            self.require_admin(f"{action} feeds")
            return self.feed_change(action, _one_id(rest, "feed", "a feed id"))
        if action == "poll":
            self.require_admin("poll feeds")
            return self.feed_poll(rest)
        problem = f"unknown feed command {action!r}" if action else "say what to do with feeds"
        raise _CommandError(problem, "feed")

    def feed_add(self, args: list[Word]) -> list[SlackMessage]:
        if not args:
            raise _CommandError("give the feed's URL", "feed")
        url = args[0].url or args[0].text
        tags = [w.text.lstrip("#") for w in args[1:]]
        runtime = self.runtime
        with runtime.lock:
            try:
                feed = add_feed(
                    runtime.store,
                    runtime.base_config,
                    url,
                    tags=tags,
                    by=self.request.user_id,
                    now=self.now(),
                )
            except OverrideError as err:
                raise _CommandError(f"cannot add {url}: {err}", "feed") from None
            self.commit()
        runtime.refresh_config()
        return self.notice(
            f"Added feed {feed.id} ({feed.url}), polled every "
            f"{format_duration(feed.interval_seconds)}. Its first poll is kept as backlog, "
            f"not alerted. /brief feed poll {feed.id} polls it now."
        )

    def feed_change(self, action: str, feed_id: str) -> list[SlackMessage]:
        runtime = self.runtime
        with runtime.lock:
            try:
                if action == "remove":
                    feed = remove_feed(
                        runtime.store,
                        runtime.base_config,
                        feed_id,
                        by=self.request.user_id,
                        now=self.now(),
                    )
                else:
                    feed = set_feed_enabled(
                        runtime.store,
                        runtime.base_config,
                        feed_id,
                        action == "resume",
                        by=self.request.user_id,
                        now=self.now(),
                    )
            except OverrideError as err:
                raise _CommandError(_sentence(str(err)), "feed") from None
            self.commit()
        runtime.refresh_config()
        if action == "remove":
            kept = runtime.base_config.feed(feed.id) is not None
            tail = (
                f" It is in feeds.yaml: /brief feed resume {feed.id} brings it back."
                if kept
                else ""
            )
            return self.notice(f"Removed feed {feed.id}.{tail}")
        if action == "pause":
            return self.notice(
                f"Paused feed {feed.id}: not polled until /brief feed resume {feed.id}."
            )
        return self.notice(f"Resumed feed {feed.id}: polled again from its next due time.")

    def feed_poll(self, args: list[Word]) -> list[SlackMessage]:
        config = self.runtime.config
        wanted = [w.text for w in args]
        for feed_id in wanted:
            feed = config.feed(feed_id)
            if feed is None:
                raise _CommandError(
                    f"there is no feed {feed_id!r}: /brief feeds lists them", "feed"
                )
            if not feed.enabled:
                raise _CommandError(
                    f"feed {feed_id} is paused: /brief feed resume {feed_id} first", "feed"
                )
        if not config.enabled_feeds:
            return self.notice("No feed is enabled: nothing to poll.")
        reports = self.runtime.poll(feed_ids=set(wanted) or None, force=True)
        lines = [f"Polled {_count(len(reports), 'feed')}:"]
        for report in reports:
            if report.status == "error":
                outcome = f"failed: {report.error}"
            elif report.status == "not-modified":
                outcome = "not modified since the last poll"
            elif report.backlog:
                outcome = f"{report.new_items} stored as backlog (a first poll: not alerted)"
            else:
                outcome = f"{report.new_items} new, {report.seen_items} already seen"
            lines.append(f"• {report.feed_id}: {outcome}")
        if self.poster is not None:
            sent = self.runtime.dispatch_alerts(self.poster)
            lines.append(
                f"Alerts sent: {_count(sent.delivered, 'item')} in "
                f"{_count(sent.messages, 'message')}."
            )
            for owner, error in sent.failed_owners.items():
                lines.append(f"• not delivered to {owner}: {error}")
        elif any(r.new_items and not r.backlog for r in reports):
            lines.append("Alerts stay queued: no Slack connection here (briefbot run sends them).")
        return self.notice("\n".join(lines))


# --------------------------------------------------------------------------- helpers


def _find_id(text: str, ids: Iterable[str]) -> str | None:
    folded = text.strip().lower()
    return next((i for i in ids if i.lower() == folded), None) if folded else None


def _channel_of(word: Word) -> str | None:
    if word.channel is not None:
        return word.channel
    return word.text if _CHANNEL_ID.fullmatch(word.text) else None


def _user_of(word: Word) -> str | None:
    if word.user is not None:
        return word.user
    return word.text if _USER_ID.fullmatch(word.text) else None


def _bare_channel_message(name: str) -> str:
    return (
        f"{name} reached the bot as plain text, without the channel's id. Pick the channel "
        "from the list Slack offers as you type #, so that Slack sends it as a link, or give "
        "its id (channel details → About: Channel ID), such as C0123456789"
    )


def _one_id(args: Sequence[Word], verb: str, what: str) -> str:
    if len(args) != 1:
        problem = (
            f"give {what}" if not args else f"give one {what.removeprefix('a ')}, not {len(args)}"
        )
        raise _CommandError(problem, verb)
    return args[0].text


def _read_delivery_options(
    args: Sequence[Word],
) -> tuple[list[Word], str, str | None, str | None]:
    """(query words, mode, daily time, zone) from trailing options of subscribe.

    Options are read from the end while they look like options, keeping at
    least one word for the query: `chips daily 08:00 tz:Asia/Tokyo`.
    """
    words = list(args)
    mode: str | None = None
    daily_at: str | None = None
    zone: str | None = None
    while len(words) > 1:
        text = words[-1].text
        lowered = text.lower()
        if lowered.startswith("tz:") and zone is None and len(text) > 3:
            zone = text[3:]
        elif lowered in _MODES and mode is None:
            mode = _MODES[lowered]
        elif _TIME_OF_DAY.fullmatch(text) and daily_at is None and mode is None:
            daily_at = text
        else:
            break
        words.pop()
    return words, mode or "immediate", daily_at, zone


def _read_zone_and_days(args: Sequence[Word]) -> tuple[str | None, str | None]:
    zone: str | None = None
    days: str | None = None
    for word in args:
        try:
            parse_days(word.text)
        except ValueError:
            if zone is not None:
                raise _CommandError(
                    f"{word.text!r} is neither a time zone (already {zone}) nor days such as "
                    "mon-fri",
                    "schedule",
                ) from None
            zone = word.text
            continue
        if days is not None:
            raise _CommandError("give the days once, such as mon-fri or mon,wed,fri", "schedule")
        days = word.text
    return zone, days


def _user_timezone(poster: Poster | None, user_id: str) -> str | None:
    """The caller's Slack time zone (users.info), when the poster exposes a Web API client."""
    users_info = getattr(getattr(poster, "client", None), "users_info", None)
    if not callable(users_info):
        return None
    try:
        response = users_info(user=user_id)
        user = response.get("user") or {}
        zone = user.get("tz")
    except Exception as exc:  # Slack unreachable or the scope missing: UTC will do
        log.warning("cannot read the time zone of %s: %s", user_id, exc)
        return None
    if not isinstance(zone, str) or not zone:
        return None
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return zone


def _delivery(sub: Subscription) -> str:
    if sub.mode == "hourly":
        return "at most once an hour"
    if sub.mode == "daily":
        return f"once a day at {sub.daily_at} ({sub.timezone})"
    return "as soon as new items match"


def _subscription_list(title: str, subs: Sequence[Subscription], *, owners: bool = False) -> str:
    lines = [f"{title}:"]
    for sub in subs:
        owner = f" · for {sub.owner}" if owners or sub.owner_is_channel else ""
        muted = " · muted" if sub.muted else ""
        lines.append(f"• {sub.id}: {sub.label} · {_delivery(sub)}{owner}{muted}")
    return "\n".join(lines)


def _when(iso: object) -> str:
    """A stored ISO time as "2026-11-25 09:34 UTC"; anything else as it is."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, split between lines where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces += [current] if current else []
            pieces.append(line[:cut])
            current, line = "", line[cut:].lstrip()
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current or not pieces:
        pieces.append(current)
    return pieces


def _pack_messages(messages: Sequence[SlackMessage]) -> list[SlackMessage]:
    """The blocks of `messages`, in order, in as few messages as Slack's limits allow.

    Each reply to a slash command is one `respond()` call, and a response_url
    takes about five, so a reply is packed rather than sent as many small ones.
    """
    packed: list[SlackMessage] = []
    blocks: list[Any] = []
    texts: list[str] = []
    size = 2
    for message in messages:
        texts.append(message.text)
        for block in message.blocks:
            extra = block_size(block) + (1 if blocks else 0)
            if blocks and (len(blocks) >= MAX_BLOCKS or size + extra > MAX_BLOCKS_CHARS):
                packed.append(_message(blocks, texts[:-1] or texts))
                blocks, texts, size = [], [message.text], 2
                extra -= 1
            blocks.append(block)
            size += extra
    if blocks or texts:
        packed.append(_message(blocks, texts))
    return packed


def _message(blocks: Sequence[Any], texts: Sequence[str]) -> SlackMessage:
    text = truncate_words("\n".join(t for t in texts if t), MAX_TEXT) or "(empty message)"
    return SlackMessage(text=text, blocks=tuple(blocks))
