"""A `StoryIndex` as plain JSON-able data and back, so a process can start from the last one's.

`dump_index` writes down everything the index knows, in the order it knows
it: posting lists keep their order (the newest 512 entries of a list are the
ones read), heaps stay heaps, and the remembered answers (`add` of an item
seen before), generic titles and ambiguous links come along, so a loaded
index answers every `add` exactly as the one dumped would. `load_index` reads
it back and raises ValueError for anything else (another FORMAT, other
options, a damaged document): the caller then rebuilds from the store.

Plain data rather than pickle: the file sits in the data directory, and
reading it must never run code from it.
"""

from __future__ import annotations

import itertools
import sys
from datetime import datetime
from typing import Any

from bot.find.stories.index import _NO_TOKENS, StoryIndex, StoryMatch, _Entry, _LinkRef

__all__ = ["FORMAT", "dump_index", "load_index"]

# Bump when what the index holds changes meaning.
FORMAT = 1


def _options(index: StoryIndex) -> list[float]:
    return [
        index.window.total_seconds(),
        index.retention.total_seconds(),
        index.threshold,
        index.min_content_words,
    ]


def _match(match: StoryMatch | None) -> list[Any] | None:
    if match is None:
        return None
    return [
        match.primary_seq,
        match.primary_feed_id,
        match.reason,
        match.primary_id,
        match.similarity,
    ]


def _entry(e: _Entry) -> list[Any]:
    when = e.when.isoformat()
    tokens = sorted(e.tokens)
    return [
        e.seq,
        e.feed_id,
        e.item_id,
        when,
        e.document,
        tokens,
        e.weight,
        e.links,
        e.documents,
        e.in_titles,
    ]


def dump_index(index: StoryIndex) -> dict[str, Any]:
    """Everything `index` holds, as JSON-able data."""
    number = {id(entry): n for n, (_, _, entry) in enumerate(index._entry_heap)}
    entries = [_entry(e) for _, _, e in index._entry_heap]
    return {
        "format": FORMAT,
        "options": _options(index),
        "now": index._now.isoformat() if index._now else None,
        "adds": index._adds,
        "order": next(index._order),
        "entries": entries,
        "entry_heap": [order for _, order, _ in index._entry_heap],
        "title_heap": [[order, number[id(e)]] for _, order, e in index._title_heap],
        "postings": {t: [number[id(e)] for e in p] for t, p in index._postings.items()},
        "by_link": {
            link: [number[id(ref.entry)], ref.feed_id, list(ref.tokens)]
            for link, ref in index._by_link.items()
        },
        "by_document": {d: number[id(e)] for d, e in index._by_document.items()},
        "by_seq": [[seq, number[id(e)]] for seq, e in index._by_seq.items()],
        "seen": [[k[0], k[1], _match(m)] for k, m in index._seen.items()],
        "seen_heap": [[w.isoformat(), order, list(key)] for w, order, key in index._seen_heap],
        "generic_titles": [[sorted(t), w.isoformat()] for t, w in index._generic_titles.items()],
        "ambiguous_links": {link: w.isoformat() for link, w in index._ambiguous_links.items()},
    }


def load_index(data: Any) -> StoryIndex:
    """The index `dump_index` wrote down; ValueError if `data` is not one this code wrote."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a story index of this version")
    index = StoryIndex()
    if data.get("options") != _options(index):
        raise ValueError("a story index made with other options")
    try:
        _fill(index, data)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"a damaged story index: {exc!r}") from None
    return index


def _tokens(words: list[str]) -> frozenset[str]:
    return frozenset(sys.intern(w) for w in words) if words else _NO_TOKENS


def _load_entry(row: list[Any]) -> _Entry:
    seq, feed_id, item_id, at, document, tokens, weight, links, documents, in_titles = row
    return _Entry(
        seq=int(seq),
        feed_id=str(feed_id),
        item_id=str(item_id),
        when=datetime.fromisoformat(at),
        document=document,
        tokens=_tokens(tokens),
        weight=float(weight),
        links=list(links),
        documents=list(documents),
        in_titles=bool(in_titles),
    )


def _fill(index: StoryIndex, data: dict[str, Any]) -> None:
    when = datetime.fromisoformat
    entries = [_load_entry(row) for row in data["entries"]]
    index._now = when(data["now"]) if data["now"] else None
    index._adds = int(data["adds"])
    index._order = itertools.count(int(data["order"]))
    index._entry_heap = [
        (e.when, int(o), e) for e, o in zip(entries, data["entry_heap"], strict=True)
    ]
    index._title_heap = [(entries[n].when, int(o), entries[n]) for o, n in data["title_heap"]]
    index._postings = {
        sys.intern(token): {entries[n]: None for n in numbers}
        for token, numbers in data["postings"].items()
    }
    index._by_link = {
        link: _LinkRef(entries[n], feed_id, tuple(sys.intern(t) for t in tokens))
        for link, (n, feed_id, tokens) in data["by_link"].items()
    }
    index._by_document = {d: entries[n] for d, n in data["by_document"].items()}
    index._by_seq = {int(seq): entries[n] for seq, n in data["by_seq"]}
    index._seen = {
        (feed_id, item_id): StoryMatch(*match) if match is not None else None
        for feed_id, item_id, match in data["seen"]
    }
    index._seen_heap = [(when(w), int(o), (k[0], k[1])) for w, o, k in data["seen_heap"]]
    index._generic_titles = {_tokens(t): when(w) for t, w in data["generic_titles"]}
    index._ambiguous_links = {link: when(w) for link, w in data["ambiguous_links"].items()}
