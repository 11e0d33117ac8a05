"""`/brief <question>`, `/brief search <query>` and `/brief latest`: reading what the bot has seen.

`/brief latest` lists backlog items too (a feed's first poll, marked "already
published when the bot started"): on day one they are all there is. When it
has nothing to list it says so, rather than giving search's advice.

A line whose first word is no sub-command is a question for search
(`/brief what's new on IPEF`), so `search QUERY` exists for questions that
start with a sub-command's name. A question that finds nothing and starts
with a near-miss of a sub-command's name suggests it ("Did you mean /brief
subscribe?"). A query that does not parse is answered with the error and the
query with a marker where it went wrong.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.app.commands.session import CommandError, Session
from bot.app.commands.words import Word, joined
from bot.find.query.syntax import QueryError
from bot.find.search.results import MAX_LIMIT, SearchHit, SearchResults
from bot.models import Item, SlackMessage
from bot.render.blocks import pack_messages

__all__ = ["LATEST_DEFAULT", "LATEST_MAX", "SEARCH_LIMIT", "latest", "question", "search"]

LATEST_DEFAULT = 10
# `/brief latest others`: what a channel's digest lists as "Other new items".
OTHERS_WORDS = ("others", "other")
LATEST_MAX = 50
SEARCH_LIMIT = 10


@dataclass(frozen=True, slots=True)
class _ItemHit:
    """An item shown by `render_search` without a search (latest from a feed)."""

    item: Item
    snippet: str
    spans: tuple[tuple[int, int], ...] = ()
    also_in: tuple[str, ...] = ()


def question(session: Session, args: list[Word], *, verbs: Collection[str]) -> list[SlackMessage]:
    """Any line that names no sub-command: the whole line is searched.

    `verbs` are the sub-commands' names: when nothing is found, the closest
    one to the first word is suggested.
    """
    return _answer(session, joined(args), verb=None, first=args[0].text.lower(), verbs=verbs)


def search(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief search <query>`: search, for a question that starts like a sub-command."""
    if not args:
        raise CommandError("say what to search for", "search")
    return _answer(session, joined(args), verb="search")


def _answer(
    session: Session,
    text: str,
    *,
    verb: str | None,
    first: str | None = None,
    verbs: Iterable[str] = (),
) -> list[SlackMessage]:
    results = _run_search(session, text, limit=SEARCH_LIMIT, verb=verb)
    messages = session.runtime.renderer.render_search(text, results.hits, results.total)
    extra = []
    if not results.complete:
        extra.append("The search index is still being built: results may be missing.")
    if results.total == 0 and first is not None:
        close = difflib.get_close_matches(first, list(verbs), n=1, cutoff=0.75)
        if close:
            extra.append(f"Did you mean /brief {close[0]}? /brief help lists the commands.")
    if extra:
        messages = pack_messages(messages + session.notice(*extra))
    return messages


def latest(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief latest [topic|feed|query] [n]`: the newest items, newest first."""
    count = LATEST_DEFAULT
    if args and re.fullmatch(r"[0-9]+", args[-1].text):
        count = int(args[-1].text)
        args = args[:-1]
        if not 1 <= count <= LATEST_MAX:
            raise CommandError(f"n must be between 1 and {LATEST_MAX}", "latest")
    config = session.runtime.config
    what = joined(args)
    topic = _find_id(what, [t.id for t in config.topics])
    visible = session.feeds
    feed = _find_id(what, [f.id for f in config.feeds if visible is None or f.id in visible])
    if not what or (feed is not None and topic is None):
        return _latest_stored(session, feed, count)
    if topic is None and what.strip().lower() in OTHERS_WORDS:
        return _latest_others(session, count)
    # A topic or a query: search ranks by relevance (with a recency boost), so
    # take its best MAX_LIMIT and show the newest of those.
    if topic is not None:
        query = next(t.query for t in config.topics if t.id == topic)
        label = f"latest on {topic}"
    else:
        query, label = what, f"latest: {what}"
    results = _run_search(session, query, limit=MAX_LIMIT, verb="latest")
    newest: list[SearchHit] = sorted(results.hits, key=lambda h: h.item.when, reverse=True)
    return session.runtime.renderer.render_search(label, newest[:count], results.total)


def _latest_stored(session: Session, feed: str | None, count: int) -> list[SlackMessage]:
    """The newest `count` items stored, of one feed or of all: no search needed."""
    runtime = session.runtime
    label = "latest"
    ids: Collection[str] | None = session.feeds  # many workspaces: the caller's feeds only
    if feed is not None:
        label, ids = f"latest from {runtime.feed_names()[feed]}", [feed]
    items = runtime.latest(feed_ids=ids, limit=count)
    if not items:
        # Not a search that found nothing: "try fewer words" would mislead.
        source = "" if feed is None else f" from {runtime.feed_names()[feed]}"
        return session.notice(
            f"No items stored{source} yet: /brief status shows when each feed was last read."
        )
    hits = [_ItemHit(item, item.summary) for item in items]
    return runtime.renderer.render_search(label, hits, len(hits))


def _latest_others(session: Session, count: int) -> list[SlackMessage]:
    """The newest items matching none of this channel's digest topics (its "Other new items")."""
    runtime = session.runtime
    items = runtime.latest_others(session.request.channel_id, limit=count, feed_ids=session.feeds)
    if not items:
        return session.notice("No stored item is outside this channel's digest topics.")
    hits = [_ItemHit(item, item.summary) for item in items]
    return runtime.renderer.render_search("latest matching no topic", hits, len(hits))


def _run_search(session: Session, text: str, *, limit: int, verb: str | None) -> SearchResults:
    """The runtime's search, a query that does not parse made a `CommandError` for `verb`."""
    try:
        return session.runtime.search(text, limit=limit, feeds=session.feeds)
    except QueryError as err:
        raise CommandError(f"query error: {err}", verb, detail=_marked(text, err.column)) from None


def _find_id(text: str, ids: Iterable[str]) -> str | None:
    folded = text.strip().lower()
    return next((i for i in ids if i.lower() == folded), None) if folded else None


def _marked(text: str, column: int | None) -> str:
    """`text` as inline code with a marker before the 1-based `column`.

    A backtick in the text would end the code span early, so it becomes ' (as
    render.code does); one character for one, so the column still holds.
    """
    text = text.replace("`", "'")
    if column is None or not 1 <= column <= len(text) + 1:
        return f"`{text}`"
    return f"`{text[: column - 1]}▶{text[column - 1 :]}`"
