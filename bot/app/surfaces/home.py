"""A person's Home tab: gathered from the store (`home_data`), rendered by home.j2.

What it holds: the person's subscriptions (the first `MAX_SUBSCRIPTIONS`),
the newest `MAX_ITEMS` items of the last `PERIOD` on any of them (muted ones
too: muting stops alerts, not reading), the next `MAX_DEADLINES` comment
deadlines and effective dates of the Federal Register documents stored
(`bot.brief.home.upcoming_deadlines`), and the feeds' health in one line
(which feeds fail, and why, for admins).

Not obvious:
- Cost: the walk over items is the newest `SCAN` at most (the store reads
  newest first), so a Home tab costs the same on a store of 100,000 items as
  on one of 10,000. A subscription whose topic was removed or whose stored
  query no longer parses still shows; it just matches nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.app.runtime import Runtime
from bot.app.workspaces import Scope, feed_rows
from bot.brief.home import recent_matches, upcoming_deadlines
from bot.find.query.matcher import Query
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import Subscription
from bot.render.inputs import HomeData, HomeDeadline
from bot.surfaces import SlackView

__all__ = [
    "MAX_DEADLINES",
    "MAX_ITEMS",
    "MAX_SUBSCRIPTIONS",
    "PERIOD",
    "SCAN",
    "build_home",
]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 15  # two blocks each: the line and its buttons
MAX_ITEMS = 10
MAX_DEADLINES = 5
PERIOD = timedelta(days=7)
SCAN = 5000


def build_home(
    runtime: Runtime, scope: Scope, user_id: str, *, is_admin: bool, notice: str = ""
) -> SlackView:
    """The Home tab of `user_id` in `scope`'s workspace; `notice`: what the last button did."""
    data = home_data(runtime, scope, user_id, is_admin=is_admin, notice=notice)
    return SlackView(blocks=runtime.renderer.render_home(data), kind="home")


def home_data(
    runtime: Runtime, scope: Scope, user_id: str, *, is_admin: bool, notice: str = ""
) -> HomeData:
    """What the Home tab of `user_id` shows, read from the store now: the subscriptions,
    items and feeds of `scope`'s workspace only."""
    subs = scope.store.subscriptions.list(owner=user_id)
    now = runtime.clock()
    queries = [q for q in (_query(runtime, sub) for sub in subs) if q is not None]
    items = recent_matches(
        scope.items(runtime.store.items.newest_first(SCAN)),
        queries,
        since=now - PERIOD,
        now=now,
        limit=MAX_ITEMS,
        feed_tags=runtime.feed_tags(),
    )
    deadlines = [
        HomeDeadline(d.on, d.kind, d.item, d.facts.citation)
        for d in upcoming_deadlines(
            scope.items(runtime.store.items.newest_first(SCAN)),
            today=now.date(),
            limit=MAX_DEADLINES,
        )
    ]
    return HomeData(
        subscriptions=[(sub, delivery_words(sub)) for sub in subs[:MAX_SUBSCRIPTIONS]],
        more_subscriptions=max(len(subs) - MAX_SUBSCRIPTIONS, 0),
        items=items,
        deadlines=deadlines,
        feeds=feed_rows(runtime, scope),
        is_admin=is_admin,
        notice=notice,
    )


def delivery_words(sub: Subscription) -> str:
    """How a subscription is delivered, as the Home tab and replies say it."""
    if sub.mode == "hourly":
        return "at most once an hour"
    if sub.mode == "daily":
        return f"daily at {sub.daily_at} ({sub.timezone})"
    return "as soon as new items match"


def _query(runtime: Runtime, sub: Subscription) -> Query | None:
    text = sub.query
    if sub.topic:
        topic = runtime.topics().get(sub.topic)
        text = topic.query if topic is not None else None
    if not text:
        return None
    try:
        return parse_query(text)
    except QueryError:
        log.info("subscription %s: its query no longer parses; not on the Home tab", sub.id)
        return None
