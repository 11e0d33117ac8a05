"""What templates get: each template's variables, with items as templates see them.

Feed strings (titles, summaries, feed and topic names, errors) are cleaned and
shortened at a word boundary here, before a template sees them. Feed ids are
shown by the names the renderer is given (an unknown feed by its id).

An Entity List item's line is worded here from its stored facts
(`EntityListFacts.summary`), so items stored before a wording change read the
same as new ones; stored facts that do not read back fall back to the line
stored with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

from bot.brief.digest import LATEST_SECTION_ID
from bot.daynames import WEEKDAYS_SHORT
from bot.ingest.entitylist import EntityListFacts
from bot.ingest.fedreg.facts import short_date
from bot.ingest.screening.entities import RuleEntities
from bot.ingest.text import truncate_words
from bot.models import DigestSection, DigestView, FeedState, Item
from bot.render.fedreg import fedreg_line
from bot.render.inputs import FeedStatusRow, HomeData, SearchHitLike
from bot.render.mrkdwn import ELLIPSIS, clean_feed_text, highlight, mark_trusted, safe_url

__all__ = [
    "CommandView",
    "DeadlineView",
    "FeedRowView",
    "HitView",
    "ItemView",
    "ReminderView",
    "SectionView",
    "TemplateViews",
    "shorten",
]

# Feed strings are shortened to these (characters) before a template sees them:
# a digest is read in ten seconds, and the block limits stay far away.
TITLE_CHARS = 250
SUMMARY_CHARS = 300
SUMMARY_LINE_CHARS = 160  # a digest's one-line summary under an item
OTHERS_TITLE = "Other new items"
SNIPPET_CHARS = 400
NAME_CHARS = 80
# A "Matched:" label: a subscription, or a watch and where its name appeared.
MATCHED_CHARS = 300
# Names shown per destination on an Entity List rule's line; all of them in the thread.
ENTITY_NAMES = 3
ERROR_CHARS = 160
MAX_ALSO_IN = 6
_WORD = re.compile(r"\w+")
# -- what templates get ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as templates see it: feed strings cleaned and shortened, names resolved."""

    title: str
    url: str | None
    feed: str
    feed_id: str
    published: datetime | None
    summary: str
    summary_line: str  # the summary as one short line; "" when it only repeats the title
    entity_list: str | None
    also_in: tuple[str, ...]
    subscriptions: tuple[str, ...]
    item: Item
    # Stored by its feed's first poll: shown as "already published when the bot started".
    backlog: bool = False
    # A Federal Register document's line: "Final rule · 15 CFR 744 · effective 20 Dec · ...".
    fedreg: str | None = None
    # The named entities of an Entity List rule: counts and first names (see entities.py).
    entities: str | None = None


@dataclass(frozen=True, slots=True)
class DeadlineView:
    """One deadline line: "Thu 4 Mar: comments close · <link|title> · Proposed rule · ..."."""

    day: str  # "Thu 4 Mar"
    on: date
    label: str  # "comments close" or "takes effect"
    item: ItemView


@dataclass(frozen=True, slots=True)
class ReminderView:
    """One reminder: "Comments close in 7 days" (Wed 15 Jan), the document's item."""

    headline: str  # "Comments close in 7 days", "Takes effect tomorrow", "Comments close today"
    day: str  # "Wed 15 Jan"
    on: date
    days_left: int
    item: ItemView  # .subscriptions: the subscriptions it is sent for ("topic bis (s7k2q)")


@dataclass(frozen=True, slots=True)
class SectionView:
    topic_id: str
    title: str
    items: tuple[ItemView, ...]


@dataclass(frozen=True, slots=True)
class HitView:
    item: ItemView
    snippet: Markup


@dataclass(frozen=True, slots=True)
class CommandView:
    usage: str
    description: str


@dataclass(frozen=True, slots=True)
class FeedRowView:
    feed_id: str
    name: str
    status: str  # "ok", "failing", "disabled", "new"
    last_success: datetime | None
    failing_since: datetime | None
    failures: int
    error: str | None
    next_due: datetime | None
    items_stored: int
    # What the last document read had wrong although it was read (malformed XML).
    warning: str | None = None
    # When the last new (not backlog) item arrived; None: none since the first poll.
    last_new_item: datetime | None = None
    # The screening list's row: entries in its snapshot (None for a feed).
    snapshot_entries: int | None = None


class TemplateViews:
    """Each template's variables, built from the bot's records; feed ids resolved to names."""

    def __init__(self, feed_names: Mapping[str, str] | None = None) -> None:
        self._feed_names = dict(feed_names or {})

    # -- per template -------------------------------------------------------------

    def digest(self, view: DigestView, *, thread: bool) -> dict[str, Any]:
        """digest.j2's variables for one message; the renderer sets `split` for a long one."""
        others = [self.item(item) for item in view.others]
        return {
            "view": view,
            "date_label": view.date_label,
            "period_label": view.period_label,
            "new_count": view.new_count,
            "sections": [self.section(s) for s in view.sections],
            "item_count": view.item_count,
            "more_count": view.more_count,
            "more_hint": view.more_hint,
            "others": others,
            "others_title": OTHERS_TITLE,
            "others_count": view.others_count,
            "others_more": max(view.others_count - len(others), 0),
            "others_hint": view.others_hint,
            "others_mode": view.others_mode,
            "summaries": view.summaries,
            "deadlines": [self.deadline(kind, day, item) for kind, day, item in view.deadlines],
            "deadlines_more": 0,
            # Sections that are topics (one can subscribe to them).
            "topic_ids": [s.topic_id for s in view.sections if s.topic_id != LATEST_SECTION_ID],
            "split": False,
            "thread": thread,
        }

    def deadline(self, kind: str, day: date, item: Item) -> DeadlineView:
        label = "comments close" if kind == "comments" else "takes effect"
        return DeadlineView(
            day=f"{WEEKDAYS_SHORT[day.weekday()]} {short_date(day)}",
            on=day,
            label=label,
            item=self.item(item),
        )

    def reminder(
        self, kind: str, day: date, days_left: int, item: Item, subscriptions: Sequence[str]
    ) -> ReminderView:
        what = "Comments close" if kind == "comments" else "Takes effect"
        when = {0: "today", 1: "tomorrow"}.get(days_left, f"in {days_left} days")
        return ReminderView(
            headline=f"{what} {when}",
            day=f"{WEEKDAYS_SHORT[day.weekday()]} {short_date(day)}",
            on=day,
            days_left=days_left,
            item=self.item(item, subscriptions=subscriptions),
        )

    def search(self, query_text: str, hits: Sequence[SearchHitLike], total: int) -> dict[str, Any]:
        views = [
            HitView(
                item=self.item(hit.item, also_in=hit.also_in or None),
                snippet=_snippet(hit.snippet, hit.spans),
            )
            for hit in hits
        ]
        return {
            "query": _shorten(query_text, SUMMARY_CHARS),
            "hits": views,
            "total": max(total, len(views)),
        }

    def help(self, commands: Sequence[tuple[str, str]]) -> dict[str, Any]:
        return {"commands": [CommandView(usage, description) for usage, description in commands]}

    def feed_status(self, rows: Sequence[FeedStatusRow]) -> dict[str, Any]:
        views = [self.feed_row(row) for row in rows]
        counts = dict.fromkeys(("ok", "failing", "disabled", "new"), 0)
        for row in views:
            counts[row.status] += 1
        return {"rows": views, "counts": counts}

    def notice(self, text: str) -> dict[str, Any]:
        return {"text": text}

    def home(self, data: HomeData) -> dict[str, Any]:
        return {
            "notice": _shorten(data.notice, SUMMARY_CHARS),
            "subscriptions": [
                {
                    "id": sub.id,
                    "label": _shorten(sub.label, NAME_CHARS),
                    "delivery": delivery,
                    "muted": sub.muted,
                    "channel": sub.owner if sub.owner_is_channel else "",
                }
                for sub, delivery in data.subscriptions
            ],
            "more_subscriptions": data.more_subscriptions,
            "items": [self.item(item) for item in data.items],
            "period": data.period,
            "deadlines": [
                {
                    "on": deadline.on,
                    "kind": deadline.kind,
                    "item": self.item(deadline.item),
                    "citation": _shorten(deadline.citation, NAME_CHARS),
                }
                for deadline in data.deadlines
            ],
            "feeds": self.feed_status(data.feeds)["counts"] | {"total": len(data.feeds)},
            "failing": [
                row
                for row in (self.feed_row(feed) for feed in data.feeds)
                if row.status == "failing" and data.is_admin
            ],
            "is_admin": data.is_admin,
        }

    # -- per record -----------------------------------------------------------------

    def feed_name(self, feed_id: str) -> str:
        return _shorten(self._feed_names.get(feed_id) or feed_id, NAME_CHARS)

    def _also_in_names(self, feed_ids: Iterable[str]) -> list[str]:
        """The feeds' names; feeds no longer configured are counted, never shown by id."""
        names: list[str] = []
        unnamed: set[str] = set()
        for feed_id in feed_ids:
            name = self._feed_names.get(feed_id)
            if name:
                names.append(_shorten(name, NAME_CHARS))
            else:
                unnamed.add(feed_id)
        names = list(dict.fromkeys(names))
        if unnamed:
            names.append(f"{len(unnamed)} other feed{'s' if len(unnamed) > 1 else ''}")
        return names

    def item(
        self,
        item: Item,
        *,
        also_in: Sequence[str] | None = None,
        subscriptions: Sequence[str] = (),
    ) -> ItemView:
        title = _shorten(item.title, TITLE_CHARS) or _shorten(item.link or "", TITLE_CHARS)
        others = _also_in_ids(item) if also_in is None else list(also_in)
        names = self._also_in_names(f for f in others if f != item.feed_id)
        if len(names) > MAX_ALSO_IN:
            names[MAX_ALSO_IN - 1 :] = [f"{len(names) - MAX_ALSO_IN + 1} more"]
        entity_list = _entity_list_line(item.extras.get("entity_list"))
        return ItemView(
            title=title or "(untitled)",
            url=item.link if safe_url(item.link) else None,
            feed=self.feed_name(item.feed_id),
            feed_id=item.feed_id,
            published=item.published or item.first_seen,
            summary=_shorten(item.summary, SUMMARY_CHARS),
            summary_line=_summary_line(item.summary, title),
            entity_list=_shorten(entity_list, SUMMARY_CHARS) if entity_list else None,
            also_in=tuple(names),
            subscriptions=tuple(_shorten(s, MATCHED_CHARS) for s in subscriptions),
            item=item,
            backlog=item.backlog,
            fedreg=_fedreg(item),
            entities=_entities_line(item.extras),
        )

    def section(self, section: DigestSection) -> SectionView:
        return SectionView(
            topic_id=section.topic_id,
            title=_shorten(section.title or section.topic_id, NAME_CHARS),
            items=tuple(self.item(item) for item in section.items),
        )

    def feed_row(self, row: FeedStatusRow) -> FeedRowView:
        state = row.state or FeedState(feed_id=row.feed_id)
        if not row.enabled:
            status = "disabled"
        elif state.consecutive_failures > 0:
            status = "failing"
        elif state.last_success is None:
            status = "new"
        else:
            status = "ok"
        return FeedRowView(
            feed_id=_shorten(row.feed_id, NAME_CHARS),
            name=_shorten(row.name or row.feed_id, NAME_CHARS),
            status=status,
            last_success=state.last_success,
            failing_since=state.failing_since,
            failures=state.consecutive_failures,
            error=_shorten(state.last_error, ERROR_CHARS) if state.last_error else None,
            next_due=state.next_due,
            items_stored=state.items_stored,
            warning=_shorten(state.warning, ERROR_CHARS) if state.warning else None,
            last_new_item=state.last_new_item,
            snapshot_entries=row.snapshot_entries,
        )


def _shorten(value: object, limit: int) -> str:
    """A feed string cleaned and cut to `limit` characters at a word boundary."""
    # Only the head can be shown; cleaning a 100 kB summary whole would be wasted time.
    head = str(value)[: limit * 2 + 64]
    return truncate_words(clean_feed_text(head), limit, ellipsis=ELLIPSIS)


#: `_shorten` for the other view modules (render.answers).
shorten = _shorten


def _summary_line(summary: str, title: str) -> str:
    """The summary as one short line, or "" when it says no more than the title."""
    line = _shorten(summary, SUMMARY_LINE_CHARS)
    words = set(_WORD.findall(line.casefold()))
    # "Title  Reuters" under "Title - Reuters" (news aggregators) says nothing new.
    return line if words - set(_WORD.findall(title.casefold())) else ""


def _fedreg(item: Item) -> str | None:
    line = fedreg_line(item.extras, today=(item.published or item.first_seen or _NO_DAY).date())
    return _shorten(line, SUMMARY_CHARS) if line else None


_NO_DAY = datetime(1970, 1, 1)


def _entity_list_line(facts: object) -> str | None:
    """The Entity List line of an item's stored facts, worded now; None for other items."""
    if not isinstance(facts, Mapping):
        return None
    try:
        return EntityListFacts.from_extras(facts).summary()
    except ValueError:
        stored = facts.get("summary")
        return stored if isinstance(stored, str) and stored else None


def _entities_line(extras: Mapping[str, Any]) -> str | None:
    """ "4 entities added: China 3: A, B, C; Japan 1: D" of a rule's named entities, or None."""
    named = RuleEntities.of(extras)
    if named is None or not named.entities:
        return None
    return _shorten(named.headline(names=ENTITY_NAMES), SUMMARY_CHARS * 2)


def _snippet(snippet: object, spans: object) -> Markup:
    text = str(snippet).replace("\n", " ")
    shortened = truncate_words(text, SNIPPET_CHARS, ellipsis=ELLIPSIS)
    cut = shortened != text
    head = shortened[: -len(ELLIPSIS)] if cut else text
    pairs = spans if isinstance(spans, Iterable) else ()
    marked = highlight(head, pairs)
    return mark_trusted(marked + ELLIPSIS) if cut else marked


def _also_in_ids(item: Item) -> list[str]:
    value = item.extras.get("also_in")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []
