"""Matching parsed queries against prepared documents: `Query`, `QueryFilters`, `QueryMatcher`.

Each node of the tree is compiled once into a closure over a `MatchDoc` and
`now`; a query's trigger keys (`Query.trigger_keys`) let most non-matching
documents be skipped with one set test.

Relative times (`since:7d`) are resolved against the `now` given to `matches`,
so a stored query stays right; a date means midnight at the start of that day
in `now`'s time zone (UTC when `now` is naive).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Generic, TypeVar

from bot.find.query.document import MatchDoc, wildcard_key
from bot.find.query.nodes import (
    And,
    Chars,
    FeedIs,
    Leaf,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    TagIs,
    TimeBound,
    Word,
    aware,
)

__all__ = ["Query", "QueryFilters", "QueryMatcher"]

K = TypeVar("K")

_Matcher = Callable[[MatchDoc, datetime], bool]


def _compile(node: Node) -> _Matcher:
    if isinstance(node, Word):
        token = node.token
        return lambda doc, now: token in doc.tokens
    if isinstance(node, Chars):
        chars = node.text
        return lambda doc, now: chars in doc.folded_text
    if isinstance(node, Phrase):
        needle = f" {' '.join(node.tokens)} "
        return lambda doc, now: needle in doc.stemmed_text
    if isinstance(node, Prefix):
        # The prefix is tried against stemmed and unstemmed tokens alike, so
        # `polic*` finds "policies" and `chips*` finds "chips" (stemmed "chip").
        stemmed = " " + " ".join((*node.head, node.prefix))
        raw = " " + " ".join((*node.raw_head, node.prefix))
        return lambda doc, now: stemmed in doc.stemmed_text or raw in doc.raw_text
    if isinstance(node, FeedIs):
        feed_id = node.feed_id
        return lambda doc, now: doc.feed_id == feed_id
    if isinstance(node, TagIs):
        tag = node.tag
        return lambda doc, now: tag in doc.tags
    if isinstance(node, TimeBound):
        return _compile_time(node)
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda doc, now: not inner(doc, now)
    if isinstance(node, And):
        return _compile_and(node)
    return _compile_or(node)


def _compile_time(node: TimeBound) -> _Matcher:
    # A day's midnight depends only on the zone of `now`: cache it per zone.
    midnights: dict[tzinfo | None, datetime] = {}

    def bound_of(now: datetime) -> datetime:
        if node.day is None:
            return node.resolve(now)
        found = midnights.get(now.tzinfo)
        if found is None:
            found = midnights[now.tzinfo] = node.resolve(now)
        return found

    if node.field == "since":
        return lambda doc, now: doc.when >= bound_of(now)
    return lambda doc, now: doc.when < bound_of(now)


def _cost(node: Node) -> int:
    # Cheap set lookups first, so an AND fails fast.
    if isinstance(node, Word | FeedIs | TagIs):
        return 0
    if isinstance(node, Phrase | Prefix | Chars | TimeBound):
        return 1
    return 2


def _compile_and(node: And) -> _Matcher:
    parts = [_compile(child) for child in sorted(node.children, key=_cost)]

    def match_all(doc: MatchDoc, now: datetime) -> bool:
        # A plain loop: all() over a generator costs a frame per call, and this
        # runs a million times per 1,000 queries x 1,000 items.
        for part in parts:  # noqa: SIM110
            if not part(doc, now):
                return False
        return True

    return match_all


def _compile_or(node: Or) -> _Matcher:
    # Plain words of an OR become one set test: most topics are such lists.
    words = frozenset(child.token for child in node.children if isinstance(child, Word))
    parts = [_compile(child) for child in node.children if not isinstance(child, Word)]

    def match_any(doc: MatchDoc, now: datetime) -> bool:
        if words and not words.isdisjoint(doc.tokens):
            return True
        for part in parts:  # noqa: SIM110 (speed, as in match_all)
            if part(doc, now):
                return True
        return False

    return match_any


def _trigger(node: Node) -> frozenset[str] | None:
    """Return keys of which a matching document has at least one in `MatchDoc.keys`, or None.

    This is what lets `QueryMatcher` and `Query.matches` skip most queries with
    one set test: a phrase needs its tokens, a wildcard the first characters of
    its prefix, an OR one of its sides. None means no such set is known.
    """
    if isinstance(node, Word):
        return frozenset((node.token,))
    if isinstance(node, Phrase):
        return frozenset((max(node.tokens, key=len),))
    if isinstance(node, Prefix):
        if node.head:
            return frozenset((max(node.head, key=len),))
        return frozenset((wildcard_key(node.prefix),))
    if isinstance(node, And):
        known = [found for child in node.children if (found := _trigger(child)) is not None]
        return min(known, key=len) if known else None
    if isinstance(node, Or):
        union: set[str] = set()
        for child in node.children:
            found = _trigger(child)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    return None  # single CJK characters, fields, NOT: no key to require


@dataclass(frozen=True, slots=True)
class QueryFilters:
    """The field filters every match satisfies, lifted from the top-level AND.

    A search can narrow its candidates with them before ranking, then confirm
    each with `Query.matches` (filters under OR or NOT are not lifted, except an
    OR made only of `feed:` or only of `tag:` filters).

    `feed_ids`: None for any feed, else the allowed ids (possibly empty: two
    different `feed:` ANDed match nothing). `tag_groups`: each group must share
    a tag with the item.
    """

    feed_ids: frozenset[str] | None = None
    tag_groups: tuple[frozenset[str], ...] = ()
    since: tuple[TimeBound, ...] = ()
    before: tuple[TimeBound, ...] = ()

    def time_window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """Return (start, end) seen from `now`: items with start <= time < end pass."""
        start = max((bound.resolve(now) for bound in self.since), default=None)
        end = min((bound.resolve(now) for bound in self.before), default=None)
        return start, end


class Query:
    """A parsed query: immutable; compiled once, then matched against many documents."""

    __slots__ = ("_match", "_root", "_text", "_trigger")

    def __init__(self, text: str, root: Node) -> None:
        self._text = text
        self._root = root
        self._match = _compile(root)
        self._trigger = _trigger(root)

    @property
    def text(self) -> str:
        """The query as the user wrote it (or as a question was turned into)."""
        return self._text

    @property
    def root(self) -> Node:
        """The syntax tree; `str(query.root)` is its normalized form."""
        return self._root

    def feeds_named(self) -> frozenset[str]:
        """Every feed id a `feed:` in the query names, wherever it stands."""
        named: set[str] = set()
        pending: list[Node] = [self._root]
        while pending:
            node = pending.pop()
            if isinstance(node, FeedIs):
                named.add(node.feed_id)
            elif isinstance(node, Not):
                pending.append(node.child)
            elif isinstance(node, And | Or):
                pending.extend(node.children)
        return frozenset(named)

    def within_feeds(self, feed_ids: Iterable[str] | None) -> Query:
        """This query limited to items of `feed_ids` (a workspace's feeds); None: unchanged.

        The limit is an OR of `feed:` filters ANDed on top, which every search lifts
        as a filter (QueryFilters) before ranking; no feed at all matches nothing.
        """
        if feed_ids is None:
            return self
        feeds = tuple(FeedIs(feed_id) for feed_id in sorted(set(feed_ids))) or (FeedIs(""),)
        scope: Node = feeds[0] if len(feeds) == 1 else Or(feeds)
        return Query(self._text, And((self._root, scope)))

    @property
    def trigger_keys(self) -> frozenset[str] | None:
        """Keys (`MatchDoc.keys`) a matching document has at least one of; None if unknown."""
        return self._trigger

    def matches(self, doc: MatchDoc, *, now: datetime) -> bool:
        """Return whether the prepared document satisfies the query, relative times from `now`."""
        if self._trigger is not None and self._trigger.isdisjoint(doc.keys):
            return False
        return self._match(doc, aware(now))

    def positive_terms(self) -> list[str]:
        """Return the analyzed terms outside any NOT, for ranking and highlighting.

        A word is its token ("chip"), a phrase its tokens joined by a space
        ("export control"), a wildcard ends in "*" ("semiconductor*"), a single
        CJK character is itself. In order of first appearance, without repeats.
        """
        seen: dict[str, None] = {}
        for leaf in _positive_leaves(self._root):
            if isinstance(leaf, Word):
                seen.setdefault(leaf.token)
            elif isinstance(leaf, Chars):
                seen.setdefault(leaf.text)
            elif isinstance(leaf, Phrase):
                seen.setdefault(" ".join(leaf.tokens))
            else:
                seen.setdefault(" ".join((*leaf.head, leaf.prefix + "*")))
        return list(seen)

    def filters(self) -> QueryFilters:
        """Return the field filters that every matching item satisfies (see `QueryFilters`)."""
        conjuncts = self._root.children if isinstance(self._root, And) else (self._root,)
        feed_ids: frozenset[str] | None = None
        tag_groups: list[frozenset[str]] = []
        since: list[TimeBound] = []
        before: list[TimeBound] = []
        for node in conjuncts:
            alternatives = node.children if isinstance(node, Or) else (node,)
            if all(isinstance(alt, FeedIs) for alt in alternatives):
                allowed = frozenset(alt.feed_id for alt in alternatives if isinstance(alt, FeedIs))
                feed_ids = allowed if feed_ids is None else feed_ids & allowed
            elif all(isinstance(alt, TagIs) for alt in alternatives):
                tag_groups.append(
                    frozenset(alt.tag for alt in alternatives if isinstance(alt, TagIs))
                )
            elif isinstance(node, TimeBound):
                (since if node.field == "since" else before).append(node)
        return QueryFilters(feed_ids, tuple(tag_groups), tuple(since), tuple(before))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and (self._text, self._root) == (other._text, other._root)

    def __hash__(self) -> int:
        return hash((self._text, self._root))

    def __repr__(self) -> str:
        return f"Query({self._text!r}, {self._root})"


def _positive_leaves(root: Node) -> Iterator[Leaf]:
    # An explicit stack: the tree is shallow, but nothing here needs recursion.
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(reversed(node.children))
        elif isinstance(node, Word | Chars | Phrase | Prefix):
            yield node


class QueryMatcher(Generic[K]):
    """Many queries against one document at a time, through an index of trigger keys.

    Only queries whose trigger keys occur in the document (plus those without
    a trigger: field-only queries, pure NOTs, single CJK characters) are evaluated,
    so the cost follows the number of plausible matches, not of queries.
    """

    def __init__(self, queries: Iterable[tuple[K, Query]]) -> None:
        self._entries: list[tuple[K, Query]] = list(queries)
        self._by_token: dict[str, list[int]] = {}
        self._always: list[int] = []
        for index, (_, query) in enumerate(self._entries):
            trigger = query.trigger_keys
            if trigger is None:
                self._always.append(index)
            else:
                for token in trigger:
                    self._by_token.setdefault(token, []).append(index)

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, doc: MatchDoc, *, now: datetime) -> list[K]:
        """Return the keys of the queries `doc` matches, in the order they were given."""
        now = aware(now)
        candidates = set(self._always)
        by_token = self._by_token
        for key in doc.keys:
            indexes = by_token.get(key)
            if indexes is not None:
                candidates.update(indexes)
        entries = self._entries
        return [
            entries[index][0] for index in sorted(candidates) if entries[index][1]._match(doc, now)
        ]
