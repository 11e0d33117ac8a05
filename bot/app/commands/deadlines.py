"""`/brief deadlines [topic|query] [days]`: comment periods closing and rules taking effect.

Soonest first, from today (UTC) to `days` ahead (default 30, at most 365):
the deadlines (bot/brief/deadlines.py `upcoming`) of the Federal Register
documents the enrichment watches, on a topic (its id) or a query when one
is given. A trailing number is the days ("30" or "30d"); the rest is the
topic or query, matched as `/brief latest` matches one.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app.commands.session import CommandError, Session
from bot.app.commands.words import Word, joined
from bot.app.fedreg import deadline_items
from bot.brief.deadlines import upcoming
from bot.find.query.document import prepare_doc
from bot.find.query.matcher import QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import Item, SlackMessage

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "MAX_LISTED", "deadlines"]

DEFAULT_DAYS = 30
MAX_DAYS = 365
#: Deadlines listed in one reply; the rest are counted.
MAX_LISTED = 25
_DAYS = re.compile(r"([0-9]{1,4})d?", re.IGNORECASE)


def deadlines(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief deadlines [topic|query] [days]`."""
    days = DEFAULT_DAYS
    if args and (given := _DAYS.fullmatch(args[-1].text)):
        days = int(given.group(1))
        args = args[:-1]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"days must be between 1 and {MAX_DAYS}", "deadlines")
    runtime = session.runtime
    what = joined(args).strip()
    items = list(session.scope.items(deadline_items(runtime.store)))  # the caller's feeds
    if what:
        items = _matching(session, what, items)
    today = session.now().date()
    found = upcoming(items, today, today + timedelta(days=days))
    listed = [(d.kind, d.on, d.item) for d in found[:MAX_LISTED]]
    return runtime.renderer.render_deadlines(what, days, listed, more=len(found) - len(listed))


def _matching(session: Session, what: str, items: list[Item]) -> list[Item]:
    """The items on topic `what` (an id) or matching the query `what`."""
    runtime = session.runtime
    topics = runtime.topics()
    text = topics[what.lower()].query if what.lower() in topics else what
    try:
        query = parse_query(text)
    except QueryError as err:
        raise CommandError(f"query error: {err}", "deadlines") from None
    matcher: QueryMatcher[int] = QueryMatcher([(0, query)])
    tags = runtime.feed_tags()
    now = session.now()
    return [
        item
        for item in items
        if matcher.match(prepare_doc(item, feed_tags=tags.get(item.feed_id, ())), now=now)
    ]
