"""What each button does: mute, unmute, remove, more like this, subscribe to a topic, show all.

Each function takes the `Surfaces` session's parts (runtime, who pressed,
admin or not) and the button's value, and returns an `ActionReply`. The rules
are the `/brief` commands' (`bot.brief.subscriptions`, `handle_command`):
nothing here decides who may do what.

Not obvious:
- Pressed twice, a button does its thing once: muting a muted subscription
  leaves it muted and says so; removing a removed one (or pressing a button on
  an old message whose subscription is gone) answers politely that it no
  longer exists. The Slack layer also drops a double click (bot/slack/surfaces.py).
- Everything is the presser's workspace's (bot/app/workspaces.py): a button
  naming another workspace's subscription or item finds nothing.
- "Show all N" runs the `/brief latest ...` line the digest wrote into the
  button, and nothing but a `latest` line: a button value is data, never a
  command chosen by whoever crafted a payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.app.surfaces.home import build_home, delivery_words
from bot.app.workspaces import Scope, scope_of
from bot.brief.subscriptions import (
    SubscriptionError,
    SubscriptionNotFoundError,
    create_subscription,
    delete_subscription,
    get_subscription,
    set_muted,
)
from bot.deliver.ports import Poster
from bot.find.query.syntax import QueryError
from bot.models import CommandRequest
from bot.surfaces import ActionReply, ActionRequest

__all__ = ["Pressed", "more_like_this", "remove", "set_mute", "show_all", "subscribe_topic"]

MORE_LIKE_THIS = 5
_TITLE_WORDS = 12


@dataclass(frozen=True)
class Pressed:
    """One button press being answered: the runtime, the request, the caller's rights."""

    runtime: Runtime
    request: ActionRequest
    is_admin: bool
    poster: Poster | None = None

    @property
    def scope(self) -> Scope:
        """What the presser's workspace sees (bot/app/workspaces.py)."""
        return scope_of(self.runtime, self.request)

    def reply(self, text: str, *, home: bool = True) -> ActionReply:
        """`text` to the presser (beside the message, or at the top of their Home tab)."""
        rebuilt = (
            build_home(
                self.runtime,
                self.scope,
                self.request.user_id,
                is_admin=self.is_admin,
                notice=text,
            )
            if home
            else None
        )
        if self.request.surface == "message":
            return ActionReply(messages=tuple(self.runtime.notice(text)), home=rebuilt)
        return ActionReply(home=rebuilt)


def _gone(sub_id: str) -> str:
    return (
        f"Subscription {sub_id} no longer exists: it was removed, so there is nothing "
        "to change. /brief subscriptions lists yours."
    )


def set_mute(pressed: Pressed, *, muted: bool) -> ActionReply:
    """Mute or unmute the subscription the button names (its value)."""
    sub_id = pressed.request.value
    store = pressed.scope.store
    before = get_subscription(store.subscriptions, sub_id)
    if before is None:
        return pressed.reply(_gone(sub_id))
    if before.muted == muted:
        state = "muted" if muted else "not muted"
        return pressed.reply(f"Subscription {before.id} ({before.label}) is already {state}.")
    try:
        with store.transaction() as tx:
            sub = set_muted(
                tx, sub_id, muted, by=pressed.request.user_id, is_admin=pressed.is_admin
            )
    except SubscriptionNotFoundError:
        return pressed.reply(_gone(sub_id))
    except SubscriptionError as err:
        return pressed.reply(_sentence(str(err)), home=False)
    if muted:
        return pressed.reply(
            f"Muted {sub.id} ({sub.label}): no alerts until you unmute it "
            f"(Home tab, or /brief unmute {sub.id})."
        )
    return pressed.reply(f"Unmuted {sub.id} ({sub.label}): alerts resume with new items.")


def remove(pressed: Pressed) -> ActionReply:
    """Remove the subscription the button names."""
    sub_id = pressed.request.value
    try:
        with pressed.scope.store.transaction() as tx:
            sub = delete_subscription(
                tx, sub_id, by=pressed.request.user_id, is_admin=pressed.is_admin
            )
    except SubscriptionNotFoundError:
        return pressed.reply(_gone(sub_id))
    except SubscriptionError as err:
        return pressed.reply(_sentence(str(err)), home=False)
    return pressed.reply(f"Removed {sub.id} ({sub.label}): no more alerts from it.")


def subscribe_topic(pressed: Pressed) -> ActionReply:
    """Subscribe the presser (alerts by direct message) to the digest section's topic."""
    runtime, request = pressed.runtime, pressed.request
    topic = runtime.topics().get(request.value)
    if topic is None:
        return pressed.reply(
            f"The topic {request.value} no longer exists: /brief topics lists them.", home=False
        )
    try:
        with pressed.scope.store.transaction() as tx:
            sub = create_subscription(
                tx,
                owner=request.user_id,
                created_by=request.user_id,
                topic_or_query=topic.id,
                topics=runtime.topics(),
                now=runtime.clock(),
            )
    except SubscriptionError as err:  # already subscribed (pressed twice), or the cap
        return pressed.reply(_sentence(str(err)) + ".")
    return pressed.reply(
        f"Subscribed to {sub.label} (id {sub.id}): alerts by direct message "
        f"{delivery_words(sub)}. Your Home tab lists it with a Mute button."
    )


def more_like_this(pressed: Pressed) -> ActionReply:
    """An ephemeral search for items like the one beside the button (its seq)."""
    runtime, scope = pressed.runtime, pressed.scope
    value = pressed.request.value
    found = runtime.store.items.by_seq([int(value)]) if value.isdigit() else []
    if not found or not scope.sees(found[0]):
        return pressed.reply("That item is no longer stored (older items are pruned).", home=False)
    item = found[0]
    words = " ".join(item.title.split()[:_TITLE_WORDS])
    # Any of the title's longer words: the item itself matches them all.
    keys = list(dict.fromkeys(w.lower() for w in re.findall(r"\w{4,}", words)))
    if not keys:
        return pressed.reply("No similar items found.", home=False)
    try:
        results = runtime.search(" OR ".join(keys), limit=MORE_LIKE_THIS + 1, feeds=scope.feeds)
    except QueryError:
        return pressed.reply("No similar items found.", home=False)
    hits = [hit for hit in results.hits if hit.item.seq != item.seq][:MORE_LIKE_THIS]
    if not hits:
        return pressed.reply("No similar items found.", home=False)
    label = f"more like: {words}"
    messages = runtime.renderer.render_search(label, hits, len(hits))
    return ActionReply(messages=tuple(messages))


def show_all(pressed: Pressed) -> ActionReply:
    """Run the `/brief latest ...` line of a digest's "Show all N" button, for the presser."""
    request = pressed.request
    line = " ".join(request.value.split())
    if line.split(" ", 1)[0].lower() != "latest":
        return pressed.reply("This button does not work any more.", home=False)
    reply = handle_command(
        pressed.runtime,
        CommandRequest(
            user_id=request.user_id,
            channel_id=request.channel_id,
            text=line,
            user_name=request.user_name,
            team_id=request.team_id,
            enterprise_id=request.enterprise_id,
        ),
        poster=pressed.poster,
    )
    return ActionReply(messages=tuple(reply.messages))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
