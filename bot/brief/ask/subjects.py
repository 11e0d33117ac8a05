"""What a question is about: configured topics it names, or else a query of its words.

`read_subject(text, topics)` takes the words left once the period is read
("Entity List additions by country") and returns a `Subject`:

- the words name topics when, once filler and wording hints ("additions",
  "by country", "publish") are dropped, each part (split on "and", "or",
  commas) is one of a topic's names: its id ("entity-list", "entity list"),
  the head of its description ("Economic security", "Rare earths",
  "critical minerals") or the first phrase of its query ("export control");
  plurals and case do not matter;
- otherwise the words become a query as `/brief search` would read them
  (`question_to_query`: filler dropped, acronyms kept, query syntax kept);
- no words left: everything stored in the period.

A part that is not a topic name keeps the whole line a query: "research and
development" is one subject, never two topics.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.config.model import TopicConfig
from bot.find.query.matcher import Query
from bot.find.query.nodes import And, Or, Phrase
from bot.find.query.parser import parse_query
from bot.find.query.question import question_to_query, uses_query_syntax
from bot.find.query.syntax import QueryError
from bot.find.textindex import analyze

__all__ = ["Subject", "read_subject", "topic_names"]

# Words that say how to answer, not what about ("Entity List additions by country").
_HINTS = re.compile(
    r"\bby\s+(?:country|countries|destinations?|feeds?|sources?|topics?|nation|nations)\b"
    r"|\b(?:additions?|added|adds|removals?|removed|revisions?|revised|publish|published"
    r"|publishes|publishing|post|posted|came|come|comes|arrived|appeared|released|issued|rules?|documents?|notices?|updates?|say|said|says|totals?|counts?|summary|summari[sz]e"
    r"|briefing|brief|breakdown|overview|numbers?|news|happening|happened|going\s+on)\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*(?:,|&|\band\b|\bor\b|\bplus\b)\s*", re.IGNORECASE)
_DESCRIPTION_HEAD = re.compile(r"[,:;(]")


@dataclass(frozen=True)
class Subject:
    """The topics a question names, or the query its words make; neither: everything.

    `label` says it for the answer's first line: "the topic entity-list",
    "“Rapidus”", "" for everything.
    """

    topics: tuple[TopicConfig, ...] = ()
    query: Query | None = None

    @property
    def label(self) -> str:
        if self.topics:
            ids = ", ".join(topic.id for topic in self.topics)
            return f"the topic{'s' if len(self.topics) > 1 else ''} {ids}"
        if self.query is not None:
            return f"“{self.query.text}”"
        return ""

    def queries(self, topic_queries: Mapping[str, Query]) -> list[Query]:
        """The queries an item on this subject matches one of (none: every item is on it)."""
        queries = [topic_queries[t.id] for t in self.topics if t.id in topic_queries]
        return queries + ([self.query] if self.query is not None else [])


def read_subject(text: str, topics: Sequence[TopicConfig]) -> Subject:
    """The subject of `text` (a question without its period); raises nothing."""
    if uses_query_syntax(text):
        return _as_query(text)
    plain = _HINTS.sub(" ", text)
    names = topic_names(topics)
    parts = [p for p in _SPLIT.split(plain) if p.strip()]
    found: list[TopicConfig] = []
    for part in parts:
        tokens = tuple(analyze(question_to_query(part) or part))
        topic = names.get(tokens)
        if topic is None:
            found = []
            break
        if topic not in found:
            found.append(topic)
    if found:
        return Subject(topics=tuple(found))
    return _as_query(question_to_query(plain))


def _as_query(text: str) -> Subject:
    if not text.strip():
        return Subject()
    try:
        return Subject(query=parse_query(text))
    except QueryError:
        return Subject()


def topic_names(topics: Iterable[TopicConfig]) -> dict[tuple[str, ...], TopicConfig]:
    """Each topic's names as analysed tokens (see the module doc); the first topic wins a name.

    Worked out once per set of topics (each question asks).
    """
    return dict(_topic_names(tuple(topics)))


@functools.lru_cache(maxsize=8)
def _topic_names(topics: tuple[TopicConfig, ...]) -> dict[tuple[str, ...], TopicConfig]:
    names: dict[tuple[str, ...], TopicConfig] = {}
    for topic in topics:
        candidates = [topic.id.replace("-", " ").replace("_", " ")]
        head = _DESCRIPTION_HEAD.split(topic.description, maxsplit=1)[0].strip()
        if head:
            candidates.append(head)
            candidates += [p for p in _SPLIT.split(head) if len(p.split()) >= 2]
        candidates += _first_phrase(topic.query)
        for candidate in candidates:
            tokens = tuple(analyze(candidate))
            if tokens:
                names.setdefault(tokens, topic)
    return names


def _first_phrase(query_text: str) -> list[str]:
    """The first term of a topic's query when it is a phrase ("entity list")."""
    try:
        query = parse_query(query_text)
    except QueryError:
        return []
    root = query.root
    while isinstance(root, And | Or):
        root = root.children[0]
    return [" ".join(root.tokens)] if isinstance(root, Phrase) else []
