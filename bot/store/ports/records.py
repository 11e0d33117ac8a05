"""The typed records storage hands back and takes (besides `bot.models`), and the store's errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.models import SlackMessage

__all__ = [
    "AddedFeed",
    "AlertDelivery",
    "DeliveryProblem",
    "DigestPost",
    "DigestState",
    "FeedOverride",
    "Heartbeat",
    "OpsNotice",
    "ScheduleOverride",
    "StoreError",
    "StoreLockedError",
    "StoreReadOnlyError",
    "StoreStats",
]


class StoreError(Exception):
    """The store cannot be opened, read or written, or a value cannot be stored."""


class StoreLockedError(StoreError):
    """Another process holds the data; the message names it."""


class StoreReadOnlyError(StoreError):
    """A write was asked of a store opened to read (while another process holds it)."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """An alert message on its way to Slack: recorded before the post, removed after.

    Found at start-up, it means a crash came in between: Slack is asked whether
    the message with `key` (its metadata) arrived after `since_ts`.
    """

    key: str
    owner: str
    channel: str
    since_ts: float
    alert_keys: tuple[str, ...]
    team_id: str = ""  # the workspace whose token posted it ("" with one workspace)
    enterprise_id: str = ""


@dataclass(frozen=True, slots=True)
class DigestPost:
    """A digest being posted (`posted` 0) or cut short after `posted` of its messages.

    `messages` are the exact messages planned, so that a digest cut short is
    finished with them rather than rebuilt (None in records of older releases).
    `seq` is where the channel's cursor moves once all of it is in; `ts` is the
    first message's (the thread the rest goes into).
    """

    key: str
    since_ts: float
    seq: int
    scheduled_for: datetime
    items: int
    parts: int = 0
    messages: tuple[SlackMessage, ...] | None = None
    posted: int = 0
    ts: str | None = None


@dataclass(frozen=True, slots=True)
class DigestState:
    """A channel's digest ledger: the items covered so far and the post under way."""

    channel: str
    seq: int
    last_sent: datetime
    inflight: DigestPost | None = None
    partial: DigestPost | None = None


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """The last failed delivery to a channel or person, shown by `/brief status`."""

    target: str
    error: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AddedFeed:
    """A feed added from Slack, as `/brief feed add` recorded it."""

    url: str
    tags: tuple[str, ...] = ()
    interval: int | None = None


@dataclass(frozen=True, slots=True)
class FeedOverride:
    """A change made from Slack to one feed: added, paused/resumed, or removed (hidden)."""

    feed_id: str
    added: AddedFeed | None = None
    enabled: bool | None = None
    removed: bool = False
    by: str = ""
    changed_at: datetime | None = None
    # The workspace that added it ("" : feeds.yaml's, or one workspace): its searches see it.
    team_id: str = ""
    # Every workspace that follows it (the adder first); () for a feed no workspace owns.
    # Two workspaces adding the same URL follow one feed, fetched once.
    followers: tuple[str, ...] = ()

    @property
    def teams(self) -> tuple[str, ...]:
        """The workspaces following this feed (an older record names only `team_id`)."""
        if self.followers:
            return self.followers
        return (self.team_id,) if self.team_id else ()


@dataclass(frozen=True, slots=True)
class ScheduleOverride:
    """A channel's digest time set from Slack (`/brief schedule`)."""

    channel: str
    at: str
    timezone: str
    days: str
    by: str = ""
    changed_at: datetime | None = None
    # The workspace that set it (many workspaces): its digest posts with that bot token.
    team_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True, slots=True)
class OpsNotice:
    """A feed-failure notice given in the ops channel (so it is given once per outage)."""

    feed_id: str
    failing_since: datetime
    notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts and sizes for status output and benchmarks."""

    items: int
    tombstones: int
    last_seq: int
    bytes: int
    files: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the running service last said about itself (`briefbot health`, `/healthz`).

    `slack_mode` is "socket" or "http"; `slack_ok` whether Slack was reachable
    with the bot's token at `slack_checked_at` (Socket Mode: connected);
    `slack_detail` says what failed. Not part of any transaction: a lost
    heartbeat only makes the service look stale for one beat. With several
    replicas on one database each beats under its own `replica` name (its
    coordination's), on `host`, saying whether it was the `leader`; alone,
    `replica` is "" and it leads.
    """

    at: datetime
    pid: int
    slack_mode: str
    slack_ok: bool
    slack_checked_at: datetime | None = None
    slack_detail: str = ""
    replica: str = ""
    host: str = ""
    leader: bool = True
