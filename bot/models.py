"""Plain value objects shared by every stage: feeds, items, fetch results, feed state.

Nothing here does I/O or imports a third-party library; every other module may
import this one, and this one imports no other module of the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

__all__ = [
    "UTC",
    "Alert",
    "CommandReply",
    "CommandRequest",
    "DigestSection",
    "DigestView",
    "FeedConfig",
    "FeedState",
    "FetchResult",
    "Item",
    "ParseResult",
    "PollReport",
    "QuestionRequest",
    "Settings",
    "SlackMessage",
    "Subscription",
    "as_utc",
    "dedup_key",
    "replace",
]


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; a naive one is taken to be UTC already.

    Feeds, the store and callers all speak UTC; a naive time never means local time.
    """
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Settings:
    """`settings:` in feeds.yaml, with defaults. Durations are in seconds."""

    user_agent: str = "briefbot/0.1 (+https://github.com/briefbot/briefbot; feed reader)"
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # Whole-fetch deadline, so a slow-loris server cannot hold a worker forever.
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host_concurrency: int = 4
    retention_days: int = 180
    data_dir: str = "./data"
    # Backoff after consecutive failures: base * 2**(n-1), capped, with jitter.
    backoff_base_seconds: int = 300
    backoff_max_seconds: int = 6 * 3600
    summary_max_chars: int = 1000
    templates_dir: str | None = None
    # A feed failing this long gets one notice in ops_channel (and one on recovery).
    failure_notice_seconds: int = 6 * 3600
    # Parse worker processes ("auto": one per core; 0: parse in the bot's own process).
    parse_workers: int | Literal["auto"] = "auto"
    # Seconds one feed document may take to parse; a worker past it is killed.
    parse_timeout: float = 20.0
    # The Federal Register documents API (`enrich: federal-register` feeds).
    federal_register_api: str = "https://www.federalregister.gov/api/v1/"
    # PostgreSQL instead of data_dir (BRIEFBOT_DATABASE_URL); may hold a password: not in repr.
    database_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One entry of `feeds:` in feeds.yaml, validated."""

    id: str
    url: str
    name: str = ""
    tags: tuple[str, ...] = ()
    interval_seconds: int = 1800
    enabled: bool = True
    # Opt-in to loopback/private addresses (tests, intranet feeds). Feeds added
    # from Slack never get it.
    allow_private: bool = False
    # Addresses or networks ("169.254.169.254", "10.1.0.0/16") this feed may
    # reach although the address policy refuses them; link-local and metadata
    # addresses only ever this way. Feeds added from Slack never get it.
    allow_addresses: tuple[str, ...] = ()
    # `enrich: federal-register`: each new item's Federal Register document is
    # fetched from the documents API after the poll (bot/ingest/fedreg/).
    enrich: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


def dedup_key(feed_id: str, kind: str, value: str) -> str:
    """One key under which the store remembers an item: `kind` "id" (an item id) or "lt"."""
    return f"{feed_id}\x1f{kind}\x1f{value}"


@dataclass(frozen=True, slots=True)
class Item:
    """One normalized feed entry.

    `id` is the stable identity inside its feed (see bot/ingest/identity.py
    for how it is derived); `link_title_key` catches the same entry
    re-published under a new GUID (or a GUID shared with other entries).
    `former_keys` are the keys the entry had under release 0.1's rules: looked
    up so that an item stored then is not new again, never stored, and not
    part of the item's value (an Item made from another under a new id must
    drop them). `seq` and `first_seen` are given by the store
    when the item is kept: `seq` rises by one per stored item and is what
    cursors (alert matching, digests) count in.
    """

    id: str
    feed_id: str
    title: str
    summary: str = ""
    link: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    guid: str | None = None
    link_title_key: str | None = None
    first_seen: datetime | None = None
    backlog: bool = False
    seq: int = 0
    # Stage-specific facts (entity-list counts, duplicate-story links, ...).
    extras: Mapping[str, Any] = field(default_factory=dict)
    former_keys: tuple[str, ...] = field(default=(), compare=False)

    @property
    def dedup_keys(self) -> tuple[str, ...]:
        """Keys under which the store remembers this item (scoped to its feed)."""
        keys = [dedup_key(self.feed_id, "id", self.id)]
        if self.link_title_key:
            keys.append(dedup_key(self.feed_id, "lt", self.link_title_key))
        return tuple(keys)

    @property
    def lookup_keys(self) -> tuple[str, ...]:
        """`dedup_keys`, then the `former_keys` not among them: what tells a stored item."""
        current = self.dedup_keys
        return current + tuple(k for k in dict.fromkeys(self.former_keys) if k not in current)

    @property
    def when(self) -> datetime:
        """The time to sort and filter by: published, else first seen."""
        return self.published or self.first_seen or datetime.fromtimestamp(0, UTC)

    @property
    def duplicate_of(self) -> int | None:
        """The seq of the earlier stored item whose story this one repeats, or None.

        Read from `extras["duplicate_of"]`, which same-story linking writes as
        the primary's seq. Only an int seq of 1 or more, not this item's own,
        is a link: None, "", bools, 0, negative numbers, strings and anything
        else unreadable are not (a wrong link hides a story; a missed one only
        shows it twice).
        """
        value = self.extras.get("duplicate_of")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return None
        return None if value == self.seq else value


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP fetch of one feed produced. `body` is empty unless `ok`."""

    feed_id: str
    url: str
    ok: bool
    not_modified: bool = False
    status_code: int | None = None
    final_url: str | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    elapsed: float = 0.0
    # Seconds the server asked us to wait (Retry-After on 429/503).
    retry_after: float | None = None
    # Cache-Control max-age of a successful response, in seconds.
    max_age: float | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Items read from one feed document, plus what went wrong reading it."""

    items: tuple[Item, ...]
    feed_title: str = ""
    # feedparser's bozo text for a malformed but partly readable feed.
    warning: str | None = None
    # Set when nothing at all could be read (not a feed, empty body, ...).
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the bot remembers about one feed between polls."""

    feed_id: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_due: datetime | None = None
    warning: str | None = None
    # False until the first successful poll: its items are stored as backlog.
    first_poll_done: bool = False
    items_stored: int = 0
    # When a poll last stored a new (not backlog) item; None: none yet.
    last_new_item: datetime | None = None
    # The size of the last document the feed sent (its last 200): the fetcher
    # asks for the largest first (bot/ingest/fetch/client.py `_largest_first`).
    body_bytes: int = 0


@dataclass(frozen=True, slots=True)
class PollReport:
    """The outcome of polling one feed once, for the CLI table and logs."""

    feed_id: str
    status: str  # "ok", "not-modified", "error", "skipped"
    new_items: int = 0
    seen_items: int = 0
    backlog: bool = False
    elapsed: float = 0.0
    error: str | None = None
    warning: str | None = None
    next_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """Someone asked to be told about a topic or a query.

    `owner` is a Slack user id (alerts by direct message) or a channel id
    (alerts into that channel). Exactly one of `topic` and `query` is set.
    `mode` is "immediate", "hourly" or "daily"; daily batches go out at
    `daily_at` (HH:MM) in `timezone`. `remind` is how many days before a
    Federal Register deadline (comments close, a rule takes effect) its owner
    is reminded, largest first; empty means no reminders. `team_id` and
    `enterprise_id` name the workspace it belongs to ("" with one workspace).
    """

    id: str
    owner: str
    created_by: str
    created_at: datetime
    topic: str | None = None
    query: str | None = None
    mode: str = "immediate"
    daily_at: str = "09:00"
    timezone: str = "UTC"
    muted: bool = False
    remind: tuple[int, ...] = (7, 1)
    team_id: str = ""
    enterprise_id: str = ""

    @property
    def owner_is_channel(self) -> bool:
        return self.owner[:1] in ("C", "G")

    @property
    def label(self) -> str:
        return f"topic {self.topic}" if self.topic else f"query {self.query}"


#: Watch ids start with this (bot/brief/watchlist.py), subscription ids with "s";
#: an alert's `subscription_ids` hold both.
WATCH_ID_PREFIX = "w"


@dataclass(frozen=True, slots=True)
class Alert:
    """One item to tell one owner about, naming every subscription and watch it matched.

    Queued durably in the same commit as the poll that found the item; removed
    only after Slack accepted the message that carried it.
    """

    owner: str
    item_seq: int
    subscription_ids: tuple[str, ...]
    created_at: datetime
    due_at: datetime
    # The workspace the owner is in, whose bot token posts it ("" with one workspace).
    team_id: str = ""
    enterprise_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.owner}:{self.item_seq}"

    @property
    def watch_ids(self) -> tuple[str, ...]:
        return tuple(i for i in self.subscription_ids if i.startswith(WATCH_ID_PREFIX))

    @property
    def sent_keys(self) -> tuple[str, ...]:
        """What delivering this alert records as sent: its key, and one key per watch it
        names ("U1:45/w3k2"). A watch hit found after the item was alerted (its entities
        named at a later poll) is then told once, though the item's own key is sent."""
        return (self.key, *(watch_key(self.key, w) for w in self.watch_ids))

    def canonical(self) -> Alert:
        """The same alert with its subscription ids sorted and unique."""
        ids = tuple(sorted(set(self.subscription_ids)))
        return self if ids == self.subscription_ids else replace(self, subscription_ids=ids)

    def merged(self, other: Alert) -> Alert:
        """This alert and another for the same key as one: ids united, the earlier times kept."""
        return Alert(
            owner=self.owner,
            item_seq=self.item_seq,
            subscription_ids=tuple(sorted({*self.subscription_ids, *other.subscription_ids})),
            created_at=min(as_utc(self.created_at), as_utc(other.created_at)),
            due_at=min(as_utc(self.due_at), as_utc(other.due_at)),
            team_id=self.team_id or other.team_id,
            enterprise_id=self.enterprise_id or other.enterprise_id,
        )


def watch_key(alert_key: str, watch_id: str) -> str:
    """The sent key of one watch's hit on an alert's item: "U1:45/w3k2" (owner before ":")."""
    return f"{alert_key}/{watch_id}"


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One topic's part of a digest: its items, newest first."""

    topic_id: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """Everything a digest template needs, already selected and ordered."""

    channel: str
    date_label: str  # the date in the channel's time zone, e.g. "Wednesday 25 November 2026"
    sections: tuple[DigestSection, ...]
    more_count: int = 0  # items past max_items, not shown
    more_hint: str = "/brief latest"
    # Item seqs the digest covers (shown or not): the cursor moves past them.
    covered_through_seq: int = 0
    # "Other new items": those matching none of the digest's topics. `others`
    # are the ones shown (newest first), `others_count` all of them (0 when
    # the digest hides them), `others_mode` the digest's `others:` setting.
    others: tuple[Item, ...] = ()
    others_count: int = 0
    others_hint: str = "/brief latest others"
    others_mode: str = "show"
    # What the digest covers, in the channel's zone: "since Tuesday 24 November, 08:30 JST".
    period_label: str = ""
    # This week's deadlines on the channel's topics, soonest first: (kind, date, item) with
    # kind "comments" (a comment period closes) or "effective" (a rule takes effect).
    deadlines: tuple[tuple[str, date, Item], ...] = ()
    summaries: bool = False  # a one-line summary under each item

    @property
    def item_count(self) -> int:
        """Items shown in the topic sections."""
        return sum(len(s.items) for s in self.sections)

    @property
    def shown_count(self) -> int:
        """Items shown, the "Other new items" included."""
        return self.item_count + len(self.others)

    @property
    def new_count(self) -> int:
        """Every new item the digest accounts for: shown, cut by max_items, or counted as other."""
        return self.item_count + self.more_count + self.others_count

    @property
    def is_empty(self) -> bool:
        """Nothing to say: no item in any section and no other new item to count."""
        return self.new_count == 0


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One chat.postMessage payload's content: a plain-text fallback plus blocks.

    `in_thread` marks a continuation that goes into the thread of the first
    message of the same batch.
    """

    text: str
    blocks: tuple[Mapping[str, Any], ...] = ()
    in_thread: bool = False


@dataclass(frozen=True)
class CommandRequest:
    """One `/brief` line: who typed it, where, and the text after `/brief` as Slack sent it.

    `is_admin` None lets `admins:` in feeds.yaml decide; the local console sets it.
    Built by each surface (the Slack app, the console), answered by
    `bot.app.commands.handle_command`. `team_id` / `enterprise_id`: the
    workspace it came from when the bot serves many (OAuth); "" with one
    workspace, and in the console (which then sees every workspace's data).
    """

    user_id: str
    channel_id: str
    text: str
    user_name: str = ""
    is_admin: bool | None = None
    team_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class CommandReply:
    """The reply to the caller; `in_channel` False: only the caller sees it.

    `home_changed`: the command may have changed what the caller's Home tab
    shows (their subscriptions), so the Slack app publishes it again.
    """

    messages: list[SlackMessage]
    in_channel: bool = False
    home_changed: bool = False


@dataclass(frozen=True)
class QuestionRequest:
    """A question in plain words from a DM to the bot or Slack's assistant panel.

    `surface` is "dm" or "assistant"; `channel_id` is the DM or assistant
    channel and `thread_ts` the thread the answer goes to (None: the channel).
    `timezone` is the asker's IANA zone when the surface knows it. Built by
    the Slack app, answered by a `QuestionHandler` it was given
    (`bot.app.questions.handle_question` in `briefbot run`).
    """

    user_id: str
    channel_id: str
    text: str
    surface: str = "dm"
    thread_ts: str | None = None
    timezone: str | None = None
    # The workspace it came from when the bot serves many (OAuth); "" with one.
    team_id: str = ""
    enterprise_id: str = ""
