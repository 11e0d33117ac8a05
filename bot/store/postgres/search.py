"""`PgSearch`: ranked search in the database, with the same results as the SQLite FTS5 index.

A search (1) translates the query to a SQL condition that every match
satisfies (tsquery.py), scoped to the configured feeds (`scoped`), and takes
the newest CANDIDATE_CAP candidates by seq: ranking every match of a common
word over a million items took seconds (the design note's figures), so the
cap bounds the work and `total_exact` says when it was hit; (2) ranks them in
the database: `ts_rank` over the positive terms (title lexemes weigh 2.5
times the summary's) times the recency boost every engine applies
(`bot.find.search.ranking`), `1 + 0.5 * 2 ** (-age / 14 days)`, ties to the newer
item, then the later seq; a query of filters only lists the newest; (3)
walks the ranking in Python, re-checking each candidate with `Query.matches`
(the SQL may let through more than the language matches), showing each story
once by its primary item when that matches, and building snippets with the
same highlighter. Nothing is held in memory between searches, so there is no
index to build or catch up: what is committed is what is searched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from bot.find.query.matcher import Query
from bot.find.query.nodes import aware
from bot.find.query.question import parse_question
from bot.find.search.analysis import prepare_doc_fast
from bot.find.search.ranking import RECENCY_HALF_LIFE, RECENCY_WEIGHT
from bot.find.search.results import SearchHit, SearchResults, check_page
from bot.find.search.snippets import Highlighter
from bot.find.textindex import feeds_by_tag
from bot.models import Item
from bot.store.postgres.db import Pooled
from bot.store.postgres.items import PgItems
from bot.store.postgres.tsquery import rank_query, translate

__all__ = ["CANDIDATE_CAP", "PgSearch"]

#: The newest matching items a search ranks, at most.
CANDIDATE_CAP = 5_000
_WEIGHTS = "{0.4, 0.4, 0.4, 1.0}"  # D (summary), C, B, A (title)
_HALF_LIFE_S = RECENCY_HALF_LIFE.total_seconds()


class PgSearch:
    """Searches a PgStore's items (see the module docstring); a `SearchEngine`
    (`bot.find.search.engine`) with nothing to build, catch up, close or record.

    `scoped`: search only the feeds `feed_tags` names (the runtime gives the
    configured feeds: a database may hold items of feeds no longer configured,
    or of another configuration); else every feed in the database.
    """

    def __init__(
        self,
        db: Pooled,
        *,
        feed_tags: Mapping[str, Iterable[str]] | None = None,
        scoped: bool = False,
    ) -> None:
        self._db = db
        self._items = PgItems(db)
        self._feed_tags: dict[str, tuple[str, ...]] = {}
        self._tag_feeds: dict[str, list[str]] = {}
        self._scoped = scoped
        self._scope: list[str] | None = None
        self.set_feed_tags(feed_tags or {})

    def set_feed_tags(self, feed_tags: Mapping[str, Iterable[str]]) -> None:
        """The feeds' tags; when `scoped`, also the feeds searched (the configured ones)."""
        tags = {feed: tuple(values) for feed, values in feed_tags.items()}
        by_tag = feeds_by_tag(tags)
        self._tag_feeds = {tag: sorted(feeds) for tag, feeds in by_tag.items()}
        self._feed_tags = tags
        self._scope = sorted(tags) if self._scoped else None

    # The protocol's index lifecycle: what is committed is what is searched.
    def catch_up(self, *, timeout: float = -1) -> bool:
        return True

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def forget_pruned(self) -> int:
        return 0  # a pruned row is gone from the table searched

    def record_level(self, stamp: str) -> None:
        return None  # no file to mark level with the store's files

    def close(self) -> None:
        return None  # the store owns the pool

    def __len__(self) -> int:
        return self._items.count()

    def matching(
        self, query: Query, seqs: Iterable[int], *, now: datetime, wait: float = 10.0
    ) -> set[int] | None:
        """None: `bot.brief.ask` then checks each item of its window with `Query.matches`
        (the SQLite index answers this from its file; here the window's items are
        already loaded, so the database would add a round trip, not save one)."""
        return None

    # ------------------------------------------------------------------ searching

    def search_text(
        self, text: str, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        return self.search(parse_question(text), now=now, limit=limit, offset=offset, wait=wait)

    def search(
        self, query: Query, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """The best `limit` stories matching `query` after the first `offset` (`wait` unused)."""
        check_page(limit, offset)
        started = time.perf_counter()
        now = aware(now)
        ranked, exact, sure = self._ranked(query, now)
        walk = _Walk(self, query, now, ranked, sure=sure)
        hits, stories = walk.page(offset, limit)
        total, counted = walk.count(stories, sure=sure)
        return SearchResults(
            query=query,
            hits=tuple(hits),
            total=max(total, len(hits) + offset),
            took_ms=(time.perf_counter() - started) * 1000,
            offset=offset,
            total_exact=exact and counted,
            complete=True,
        )

    def _ranked(
        self, query: Query, now: datetime
    ) -> tuple[list[tuple[int, int, float]], bool, bool]:
        """(seq, story, score) of the candidates, best first; whether the cap was not
        reached; whether every candidate matches (the SQL was exact)."""
        condition = translate(query.root, now, lambda tag: self._tag_feeds.get(tag, ()))
        where, params = condition.sql, list(condition.params)
        if self._scope is not None:
            where = f"({where}) AND feed_id = ANY(%s)"
            params.append(self._scope)
        ranker = rank_query(query.positive_terms())
        if ranker is None:
            score, order_params = "0.0", []
        else:
            score = (
                "ts_rank(%s::float4[], tsv, %s::tsquery, 1) * (1 + %s * power(2.0,"
                " -greatest(0, extract(epoch FROM (%s - item_when))) / %s))"
            )
            order_params = [_WEIGHTS, ranker, RECENCY_WEIGHT, now, _HALF_LIFE_S]
        rows = self._db.rows(
            f"SELECT c.seq, c.story, {score} AS score FROM ("  # noqa: S608 (constants only)
            f" SELECT seq FROM items WHERE {where} ORDER BY seq DESC LIMIT %s"
            ") m JOIN items c ON c.seq = m.seq ORDER BY score DESC, c.item_when DESC, c.seq DESC",
            [*order_params, *params, CANDIDATE_CAP],
        )
        found = [(int(seq), int(story), float(value)) for seq, story, value in rows]
        return found, len(found) < CANDIDATE_CAP, condition.exact

    # ------------------------------------------------------------------ for _Walk

    def load(self, seqs: Sequence[int]) -> dict[int, Item]:
        return {item.seq: item for item in self._items.by_seq(seqs)}

    def tags_of_feed(self, feed_id: str) -> tuple[str, ...]:
        return self._feed_tags.get(feed_id, ())

    def members(self, stories: Collection[int]) -> list[tuple[int, int, str]]:
        """(story, seq, feed id) of every item of these stories (primaries included), by seq."""
        if not stories:
            return []
        wanted = sorted(stories)
        rows = self._db.rows(
            "SELECT story, seq, feed_id FROM items WHERE story = ANY(%s) OR seq = ANY(%s)"
            " ORDER BY seq",
            (wanted, wanted),
        )
        return [(int(story), int(seq), str(feed)) for story, seq, feed in rows]


class _Walk:
    """One search's walk down the ranking: verified candidates, stories shown, hits."""

    def __init__(
        self,
        search: PgSearch,
        query: Query,
        now: datetime,
        ranked: list[tuple[int, int, float]],
        *,
        sure: bool = False,
    ) -> None:
        self.search = search
        self.sure = sure  # every candidate matches: none needs loading to be checked
        self.query = query
        self.now = now
        self.ranked = ranked
        self.story_of = {seq: story for seq, story, _ in ranked}
        self.items: dict[int, Item] = {}
        self.verified: dict[int, bool] = {}

    def verify(self, seq: int) -> bool:
        if self.sure:
            return True
        found = self.verified.get(seq)
        if found is None:
            if seq not in self.items:
                self.items.update(self.search.load([seq]))
            item = self.items.get(seq)
            found = item is not None and self.query.matches(
                prepare_doc_fast(item, self.search.tags_of_feed(item.feed_id)), now=self.now
            )
            self.verified[seq] = found
        return found

    def page(self, offset: int, limit: int) -> tuple[list[SearchHit], set[int]]:
        """The page's hits, and every story found to match on the way."""
        highlighter = Highlighter(self.query)
        shown: list[tuple[int, float]] = []
        stories: set[int] = set()
        step = 200 if not self.sure else offset + limit + 20
        for start in range(0, len(self.ranked), step):
            chunk = self.ranked[start : start + step]
            if not self.sure:  # loaded to be checked; sure, only the hits shown are loaded
                self.items.update(self.search.load([seq for seq, _, _ in chunk]))
            for seq, story, score in chunk:
                if story in stories or not self.verify(seq):
                    continue
                stories.add(story)
                if len(stories) > offset:
                    primary = story if story in self.story_of else None
                    show = primary if primary is not None and self.verify(primary) else seq
                    shown.append((show, score))
                if len(shown) >= limit:
                    break
            if len(shown) >= limit:
                break
        return self._hits(shown, highlighter), stories

    def _hits(self, shown: list[tuple[int, float]], highlighter: Highlighter) -> list[SearchHit]:
        missing = [seq for seq, _ in shown if seq not in self.items]
        self.items.update(self.search.load(missing))
        members = self.search.members({self.story_of[seq] for seq, _ in shown})
        hits = []
        for seq, score in shown:
            item = self.items[seq]
            story = self.story_of[seq]
            also: dict[str, None] = {}
            for member_story, member, feed in members:
                in_story = member_story == story or member == story
                if in_story and member != seq and feed != item.feed_id:
                    also.setdefault(feed)
            hits.append(highlighter.hit(item, score, tuple(also)))
        return hits

    def count(self, stories: set[int], *, sure: bool) -> tuple[int, bool]:
        """How many stories match: exact when every remaining candidate could be checked.

        `sure`: every candidate matches (the SQL was exact), nothing to check.
        """
        if sure:
            return len({story for _, story, _ in self.ranked}), True
        pending = [
            seq
            for seq, story, _ in self.ranked
            if story not in stories and seq not in self.verified
        ]
        budget = 2_000
        matched = set(stories)
        if len(pending) <= budget:
            for start in range(0, len(pending), 500):
                self.items.update(self.search.load(pending[start : start + 500]))
            matched.update(self.story_of[seq] for seq in pending if self.verify(seq))
            return len(matched), True
        sample = pending[:: max(1, math.ceil(len(pending) / 200))]
        self.items.update(self.search.load(sample))
        ratio = sum(self.verify(seq) for seq in sample) / len(sample)
        rest = {self.story_of[seq] for seq in pending}
        return len(matched) + round(ratio * len(rest)), False
