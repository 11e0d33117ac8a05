"""Create, list, mute and remove subscriptions: the rules, over the store's subscription records.

Every change is made in the caller's transaction (one per Slack command), so a
command that fails half-way leaves nothing behind, and the cap and duplicate
checks cannot interleave with another writer.

What a user types is read like this:

- a text equal to a topic id of feeds.yaml (ignoring case and surrounding
  space) subscribes to that topic: the topic's query is looked up at matching
  time, so editing feeds.yaml changes what the subscription matches;
- anything else is a query in the query language (`bot.find.query`), even a
  single word that is no topic id ("ipef2" is the word ipef2, not a typo of a
  topic). Its errors come back with their column.

Ids are "s" and four characters of Crockford's base32 alphabet (digits and
lowercase letters without i, l, o, u, so an id read aloud or retyped is not
misread), drawn from `secrets` and checked against the ids in use: they cannot
be guessed from one another. When the space gets crowded an id grows by one
character. A typed id is read case-insensitively, with i and l read as 1 and o
as 0 as Crockford's decoding does.

Removing or muting a subscription also drops its alerts still waiting in the
queue (`AlertQueue.discard_subscriptions`): an hourly or daily batch must not
deliver what the user just turned off.
"""

from __future__ import annotations

import difflib
import logging
import secrets
import zoneinfo
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from bot.brief.match import DELIVERY_MODES, parse_daily_at
from bot.brief.reminders import DEFAULT_REMIND
from bot.config.model import TopicConfig
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import Subscription, as_utc, replace
from bot.store.ports import SubscriptionReader, Transaction

__all__ = [
    "DEFAULT_CAP",
    "SubscriptionError",
    "SubscriptionNotFoundError",
    "SubscriptionPermissionError",
    "create_subscription",
    "delete_subscription",
    "get_subscription",
    "new_subscription_id",
    "normalize_subscription_id",
    "plan_subscription",
    "read_timezone",
    "set_muted",
    "set_remind",
]

log = logging.getLogger(__name__)

#: Subscriptions per owner unless the caller says otherwise.
DEFAULT_CAP = 50

# Crockford's base32 (https://www.crockford.com/base32.html), lower case.
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_LENGTH = 4
_ID_TRIES_PER_LENGTH = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MODE_ALIASES = {"immediate": "immediate", "immediately": "immediate"}


class SubscriptionError(ValueError):
    """A subscription request that cannot be done; `str(error)` is the sentence to show the user.

    `field` names what was wrong ("what": the topic or query, "mode",
    "daily_at", "timezone"), so a form can show the sentence beside that field.
    """

    def __init__(self, message: str, field: str = "what") -> None:
        super().__init__(message)
        self.field = field


class SubscriptionNotFoundError(SubscriptionError):
    """No subscription has the given id."""


class SubscriptionPermissionError(SubscriptionError):
    """The user may not change this subscription."""


# --------------------------------------------------------------------------- ids


def new_subscription_id(taken: Collection[str]) -> str:
    """A fresh random id not in `taken`, like "s7k2q"."""
    length = _ID_LENGTH
    while True:
        for _ in range(_ID_TRIES_PER_LENGTH):
            candidate = "s" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))
            if candidate not in taken:
                return candidate
        length += 1


def normalize_subscription_id(text: str) -> str:
    """The id a user meant: "S7K2Q", " s7k2q " and "s7k2Q" are all "s7k2q"."""
    cleaned = text.strip().lower()
    if not cleaned.startswith("s"):
        return cleaned
    return "s" + cleaned[1:].replace("i", "1").replace("l", "1").replace("o", "0")


def get_subscription(
    subscriptions: SubscriptionReader, subscription_id: str
) -> Subscription | None:
    """The subscription with this id (as a user typed it), or None."""
    return subscriptions.get(normalize_subscription_id(subscription_id))


# --------------------------------------------------------------------------- writing


def create_subscription(
    tx: Transaction,
    *,
    owner: str,
    created_by: str,
    topic_or_query: str,
    topics: Mapping[str, TopicConfig],
    mode: str = "immediate",
    daily_at: str | None = None,
    timezone: str = "UTC",
    remind: tuple[int, ...] = DEFAULT_REMIND,
    now: datetime,
    cap: int = DEFAULT_CAP,
) -> Subscription:
    """Add a subscription for `owner` in `tx` and return it.

    `topic_or_query` is a topic id or a query (see the module docstring).
    `daily_at` (HH:MM, default 09:00) is only for mode "daily"; `remind`: days
    before a deadline (bot/brief/reminders.py `parse_remind`). Raises
    `SubscriptionError` with a sentence for the user when the query does not
    parse, the mode, time or zone is unknown, the owner already has this
    subscription, or already has `cap` subscriptions.
    """
    if not owner or not created_by:
        raise SubscriptionError("a subscription needs an owner and the user who creates it")
    planned = plan_subscription(
        tx.subscriptions.list(owner),
        owner=owner,
        topic_or_query=topic_or_query,
        topics=topics,
        mode=mode,
        daily_at=daily_at,
        timezone=timezone,
        remind=remind,
        cap=cap,
    )
    sub = replace(
        planned,
        id=new_subscription_id(tx.subscriptions.ids()),
        created_by=created_by,
        created_at=as_utc(now),
    )
    tx.subscriptions.put(sub)
    return sub


def plan_subscription(
    existing: list[Subscription],
    *,
    owner: str,
    topic_or_query: str,
    topics: Mapping[str, TopicConfig],
    mode: str = "immediate",
    daily_at: str | None = None,
    timezone: str = "UTC",
    remind: tuple[int, ...] = DEFAULT_REMIND,
    cap: int = DEFAULT_CAP,
) -> Subscription:
    """The subscription `create_subscription` would add next to `existing` (the owner's),
    without an id or creator yet; `SubscriptionError` (with its `field`) as it would raise.

    Writes nothing: a form checks its fields with it before Slack's 3-second ack.
    """
    text = topic_or_query.strip()
    if not text:
        raise SubscriptionError(
            "say what to subscribe to: a topic id (one of "
            f'{_topic_list(topics)}) or a query such as "export control" OR ECCN'
        )
    topic_id = _find_topic(text, topics)
    normalized = None
    if topic_id is None:
        try:
            normalized = str(parse_query(text).root)
        except QueryError as err:
            raise SubscriptionError(f"that query does not work: {err}") from None
    mode = _read_mode(mode)
    at = _read_daily_at(daily_at, mode)
    zone = read_timezone(timezone)
    _check_new(existing, owner, topic_id, normalized, cap)
    return Subscription(
        id="",
        owner=owner,
        created_by="",
        created_at=_EPOCH,
        topic=topic_id,
        query=None if topic_id is not None else text,
        mode=mode,
        daily_at=at,
        timezone=zone,
        remind=remind,
    )


def _check_new(
    mine: list[Subscription], owner: str, topic_id: str | None, normalized: str | None, cap: int
) -> None:
    """Refuse a subscription the owner already has, or one past the cap."""
    who = "this channel is" if owner[:1] in ("C", "G") else "you are"
    for sub in mine:
        if topic_id is not None and sub.topic == topic_id:
            raise SubscriptionError(f"{who} already subscribed to topic {topic_id} ({sub.id})")
        if normalized is not None and sub.query and _normalized(sub.query) == normalized:
            raise SubscriptionError(f"{who} already subscribed to the query {sub.query} ({sub.id})")
    if len(mine) >= cap:
        has = "this channel already has" if owner[:1] in ("C", "G") else "you already have"
        # The cap may have been lowered below what an owner already has.
        limit = "the limit" if len(mine) == cap else f"the limit is {cap}"
        raise SubscriptionError(
            f"{has} {len(mine)} subscriptions ({limit}); remove one with /brief unsubscribe <id>"
        )


def delete_subscription(
    tx: Transaction, subscription_id: str, *, by: str, is_admin: bool
) -> Subscription:
    """Remove a subscription and its queued alerts in `tx`; return what was removed.

    Its owner, the user who created it, or an admin may remove it; anyone else
    gets `SubscriptionPermissionError`. An unknown id is `SubscriptionNotFoundError`.
    """
    sub = _get_for_change(tx, subscription_id, by=by, is_admin=is_admin, verb="remove")
    tx.subscriptions.delete(sub.id)
    tx.alerts.discard_subscriptions([sub.id])
    return sub


def set_muted(
    tx: Transaction, subscription_id: str, muted: bool, *, by: str, is_admin: bool
) -> Subscription:
    """Mute or unmute a subscription in `tx` and return it as it is now.

    Muting drops its queued alerts too. Same permissions as `delete_subscription`.
    """
    verb = "mute" if muted else "unmute"
    sub = _get_for_change(tx, subscription_id, by=by, is_admin=is_admin, verb=verb)
    changed = replace(sub, muted=muted)
    tx.subscriptions.put(changed)
    if muted:
        tx.alerts.discard_subscriptions([sub.id])
    return changed


def set_remind(
    tx: Transaction, subscription_id: str, remind: tuple[int, ...], *, by: str, is_admin: bool
) -> Subscription:
    """Change when a subscription's owner is reminded of deadlines; () turns reminders off.

    Same permissions as `delete_subscription`. Reminders already sent stay sent.
    """
    sub = _get_for_change(tx, subscription_id, by=by, is_admin=is_admin, verb="change")
    changed = replace(sub, remind=remind)
    tx.subscriptions.put(changed)
    return changed


# --------------------------------------------------------------------------- helpers


def _get_for_change(
    tx: Transaction, subscription_id: str, *, by: str, is_admin: bool, verb: str
) -> Subscription:
    sub = get_subscription(tx.subscriptions, subscription_id)
    if sub is None:
        raise SubscriptionNotFoundError(
            f"there is no subscription {subscription_id.strip()!r}; "
            "/brief subscriptions lists yours with their ids"
        )
    if not (is_admin or by in (sub.owner, sub.created_by)):
        raise SubscriptionPermissionError(
            f"you cannot {verb} subscription {sub.id}: only its owner ({sub.owner}), "
            f"the person who created it ({sub.created_by}) or an admin can"
        )
    return sub


def _find_topic(text: str, topics: Mapping[str, TopicConfig]) -> str | None:
    if text in topics:
        return text
    folded = text.lower()
    return next((topic_id for topic_id in topics if topic_id.lower() == folded), None)


def _topic_list(topics: Mapping[str, TopicConfig]) -> str:
    return ", ".join(sorted(topics)) if topics else "none are defined"


def _normalized(query: str) -> str | None:
    try:
        return str(parse_query(query).root)
    except QueryError:
        return None


def _read_mode(mode: str) -> str:
    cleaned = mode.strip().lower()
    cleaned = _MODE_ALIASES.get(cleaned, cleaned)
    if cleaned not in DELIVERY_MODES:
        raise SubscriptionError(
            f"unknown delivery mode {mode!r}: use immediate, hourly or daily", "mode"
        )
    return cleaned


def _read_daily_at(daily_at: str | None, mode: str) -> str:
    if daily_at is None:
        return "09:00"
    if mode != "daily":
        raise SubscriptionError(
            f"a delivery time ({daily_at}) only applies to daily delivery: "
            f"choose daily, or leave the time out for {mode} delivery",
            "daily_at",
        )
    at = parse_daily_at(daily_at)
    if at is None:
        raise SubscriptionError(
            f"{daily_at!r} is not a time of day: use 24-hour HH:MM, such as 08:30", "daily_at"
        )
    return f"{at:%H:%M}"


def read_timezone(name: str) -> str:
    """The IANA zone `name` means ("asia/tokyo" is Asia/Tokyo); SubscriptionError if none."""
    cleaned = name.strip()
    try:
        zoneinfo.ZoneInfo(cleaned)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    else:
        return cleaned
    known = zoneinfo.available_timezones()
    # "asia/tokyo" is clear enough: store the canonical spelling.
    canonical = {zone.lower(): zone for zone in known}.get(cleaned.lower())
    if canonical is not None:
        return canonical
    close = difflib.get_close_matches(cleaned, sorted(known), n=1, cutoff=0.6)
    hint = close[0] if close else None
    tail = f" (did you mean {hint}?)" if hint else ""
    raise SubscriptionError(
        f"unknown time zone {name!r}{tail}: use an IANA name such as Asia/Tokyo or "
        "America/New_York",
        "timezone",
    )
