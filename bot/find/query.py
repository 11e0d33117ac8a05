"""The query language of topics, subscriptions, digest filters and search: parse and match.

Syntax (precedence NOT > AND > OR; adjacent terms are ANDed)::

    export control          two words, both required
    "entity list"           a phrase: consecutive words
    a OR b, a AND b, NOT a  operators, upper-case only ("and", "or", "not" are words)
    -a, -"a b", -(a OR b)   NOT
    ( ... )                 grouping, at most MAX_DEPTH levels
    export*                 trailing wildcard: a prefix of a word, 2 characters or more
    feed:fr-bis             the item's feed id, exactly
    tag:us                  one of the item's tags (or its feed's), any case
    since:7d  since:24h  since:2w  since:2026-11-01
    before:...              the same forms, upper bound (exclusive)

A `name:value` word is a field only for the four names above; anything else
("10:30", "http://...") is an ordinary word. Smart quotes (“ ”), which Slack
clients type for '"', are quotes too.

Matching runs over title and summary, through `bot.find.textindex.analyze`: case,
accents and full-width forms folded, English plurals reduced ("export controls"
matches "export control" and "entities" matches "entity"). A word that
analyzes to several tokens ("Indo-Pacific", "U.S.") is a phrase. Phrases do
not run from the title into the summary.

Chinese, Japanese and Korean: analysis cuts CJK runs into overlapping bigrams,
so a CJK word or phrase matches wherever it occurs as a substring of a CJK run
("安全保障" matches "経済安全保障推進法"). A single CJK character is matched as a
substring of the folded title and summary.

Relative times (`since:7d`) are resolved against the `now` given to `matches`,
so a stored query stays right; a date means midnight at the start of that day
in `now`'s time zone (UTC when `now` is naive).

Parsing is iterative where input controls the depth: the length, nesting and
term limits are checked while lexing, before any recursion, so a 1 MB query or
10,000 nested parentheses are refused in microseconds, never a RecursionError.
Every failure is a `QueryError` whose text says what and where.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar

from bot.find.textindex import analyze, fold_text, is_cjk, stem_token, tokenize, tokenize_folded

if TYPE_CHECKING:
    from bot.models import Item

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "And",
    "Chars",
    "FeedIs",
    "MatchDoc",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "Query",
    "QueryError",
    "QueryFilters",
    "QueryMatcher",
    "TagIs",
    "TimeBound",
    "Word",
    "analyze",
    "parse_query",
    "parse_question",
    "prepare_doc",
    "question_to_query",
]

MAX_QUERY_CHARS = 1000
MAX_DEPTH = 20
MAX_TERMS = 50
FIELDS = ("feed", "tag", "since", "before")

K = TypeVar("K")


class QueryError(ValueError):
    """A query that cannot be parsed. `str(error)` is the sentence to show the user.

    `message` is that same sentence (it names the column where one helps);
    `column` is the 1-based column in the query text it points at, or None when
    the problem is the query as a whole (empty, only filler words).
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# ---------------------------------------------------------------------------
# The syntax tree. Each node prints in the normalized form the tests compare.


@dataclass(frozen=True, slots=True)
class Word:
    """One analyzed token (stemmed), present anywhere in title or summary."""

    token: str

    def __str__(self) -> str:
        return f"word:{self.token}"


@dataclass(frozen=True, slots=True)
class Chars:
    """A single CJK character, matched as a substring of the folded text."""

    text: str

    def __str__(self) -> str:
        return f"chars:{self.text}"


@dataclass(frozen=True, slots=True)
class Phrase:
    """Analyzed tokens at consecutive positions."""

    tokens: tuple[str, ...]

    def __str__(self) -> str:
        return f'phrase:"{" ".join(self.tokens)}"'


@dataclass(frozen=True, slots=True)
class Prefix:
    """A trailing wildcard: `head` tokens (stemmed and raw), then a token starting with `prefix`."""

    head: tuple[str, ...]
    raw_head: tuple[str, ...]
    prefix: str

    def __str__(self) -> str:
        if self.head:
            return f'prefix:"{" ".join(self.head)} {self.prefix}*"'
        return f"prefix:{self.prefix}*"


@dataclass(frozen=True, slots=True)
class FeedIs:
    """`feed:ID`: the item's feed id, compared exactly."""

    feed_id: str

    def __str__(self) -> str:
        return f"feed:{self.feed_id}"


@dataclass(frozen=True, slots=True)
class TagIs:
    """`tag:NAME`: one of the item's tags, folded like text."""

    tag: str

    def __str__(self) -> str:
        return f"tag:{self.tag}"


@dataclass(frozen=True, slots=True)
class TimeBound:
    """`since:` (item time >= bound) or `before:` (item time < bound).

    Either relative (`amount` of `unit`, one of "h", "d", "w", before `now`) or
    a calendar `day`.
    """

    field: str
    amount: int = 0
    unit: str = ""
    day: date | None = None

    def __str__(self) -> str:
        value = self.day.isoformat() if self.day is not None else f"{self.amount}{self.unit}"
        return f"{self.field}:{value}"

    def resolve(self, now: datetime) -> datetime:
        """Return the instant this bound stands for, seen from `now`."""
        now = _aware(now)
        if self.day is not None:
            return datetime.combine(self.day, time(0), tzinfo=now.tzinfo)
        hours = self.amount * {"h": 1, "d": 24, "w": 24 * 7}[self.unit]
        return now - timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Not:
    """Matches what its child does not."""

    child: Node

    def __str__(self) -> str:
        return f"NOT({self.child})"


@dataclass(frozen=True, slots=True)
class And:
    """Matches when every child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return f"AND({', '.join(str(child) for child in self.children)})"


@dataclass(frozen=True, slots=True)
class Or:
    """Matches when any child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return f"OR({', '.join(str(child) for child in self.children)})"


Node: TypeAlias = Word | Chars | Phrase | Prefix | FeedIs | TagIs | TimeBound | Not | And | Or
Leaf: TypeAlias = Word | Chars | Phrase | Prefix


# ---------------------------------------------------------------------------
# Documents, prepared once for matching against many queries.


@dataclass(frozen=True, slots=True)
class MatchDoc:
    """An item normalized once, so that each query costs only set and substring tests.

    `stemmed_text` and `raw_text` are the tokens joined by single spaces with a
    leading and trailing space and a newline between title and summary: a
    phrase is then a substring " a b " that cannot cross from title to summary.
    `keys` is `tokens` plus "*" and the first 2 and 3 characters of every
    token, stemmed or not: what wildcard queries are indexed under (see
    `Query.trigger_keys`).
    """

    tokens: frozenset[str]
    keys: frozenset[str]
    stemmed_text: str
    raw_text: str
    folded_text: str
    feed_id: str
    tags: frozenset[str]
    when: datetime


def prepare_doc(item: Item, *, feed_tags: Iterable[str] = ()) -> MatchDoc:
    """Normalize `item` for matching; `feed_tags` (its feed's tags) count for `tag:` too."""
    folded_title = fold_text(item.title)
    folded_summary = fold_text(item.summary)
    raw_title = tokenize_folded(folded_title)
    raw_summary = tokenize_folded(folded_summary)
    title = [stem_token(token) for token in raw_title]
    summary = [stem_token(token) for token in raw_summary]
    tokens = frozenset(title) | frozenset(summary)
    every_form = tokens.union(raw_title, raw_summary)
    heads = {_wildcard_key(token[:2]) for token in every_form}
    heads.update(_wildcard_key(token[:3]) for token in every_form)
    return MatchDoc(
        tokens=tokens,
        keys=tokens.union(heads),
        stemmed_text=_join_fields(title, summary),
        raw_text=_join_fields(raw_title, raw_summary),
        folded_text=f"{folded_title}\n{folded_summary}",
        feed_id=item.feed_id,
        tags=frozenset(fold_text(tag).strip() for tag in (*item.tags, *feed_tags)),
        when=_aware(item.when),
    )


def _wildcard_key(prefix: str) -> str:
    # "*" never occurs inside a token, so these keys cannot collide with one.
    return "*" + prefix[:3]


def _join_fields(title: list[str], summary: list[str]) -> str:
    return f" {' '.join(title)} \n {' '.join(summary)} "


def _aware(moment: datetime) -> datetime:
    # Feeds and callers give UTC; a naive time is taken to be UTC rather than local.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------
# Lexing: one pass, no recursion; limits checked as we go.

_OPEN_PARENS = "(（"
_CLOSE_PARENS = ")）"
_OPEN_QUOTES = '"“”„＂'
_CLOSE_QUOTES = '"“”＂'
_WORD_STOPS = frozenset(_OPEN_PARENS + _CLOSE_PARENS + _OPEN_QUOTES)
_OPERATORS = {"AND": "and", "OR": "or", "NOT": "not"}


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # word, phrase, field, lparen, rparen, and, or, not, minus
    text: str
    column: int
    name: str = ""  # the field name of a field


def _lex(text: str) -> list[_Lexeme]:
    """Split `text` into lexemes, refusing unbalanced or over-deep input early."""
    lexemes: list[_Lexeme] = []
    open_columns: list[int] = []
    terms = 0
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        column = i + 1
        if char.isspace():
            i += 1
        elif char in _OPEN_PARENS:
            open_columns.append(column)
            if len(open_columns) > MAX_DEPTH:
                raise QueryError(
                    f"too deeply nested: more than {MAX_DEPTH} levels of parentheses"
                    f" (column {column})",
                    column,
                )
            lexemes.append(_Lexeme("lparen", char, column))
            i += 1
        elif char in _CLOSE_PARENS:
            if not open_columns:
                raise QueryError(
                    f"unbalanced parenthesis at column {column}: nothing opened this )", column
                )
            open_columns.pop()
            lexemes.append(_Lexeme("rparen", char, column))
            i += 1
        elif char in _OPEN_QUOTES:
            content, i = _read_quoted(text, i)
            lexemes.append(_Lexeme("phrase", content, column))
            terms += 1
        elif char == "-" and i + 1 < end and not _ends_term(text[i + 1]):
            lexemes.append(_Lexeme("minus", "-", column))
            i += 1
        elif char == "-":
            i += 1  # a lone dash is punctuation, not NOT
        else:
            start = i
            while i < end and not text[i].isspace() and text[i] not in _WORD_STOPS:
                i += 1
            word = text[start:i]
            operator = _OPERATORS.get(word)
            name, colon, value = word.partition(":")
            if operator is not None:
                lexemes.append(_Lexeme(operator, word, column))
                continue
            if colon and name.lower() in FIELDS:
                if not value and i < end and text[i] in _OPEN_QUOTES:
                    value, i = _read_quoted(text, i)
                lexemes.append(_Lexeme("field", value, column, name.lower()))
            else:
                lexemes.append(_Lexeme("word", word, column))
            terms += 1
        if terms > MAX_TERMS:
            raise QueryError(f"too many terms: the limit is {MAX_TERMS} (column {column})", column)
    if open_columns:
        column = open_columns[-1]
        raise QueryError(
            f"unbalanced parenthesis at column {column}: this ( is never closed", column
        )
    return lexemes


def _ends_term(char: str) -> bool:
    return char.isspace() or char in _CLOSE_PARENS or char == "-"


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Return the text between the quote at `i` and its closing quote, and the index after."""
    for j in range(i + 1, len(text)):
        if text[j] in _CLOSE_QUOTES:
            return text[i + 1 : j], j + 1
    raise QueryError(f"unclosed quote at column {i + 1}", i + 1)


# ---------------------------------------------------------------------------
# Parsing: recursive descent whose depth is bounded by MAX_DEPTH (checked in
# _lex); chains of NOT are counted in a loop, not recursed into.


class _Parser:
    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.i = 0

    def peek(self) -> _Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.i]
        self.i += 1
        return lexeme

    def parse_or(self) -> Node | None:
        first = self.peek()
        if first is not None and first.kind in ("and", "or"):
            raise _needs_before(first)
        parts = [self.parse_and()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "or":
            operator = self.take()
            if parts[-1] is None:
                raise _needs_before(operator)
            right = self.parse_and() if _starts_term(self.peek()) else None
            if right is None:
                raise _needs_after(operator)
            parts.append(right)
        nodes = [part for part in parts if part is not None]
        return _combine(Or, nodes)

    def parse_and(self) -> Node | None:
        nodes: list[Node] = []
        seen_term = False
        while (lexeme := self.peek()) is not None and lexeme.kind not in ("rparen", "or"):
            if lexeme.kind == "and":
                operator = self.take()
                if not seen_term:
                    raise _needs_before(operator)
                node = self.parse_unary() if _starts_term(self.peek()) else None
                if node is None:
                    raise _needs_after(operator)
            else:
                node = self.parse_unary()
            seen_term = True
            if node is not None:
                nodes.append(node)
        return _combine(And, nodes)

    def parse_unary(self) -> Node | None:
        negations = 0
        operator: _Lexeme | None = None
        while (lexeme := self.peek()) is not None and lexeme.kind in ("not", "minus"):
            operator = self.take()
            negations += 1
        if operator is None:
            return self.parse_primary()
        node = self.parse_primary() if _starts_term(self.peek(), after_not=True) else None
        if node is None:
            raise _needs_after(operator)
        if negations % 2 == 0:
            return node
        return node.child if isinstance(node, Not) else Not(node)

    def parse_primary(self) -> Node | None:
        lexeme = self.take()
        if lexeme.kind == "lparen":
            after = self.peek()
            if after is not None and after.kind == "rparen":
                raise QueryError(f"empty parentheses at column {lexeme.column}", lexeme.column)
            node = self.parse_or()
            self.take()  # the ")": _lex guarantees balance, parse_or stops only there
            return node
        if lexeme.kind == "field":
            return _build_field(lexeme)
        if lexeme.kind == "phrase":
            return _build_phrase(lexeme)
        return _build_word(lexeme)


def _starts_term(lexeme: _Lexeme | None, *, after_not: bool = False) -> bool:
    if lexeme is None:
        return False
    if after_not:
        return lexeme.kind in ("word", "phrase", "field", "lparen")
    return lexeme.kind in ("word", "phrase", "field", "lparen", "not", "minus")


def _needs_after(operator: _Lexeme) -> QueryError:
    return QueryError(
        f"{operator.text} needs a term after it (column {operator.column})", operator.column
    )


def _needs_before(operator: _Lexeme) -> QueryError:
    return QueryError(
        f"{operator.text} needs a term before it (column {operator.column})", operator.column
    )


def _combine(kind: type[And] | type[Or], nodes: list[Node]) -> Node | None:
    """Return one node for `nodes` joined by `kind`, flattening nested nodes of that kind."""
    if not nodes:
        return None
    if len(nodes) == 1:
        return nodes[0]
    flat: dict[Node, None] = {}  # ordered, without repeats: `chip OR chips` is one test
    for node in nodes:
        for child in node.children if isinstance(node, kind) else (node,):
            flat.setdefault(child)
    return kind(tuple(flat)) if len(flat) > 1 else next(iter(flat))


def _build_word(lexeme: _Lexeme) -> Node | None:
    word = lexeme.text
    if "*" not in word:
        return _build_leaf(tokenize(word))
    stem = word.rstrip("*")
    if not stem:
        raise QueryError(
            "a bare * is not a search term; write at least 2 letters before it,"
            f" as in export* (column {lexeme.column})",
            lexeme.column,
        )
    if "*" in stem:
        column = lexeme.column + stem.index("*")
        raise QueryError(f"* can only end a word, as in export* (column {column})", column)
    raw = tokenize(stem)
    if not raw or len(raw[-1]) < 2:
        raise QueryError(
            f"a wildcard needs at least 2 letters before the *, as in ex* (column {lexeme.column})",
            lexeme.column,
        )
    head = tuple(raw[:-1])
    return Prefix(tuple(stem_token(token) for token in head), head, raw[-1])


def _build_phrase(lexeme: _Lexeme) -> Node:
    node = _build_leaf(tokenize(lexeme.text))
    if node is None:
        raise QueryError(
            f"nothing to search for in the quotes at column {lexeme.column}", lexeme.column
        )
    return node


def _build_leaf(raw: list[str]) -> Leaf | None:
    if not raw:
        return None  # punctuation only: nothing to require
    if len(raw) == 1:
        token = raw[0]
        if len(token) == 1 and is_cjk(token):
            return Chars(token)
        return Word(stem_token(token))
    return Phrase(tuple(stem_token(token) for token in raw))


_DURATION_RE = re.compile(r"(\d{1,4})([hdw])", re.IGNORECASE)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _build_field(lexeme: _Lexeme) -> Node:
    name, value, column = lexeme.name, lexeme.text.strip(), lexeme.column
    if name == "feed":
        if not value:
            raise QueryError(f"feed: needs a feed id, as in feed:fr-bis (column {column})", column)
        return FeedIs(value)
    if name == "tag":
        tag = fold_text(value).strip()
        if not tag:
            raise QueryError(f"tag: needs a tag name, as in tag:us (column {column})", column)
        return TagIs(tag)
    duration = _DURATION_RE.fullmatch(value)
    if duration is not None:
        return TimeBound(name, int(duration.group(1)), duration.group(2).lower())
    if _DATE_RE.fullmatch(value):
        try:
            return TimeBound(name, day=date.fromisoformat(value))
        except ValueError:
            raise QueryError(
                f"{name}: {value} is not a real date (column {column})", column
            ) from None
    raise QueryError(
        f"{name}: needs a duration such as 7d or a date such as 2026-11-01 (column {column})",
        column,
    )


# ---------------------------------------------------------------------------
# Compiling: each node becomes a closure over a MatchDoc and `now`.

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
        return frozenset((_wildcard_key(node.prefix),))
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


# ---------------------------------------------------------------------------
# The public face.


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

    @property
    def trigger_keys(self) -> frozenset[str] | None:
        """Keys (`MatchDoc.keys`) a matching document has at least one of; None if unknown."""
        return self._trigger

    def matches(self, doc: MatchDoc, *, now: datetime) -> bool:
        """Return whether the prepared document satisfies the query, relative times from `now`."""
        if self._trigger is not None and self._trigger.isdisjoint(doc.keys):
            return False
        return self._match(doc, _aware(now))

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


def parse_query(text: str) -> Query:
    """Parse `text` in the query language; raise `QueryError` saying what and where."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is too long: {len(text):,} characters, the limit is {MAX_QUERY_CHARS:,}",
            MAX_QUERY_CHARS + 1,
        )
    if not text.strip():
        raise QueryError("empty query")
    root = _Parser(_lex(text)).parse_or()
    if root is None:
        raise QueryError("no words to search for in the query")
    return Query(text, root)


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
        now = _aware(now)
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


# ---------------------------------------------------------------------------
# Plain-language questions.

# Filler of questions put to a news bot. Compared with folded, unstemmed words.
_FILLER_WORDS = """
    a about all an and any anything are articles article at be been being by can could
    did do does done else every everything find for from get give going got happened
    happening has have hear heard hey hi how i in info information into is it item items
    its just know latest lately let me more most my new news newest not of on or our out
    please re recent recently regarding related show some something stories story stuff
    tell that the there these this those to up update updates us was we were what whats
    when where which who why will with would you your
"""
_FILLER = frozenset(_FILLER_WORDS.split())
# Time phrases of a question, as `since:` filters. Keys are folded word tuples.
_TIME_PHRASES = {
    ("today",): "since:24h",
    ("yesterday",): "since:48h",
    ("this", "week"): "since:7d",
    ("past", "week"): "since:7d",
    ("last", "week"): "since:7d",
    ("this", "month"): "since:30d",
    ("past", "month"): "since:30d",
    ("last", "month"): "since:30d",
    ("this", "year"): "since:365d",
    ("past", "year"): "since:365d",
    ("last", "year"): "since:365d",
}
_RECENT_SPAN_RE = re.compile(r"(?:past|last)\s+(\d{1,3})\s+(hour|day|week)s?\b")
_SYNTAX_RE = re.compile(
    r"""["“”„＂()（）*]|(?:^|\s)-\S|\b(?:AND|OR|NOT)\b|(?:^|\s)(?:feed|tag|since|before):""",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION_RE = re.compile(r"^[\W_]+|[\W_]+$")


def _uses_query_syntax(text: str) -> bool:
    for found in _SYNTAX_RE.finditer(text):
        # Operators count only in upper case; the regex is case-insensitive for fields.
        if found.group().strip().lower() not in ("and", "or", "not") or found.group() in _OPERATORS:
            return True
    return False


def question_to_query(text: str) -> str:
    """Turn a line of plain words into query text: filler dropped, subject kept.

    "what's new on IPEF" becomes "IPEF"; "anything about rare earth exports
    this week?" becomes "rare earth exports since:7d". A line that already uses
    query syntax (quotes, parentheses, AND/OR/NOT, -word, word*, fields) is
    returned unchanged. A word in capitals is kept even if it is filler ("US"),
    unless the whole line is in capitals. The subject words are ANDed; ranking
    is left to search.
    """
    if _uses_query_syntax(text):
        return text
    shouting = text.upper() == text
    words: list[str] = []
    for chunk in text.split():
        word = _EDGE_PUNCTUATION_RE.sub("", chunk)
        if word:
            words.append(word)
    folded = [" ".join(tokenize(word)) for word in words]
    time_filter = ""
    kept: list[str] = []
    i = 0
    while i < len(words):
        pair = tuple(folded[i : i + 2])
        span = _RECENT_SPAN_RE.fullmatch(" ".join(folded[i : i + 3]))
        if span is not None:
            time_filter = f"since:{span.group(1)}{span.group(2)[0]}"
            i += 3
        elif pair in _TIME_PHRASES:
            time_filter = _TIME_PHRASES[pair]
            i += 2
        elif pair[:1] in _TIME_PHRASES:
            time_filter = _TIME_PHRASES[pair[:1]]
            i += 1
        else:
            tokens = folded[i].split()
            acronym = words[i].isupper() and len(words[i]) > 1 and not shouting
            if acronym or not all(token in _FILLER for token in tokens):
                kept.append(words[i])
            i += 1
    if time_filter:
        kept.append(time_filter)
    return " ".join(kept)


def parse_question(text: str) -> Query:
    """Parse a line from a user: query syntax as a query, plain words as a question.

    Raises `QueryError` as `parse_query` does, or when the line is only filler.
    """
    converted = question_to_query(text)
    if not converted.strip() and text.strip():
        raise QueryError(
            "the question names no subject: say what to look for, as in what's new on IPEF"
        )
    return parse_query(converted)
