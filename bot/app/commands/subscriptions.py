"""`/brief subscribe`, `subscriptions`, `unsubscribe`, `mute` and `unmute`: alerts on new items.

A member subscribes themselves (alerts by direct message); an admin may also
subscribe a channel picked in Slack (`subscribe #channel ...`) and list
everyone's subscriptions. Delivery options are read from the END of the line
while they look like options (`chips daily 08:00 tz:Asia/Tokyo remind:7,1`), so
a query may contain such words too. A subscription without `tz:` takes the
caller's Slack time zone when the Poster can tell it (batched delivery and
deadline reminders go by it), else UTC. `remind:` sets the days before a
Federal Register deadline its owner is reminded (default 7 and 1; `off`);
`/brief remind <id> <days|off>` changes it later.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.app.commands.session import CommandError, Session, one_id, sentence
from bot.app.commands.words import CHANNEL_ID, TIME_OF_DAY, Word, channel_of, joined, user_of
from bot.brief.reminders import DEFAULT_REMIND, RemindError, describe_remind, parse_remind
from bot.brief.subscriptions import (
    SubscriptionError,
    create_subscription,
    delete_subscription,
    set_muted,
    set_remind,
)
from bot.deliver.ports import DeliveryError
from bot.models import SlackMessage, Subscription

__all__ = ["mute", "remind", "subscribe", "subscriptions", "unmute", "unsubscribe"]

_MODES = {
    "immediate": "immediate",
    "immediately": "immediate",
    "hourly": "hourly",
    "daily": "daily",
}


def subscribe(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief subscribe [#channel] <topic or query> [hourly|daily [HH:MM]] [tz:..] [remind:..]`."""
    if not args:
        raise CommandError(
            "say what to subscribe to: a topic id (/brief topics) or a query", "subscribe"
        )
    request = session.request
    owner, where = request.user_id, "by direct message"
    channel = channel_of(args[0])
    by_name = channel is None and args[0].text.startswith("#") and len(args[0].text) > 1
    if channel is not None or by_name:
        session.require_admin("subscribe a channel")  # before Slack is asked for a name
        if channel is None:
            channel = _channel_named(session, args[0].text)
        owner, where = channel, f"in {args[0].text}"
        args = args[1:]
    words, mode, daily_at, zone, days = _read_delivery_options(args)
    if not words:
        raise CommandError("say what to subscribe to after the options", "subscribe")
    if zone is None:
        zone = "UTC"
        if mode != "immediate" or days:
            poster = session.poster
            zone = (poster and poster.user_timezone(request.user_id)) or "UTC"
    try:
        with session.store.transaction() as tx:
            sub = create_subscription(
                tx,
                owner=owner,
                created_by=request.user_id,
                topic_or_query=joined(words),
                topics=session.runtime.topics(),
                mode=mode,
                daily_at=daily_at,
                timezone=zone,
                remind=days,
                now=session.now(),
            )
    except SubscriptionError as err:
        raise CommandError(sentence(str(err)), "subscribe") from None
    return session.notice(
        f"Subscribed to {sub.label} (id {sub.id}): alerts {where} {_delivery(sub)}; "
        f"{describe_remind(sub.remind)}.\n"
        f"/brief mute {sub.id} pauses them, /brief unsubscribe {sub.id} stops them."
    )


def subscriptions(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief subscriptions [all|@user]`: the caller's and this channel's, or others' (admins)."""
    stored = session.store.subscriptions
    if not args:
        return _mine_and_this_channels(session)
    if len(args) == 1 and args[0].text.lower() == "all":
        session.require_admin("list everyone's subscriptions")
        every = stored.list()
        if not every:
            return session.notice("Nobody has subscribed to anything yet.")
        return session.notice(_subscription_list("All subscriptions", every, owners=True))
    user = user_of(args[0]) if len(args) == 1 else None
    if user is not None:
        session.require_admin("list someone else's subscriptions")
        theirs = stored.list(owner=user)
        if not theirs:
            return session.notice(f"{args[0].text} has no subscriptions.")
        return session.notice(_subscription_list(f"Subscriptions of {args[0].text}", theirs))
    raise CommandError(f"unknown option {joined(args)!r}", "subscriptions")


def _mine_and_this_channels(session: Session) -> list[SlackMessage]:
    stored = session.store.subscriptions
    mine = stored.list(owner=session.request.user_id)
    parts = [
        _subscription_list("Your subscriptions", mine)
        if mine
        else "You have no subscriptions. " + _subscribe_example(session)
    ]
    channel = session.request.channel_id
    if CHANNEL_ID.fullmatch(channel):
        here = stored.list(owner=channel)
        if here:
            parts.append(_subscription_list("This channel's subscriptions", here))
    return session.notice(*parts)


def _subscribe_example(session: Session) -> str:
    topics = session.runtime.config.topics
    example = topics[0].id if topics else '"entity list"'
    return f"Try /brief subscribe {example}."


def unsubscribe(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief unsubscribe <id>`: by its owner or an admin."""
    sub_id = one_id(args, "unsubscribe", "a subscription id")
    try:
        with session.store.transaction() as tx:
            sub = delete_subscription(
                tx, sub_id, by=session.request.user_id, is_admin=session.is_admin
            )
    except SubscriptionError as err:
        raise CommandError(sentence(str(err)), "unsubscribe") from None
    return session.notice(f"Unsubscribed {sub.id} ({sub.label}): no more alerts from it.")


def mute(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief mute <id>`: no alerts from it until unmuted."""
    return _set_muted(session, args, muted=True)


def unmute(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief unmute <id>`: alerts resume with new items."""
    return _set_muted(session, args, muted=False)


def _set_muted(session: Session, args: list[Word], *, muted: bool) -> list[SlackMessage]:
    verb = "mute" if muted else "unmute"
    sub_id = one_id(args, verb, "a subscription id")
    try:
        with session.store.transaction() as tx:
            sub = set_muted(
                tx, sub_id, muted, by=session.request.user_id, is_admin=session.is_admin
            )
    except SubscriptionError as err:
        raise CommandError(sentence(str(err)), verb) from None
    if muted:
        return session.notice(
            f"Muted {sub.id} ({sub.label}): no alerts until /brief unmute {sub.id}."
        )
    return session.notice(f"Unmuted {sub.id} ({sub.label}): alerts resume with new items.")


def remind(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief remind <id> <days|off>`: when a subscription's owner is reminded of deadlines."""
    if len(args) != 2:
        raise CommandError("say which subscription and when: /brief remind s7k2q 7,1", "remind")
    text = args[1].text.removeprefix("remind:")
    try:
        days = parse_remind(text)
        with session.store.transaction() as tx:
            sub = set_remind(
                tx, args[0].text, days, by=session.request.user_id, is_admin=session.is_admin
            )
    except (SubscriptionError, RemindError) as err:
        raise CommandError(sentence(str(err)), "remind") from None
    return session.notice(f"Subscription {sub.id} ({sub.label}): {describe_remind(sub.remind)}.")


def _channel_named(session: Session, name: str) -> str:
    """The id of the one channel a plain `#name` can mean; CommandError otherwise."""
    poster = session.poster
    if poster is None:  # the console: no Slack to ask
        raise CommandError(
            f"{name} is a channel name; give its id (channel details → About: Channel ID), "
            "such as C0123456789",
            "subscribe",
        )
    try:
        found = poster.channels_named(name)
    except DeliveryError as err:
        raise CommandError(
            f"cannot look up {name}: {err}. Pick the channel from the list Slack offers "
            "as you type #, or give its id",
            "subscribe",
        ) from None
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError(
            f"No channel named {name} that the bot can see: check the name; for a private "
            "channel, /invite @briefbot there first",
            "subscribe",
        )
    listed = ", ".join(found)
    raise CommandError(
        f"{len(found)} channels are named {name} ({listed}): pick one from the list "
        "Slack offers as you type #, or give its id",
        "subscribe",
    )


def _read_delivery_options(
    args: Sequence[Word],
) -> tuple[list[Word], str, str | None, str | None, tuple[int, ...]]:
    """(query words, mode, daily time, zone, reminder days) from trailing options of subscribe.

    Options are read from the end while they look like options, keeping at
    least one word for the query: `chips daily 08:00 tz:Asia/Tokyo remind:3,1`.
    """
    words = list(args)
    mode: str | None = None
    daily_at: str | None = None
    zone: str | None = None
    days: tuple[int, ...] | None = None
    while len(words) > 1:
        text = words[-1].text
        lowered = text.lower()
        if lowered.startswith("tz:") and zone is None and len(text) > 3:
            zone = text[3:]
        elif lowered.startswith("remind:") and days is None:
            try:
                days = parse_remind(text[7:])
            except RemindError as err:
                raise CommandError(sentence(str(err)), "subscribe") from None
        elif lowered in _MODES and mode is None:
            mode = _MODES[lowered]
        elif TIME_OF_DAY.fullmatch(text) and daily_at is None and mode is None:
            daily_at = text
        else:
            break
        words.pop()
    return words, mode or "immediate", daily_at, zone, DEFAULT_REMIND if days is None else days


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
        reminders = describe_remind(sub.remind)
        lines.append(f"• {sub.id}: {sub.label} · {_delivery(sub)} · {reminders}{owner}{muted}")
    return "\n".join(lines)
