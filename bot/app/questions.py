"""Questions in plain words, from every surface: `/brief ask`, a `/brief` line that is no
sub-command, a DM to the bot, Slack's assistant panel and `briefbot console`.

`answer_question(runtime, text, ...)` reads the question (`bot.brief.ask`),
hands the answering stage the stored items of the period and of the one
before it, and, when a language model is configured (`Runtime.summarizer`),
adds its summary of the cited items. `handle_question` is the
`QuestionHandler` the Slack app is given for DMs and the assistant panel;
`use_language_model` sets the summarizer from BRIEFBOT_LLM_* (bot.llm).

Not obvious:
- Which items: those first seen since the previous period's start (the run
  of newest seqs, `first_seq_since`), at most `MAX_SCAN`; an item published
  in the window but first seen before it cannot exist unless a feed dated it
  in the future. On a subject the search index names the window's items on
  it and only those are read (`question_items`): after a 1,000-feed first
  poll put 70,000 items in the window, reading all of them cost each
  question seconds of CPU, under the GIL the acks and other replies need.
  Without a subject, or where the index cannot say, every item is read.
- The asker's time zone: the surface's (when Slack gives one), else the zone
  of the asker's first subscription, else UTC; the answer names it.
- Which items match the subject and each topic: the search index says
  (`SearchEngine.matching`, exact), so the cost follows the matches, not the
  window; while the index is still being built the stage matches each item.
- Many workspaces: only the asking workspace's feeds are counted and cited
  (`QuestionRequest.team_id`, bot/app/workspaces.py).
- A summary that fails, times out or comes back unusable is left out: the
  extractive answer is sent as it is (`bot.llm` says why in the log).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from bot.app.runtime import Runtime
from bot.app.workspaces import scope_of
from bot.brief.ask import Answer, Question, build_answer, understand
from bot.brief.ask.answer import compile_topics
from bot.find.query.matcher import Query
from bot.llm import Summarizer
from bot.models import Item, QuestionRequest, SlackMessage, as_utc
from bot.store.ports import Store

__all__ = [
    "MAX_SCAN",
    "answer_messages",
    "answer_question",
    "handle_question",
    "question_items",
    "use_language_model",
    "window_items",
]

log = logging.getLogger(__name__)

# Items looked at per question, newest first (a 100,000-item store is read whole).
MAX_SCAN = 200_000
# How long a question waits for the search index to catch up; after that the
# answering stage matches the items itself (slower, same counts).
INDEX_WAIT = 2.0


def use_language_model(runtime: Runtime) -> None:
    """Answers gain a summary when BRIEFBOT_LLM_URL and _MODEL are set (`briefbot run`, console)."""
    llm = runtime.config.llm
    runtime.summarizer = Summarizer(llm) if llm is not None else None
    if llm is not None:
        log.info("answers to questions are summarized by %s at %r", llm.model, llm)


def window_items(
    store: Store, since: datetime, *, limit: int = MAX_SCAN, feeds: Collection[str] | None = None
) -> tuple[list[Item], bool]:
    """The stored items first seen at `since` or later, newest first, of `feeds` (None: all);
    True if the walk was cut at `limit` items."""
    since = as_utc(since)
    found: list[Item] = []
    walked = 0
    for item in store.items.newest_first(limit):
        walked += 1
        if item.first_seen is None or as_utc(item.first_seen) < since:
            return found, False
        if feeds is None or item.feed_id in feeds:
            found.append(item)
    return found, walked >= limit


def question_items(
    runtime: Runtime, question: Question, *, feeds: Collection[str] | None = None
) -> tuple[list[Item], bool]:
    """What `build_answer` needs of the window (see `window_items`): on a subject, only the
    items on it, found by the search index and then read; True if the window was cut.

    Without a subject, or where the index cannot say (the PostgreSQL backend, an
    index still being built), every item of the window is read.
    """
    subject = question.subject.queries(compile_topics(runtime.config.topics))
    found = _on_subject(runtime, question, subject) if subject else None
    if found is None:
        return window_items(runtime.store, question.previous.start, feeds=feeds)
    items, cut = found
    if feeds is not None:
        items = [item for item in items if item.feed_id in feeds]
    return items, cut


def _on_subject(
    runtime: Runtime, question: Question, subject: list[Query]
) -> tuple[list[Item], bool] | None:
    """The window's items matching one of `subject`, newest first; None: the index cannot say."""
    store, index, now = runtime.store, runtime.search_index, question.period.end
    first = store.items.first_seq_since(question.previous.start)
    if first is None:
        return [], False
    last = store.items.last_seq
    window = range(max(first, last - MAX_SCAN + 1), last + 1)
    on: set[int] = set()
    for query in subject:
        matched = index.matching(query, window, now=now, wait=INDEX_WAIT)
        if matched is None:
            return None
        on.update(matched)
    return store.items.by_seq(sorted(on, reverse=True)), last - first + 1 > MAX_SCAN


def asker_zone(runtime: Runtime, user_id: str) -> str | None:
    """The time zone of the asker's first subscription, if any."""
    if not user_id:
        return None
    for subscription in runtime.store.subscriptions.list(owner=user_id):
        return subscription.timezone
    return None


def answer_question(
    runtime: Runtime,
    text: str,
    *,
    user_id: str = "",
    zone_name: str | None = None,
    feeds: Collection[str] | None = None,
) -> Answer:
    """The answer to `text` from what the store holds of `feeds` (None: every feed; many
    workspaces: the asker's workspace's), with a summary if a model is set."""
    zone = zone_name or asker_zone(runtime, user_id)
    config = runtime.config
    question = understand(text, now=runtime.clock(), topics=config.topics, zone_name=zone)
    index, now = runtime.search_index, question.period.end
    items, cut = question_items(runtime, question, feeds=feeds)

    def matching(query: Query, seqs: Collection[int]) -> set[int] | None:
        return index.matching(query, seqs, now=now, wait=INDEX_WAIT)

    answer = build_answer(
        question,
        items,
        topics=config.topics,
        feed_tags=runtime.feed_tags(),
        feed_names=runtime.feed_names(),
        matching=matching,
    )
    if cut:
        note = f"Only the newest {MAX_SCAN:,} stored items were counted."
        answer = replace(answer, notes=(*answer.notes, note))
    summarizer = runtime.summarizer
    if summarizer is not None and answer.cited:
        summary = summarizer(answer)
        if summary:
            answer = replace(answer, summary=summary)
    return answer


def answer_messages(
    runtime: Runtime,
    text: str,
    *,
    user_id: str = "",
    zone_name: str | None = None,
    feeds: Collection[str] | None = None,
) -> list[SlackMessage]:
    """`answer_question` rendered as Slack messages."""
    answer = answer_question(runtime, text, user_id=user_id, zone_name=zone_name, feeds=feeds)
    return runtime.renderer.render_answer(answer)


def handle_question(runtime: Runtime, request: QuestionRequest) -> list[SlackMessage]:
    """The reply to a DM or an assistant-panel question; never raises."""
    text = " ".join(request.text.split())
    if not text:
        return runtime.notice(
            "Ask me about what the bot has read, in plain words: "
            "What did BIS publish this week? Entity List additions this month by country?"
        )
    try:
        feeds = scope_of(runtime, request).feeds  # many workspaces: the asker's feeds only
        return answer_messages(
            runtime, text, user_id=request.user_id, zone_name=request.timezone, feeds=feeds
        )
    except Exception:
        ref = secrets.token_hex(3).upper()
        log.exception(
            "a question (%s) from %s failed (ref %s)", request.surface, request.user_id, ref
        )
        return runtime.notice(
            f"Something went wrong on our side (ref {ref}); the error is in the bot's log."
        )
