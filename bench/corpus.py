"""Recorded real feeds for the benchmarks: the raw files, and realistic items made from them.

Raw files come from /work/shared/feeds-corpus/policy when it exists (34 real
news and government feeds, 3 MB), else from the project's own recorded feeds
(tests/fixtures/feeds and bot/demo_feeds; ill-formed and hostile fixtures
left out), so a clone of the project can run the benchmarks too.

`make_items` multiplies the real items into as many as a scenario needs: each
copy keeps a real title (one word swapped for another real title word) and a
real summary lengthened with sentences borrowed from other real items, so the
vocabulary and the size are those of real feeds (about 1.3 KB per item as the
store writes it), and gets an id, link and date of its own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import pickle
import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.ingest.parse import parse_feed
from bot.models import Item, replace

__all__ = [
    "CORPUS_DIR",
    "FALLBACK_DIRS",
    "FeedFile",
    "corpus_label",
    "feed_ids",
    "make_items",
    "real_items",
    "source_files",
]

CORPUS_DIR = Path("/work/shared/feeds-corpus/policy")
ROOT = Path(__file__).resolve().parents[1]
FALLBACK_DIRS = (ROOT / "tests" / "fixtures" / "feeds", ROOT / "bot" / "demo_feeds")

_FEED_SUFFIXES = (".xml", ".rss", ".rdf", ".atom")
# Fixtures made to break parsers, or not feeds at all: not what a publisher serves.
_SKIP_PREFIXES = ("malformed-", "security-", "not-a-feed")
_TITLE_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
# Summaries shorter than this get borrowed sentences, up to the bot's 1,000-character cap.
_MIN_SUMMARY = 360
_MAX_SUMMARY = 1000


@dataclass(frozen=True, slots=True)
class FeedFile:
    """One recorded feed document: its file name and raw bytes."""

    name: str
    body: bytes

    @property
    def content_type(self) -> str:
        if self.name.endswith(".atom") or b"<feed" in self.body[:2048]:
            return "application/atom+xml"
        if self.name.endswith(".rdf"):
            return "application/rdf+xml"
        return "application/rss+xml"


def _candidate_dirs() -> list[Path]:
    if CORPUS_DIR.is_dir():
        return [CORPUS_DIR]
    return [d for d in FALLBACK_DIRS if d.is_dir()]


def corpus_label() -> str:
    """Where the recorded feeds come from, for the report."""
    return ", ".join(str(d) for d in _candidate_dirs()) or "(no recorded feeds found)"


@functools.cache
def _all_source_files() -> tuple[FeedFile, ...]:
    files: list[FeedFile] = []
    for folder in _candidate_dirs():
        for path in sorted(folder.iterdir()):
            if not path.is_file() or not path.name.endswith(_FEED_SUFFIXES):
                continue
            if path.name.startswith(_SKIP_PREFIXES):
                continue
            body = path.read_bytes()
            # UTF-16 documents: the byte-level rewriting of the feed farm cannot see into them.
            if b"\x00" in body[:200]:
                continue
            files.append(FeedFile(path.name, body))
    if not files:
        raise SystemExit(
            f"no recorded feeds found in {CORPUS_DIR} or {', '.join(map(str, FALLBACK_DIRS))}"
        )
    return tuple(files)


def source_files(*, smallest: int | None = None) -> list[FeedFile]:
    """The recorded feed files, by name; `smallest=n`: only the n smallest (quick runs)."""
    files = list(_all_source_files())
    if smallest is not None:
        files = sorted(files, key=lambda f: len(f.body))[:smallest]
        files.sort(key=lambda f: f.name)
    return files


@functools.cache
def real_items() -> tuple[Item, ...]:
    """Every item of the recorded feeds, parsed by the bot's own parser.

    Parsing them all takes seconds, and every benchmark process needs them:
    the result is cached in the temp directory, keyed by the files' contents
    and the source of the parser and of `Item`, so a change to any parses again.
    """
    files = _all_source_files()
    key = hashlib.sha256()
    for feed in files:
        key.update(feed.name.encode() + b"\0" + hashlib.sha256(feed.body).digest())
    # The parser's source, and the Item it makes (a pickle of an older Item
    # layout would load, then fail on a missing field).
    ingest = Path(inspect.getfile(parse_feed)).parent
    for source in [*sorted(ingest.glob("*.py")), Path(inspect.getfile(Item))]:
        key.update(source.read_bytes())
    cache = Path(tempfile.gettempdir()) / f"briefbot-bench-items-{key.hexdigest()[:16]}.pickle"
    try:
        cached = pickle.loads(cache.read_bytes())
        if isinstance(cached, tuple) and cached and isinstance(cached[0], Item):
            return cached
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        pass
    fetched = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    items: list[Item] = []
    for feed in files:
        feed_id = re.sub(r"[^a-z0-9-]+", "-", feed.name.split("_")[0].split(".")[0].lower())
        result = parse_feed(feed_id, feed.body, fetched_at=fetched, time_limit=None)
        items.extend(result.items)
    if not items:
        raise SystemExit("the recorded feeds hold no items")
    parsed = tuple(items)
    with contextlib.suppress(OSError):
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(parsed))
        tmp.replace(cache)
    return parsed


def feed_ids(count: int) -> list[str]:
    """Feed ids `feed-0000`, `feed-0001`, ...: the feeds generated items are spread over."""
    return [f"feed-{n:04d}" for n in range(count)]


def make_items(
    count: int,
    *,
    seed: int,
    now: datetime,
    feeds: Sequence[str],
    spread: timedelta = timedelta(days=180),
    tag: str = "",
    first_seq: int | None = None,
) -> list[Item]:
    """`count` items made from the real ones (see the module docstring).

    Ids and links carry `tag` and the item's number, so calls with different
    tags or seeds never repeat an item. `published` falls within `spread`
    before `now`. With `first_seq`, items are numbered from it (as the store
    would number them); without, they have seq 0, ready for `tx.items.add`.
    """
    rng = random.Random(seed)
    base = real_items()
    title_words = sorted({w for item in base for w in _TITLE_WORD_RE.findall(item.title)})
    sentences = [s for item in base for s in _SENTENCE_END_RE.split(item.summary) if s]
    span = max(1, int(spread.total_seconds()))
    label = tag or f"s{seed}"
    made: list[Item] = []
    for n in range(count):
        source = base[rng.randrange(len(base))]
        words = source.title.split()
        if words and title_words:
            words[rng.randrange(len(words))] = rng.choice(title_words)
        summary = source.summary
        while sentences and len(summary) < _MIN_SUMMARY:
            summary = f"{summary} {rng.choice(sentences)}".strip()[:_MAX_SUMMARY]
        published = now - timedelta(seconds=rng.randrange(span))
        link = f"{source.link or 'https://news.example.org/item'}"
        link += ("&" if "?" in link else "?") + f"bench={label}-{n}"
        made.append(
            replace(
                source,
                id=f"guid:{label}-{n}-{source.id}"[:200],
                feed_id=feeds[rng.randrange(len(feeds))],
                title=" ".join(words),
                summary=summary,
                link=link,
                guid=f"{label}-{n}",
                link_title_key=f"{link}\x1f{n}",
                former_keys=(),
                published=published,
                first_seen=None,
                backlog=False,
                seq=0 if first_seq is None else first_seq + n,
                extras={},
            )
        )
    return made
