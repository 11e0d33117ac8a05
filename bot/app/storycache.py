"""The story index kept between processes, so that no poll rebuilds it from the whole store.

`StoryIndex.build` reads every stored item back (0.25 s at 100 feeds, 0.8 s
at 300, growing with the store) for the few it keeps. `briefbot poll` from
cron, or a restarted `briefbot run`, would pay that at every start. Instead
the writing process saves the index after each poll that taught it items
(`stories.cache` in the data directory, JSON from
`bot.find.stories.persist`, written by atomic replace, 0600) and the next one
loads it and replays only the items stored after it (`StoryIndex.replay`):
those of a process that crashed between its commit and its save, or of an
older briefbot.

Not obvious:

- A file is used only if it is what this code would write (its FORMAT, the
  index's options) and comes from this store: the item at the file's seq
  must be the one it names (a data directory restored from a backup, or made
  again, holds other items there). Anything else, an unreadable or truncated
  file included, means a rebuild, as before: the file is a cache, never state.
- Saved only after the poll's commit, naming the newest seq the index has
  learnt: a failed commit drops the index (runtime.py) and leaves the file
  as it was, whose items all are stored.
- An index loaded from the file keeps what it knew of older stories as the
  running service's index does (it forgets by the newest date it has seen);
  a rebuild starts from the items of the last 35 days by the clock.
- Only the process holding the data directory's lock reads or writes it.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from bot.find.stories.extras import link_extras
from bot.find.stories.index import DEFAULT_RETENTION as STORY_HORIZON
from bot.find.stories.index import StoryIndex
from bot.find.stories.persist import dump_index, load_index
from bot.models import Item
from bot.store.ports import ItemReader, Transaction

__all__ = ["CACHE_NAME", "LoadedStories", "StoryKeeper", "load_stories", "save_stories"]

log = logging.getLogger(__name__)

CACHE_NAME = "stories.cache"


@dataclass
class LoadedStories:
    """An index and the newest seq it has learnt (from the file, or the store if rebuilt)."""

    index: StoryIndex
    seq: int
    from_cache: bool


def load_stories(
    data_dir: str | Path, items: ItemReader, clock: Callable[[], datetime]
) -> LoadedStories:
    """The saved index caught up with the store, or one built from the store's recent items."""
    since = clock() - STORY_HORIZON
    cached = _read(Path(data_dir) / CACHE_NAME, items)
    if cached is not None:
        index, seq = cached
        newer = [item for item in items.after(seq) if item.when >= since]
        index.replay(newer)
        return LoadedStories(index, max([seq, *(item.seq for item in newer)]), True)
    last = items.last_seq
    recent = (item for item in items.after() if item.when >= since)
    return LoadedStories(StoryIndex.build(recent), last, False)


def _read(path: Path, items: ItemReader) -> tuple[StoryIndex, int] | None:
    try:
        saved = orjson.loads(path.read_bytes())
        index = load_index(saved.get("index") if isinstance(saved, dict) else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # truncated, damaged, or of another version
        log.info("story cache %s not used (%s); rebuilding it from the store", path, exc)
        return None
    seq, key = saved.get("seq"), saved.get("key")
    if not isinstance(seq, int) or seq > items.last_seq or _key(items, seq) != key:
        log.info("story cache %s is not of this store; rebuilding it", path)
        return None
    return index, seq


def _key(items: ItemReader, seq: int) -> list[str] | None:
    """Which item has `seq` (feed id, item id): what tells two stores apart."""
    found = items.by_seq([seq]) if seq > 0 else []
    return [found[0].feed_id, found[0].id] if found else None


def save_stories(data_dir: str | Path, index: StoryIndex, seq: int, items: ItemReader) -> None:
    """Write `index`, which has learnt every stored item up to `seq`, for the next process."""
    payload = {"seq": seq, "key": _key(items, seq), "index": dump_index(index)}
    directory = Path(data_dir)
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=directory, prefix=f".{CACHE_NAME}.", delete=False
        ) as handle:
            temporary = Path(handle.name)
            handle.write(orjson.dumps(payload))
        temporary.replace(directory / CACHE_NAME)
    except OSError as exc:
        log.warning("story cache not saved in %s: %s", directory, exc)
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


class StoryKeeper:
    """The runtime's story index: loaded (or built) on first use, saved after each commit.

    With no `data_dir` nothing is read or written: the index is built from
    the store, as a runtime made on a store of its own (tests) needs.

    A poll takes `index()`, links its stored items with `link` inside its
    transaction, then calls `committed` (saves) or, when the commit failed,
    `drop` (forgets the index, which now knows items never stored; the next
    `index()` loads the file again, which holds none of them).
    """

    def __init__(
        self,
        data_dir: str | Path | None,
        items: ItemReader,
        clock: Callable[[], datetime],
        cursor: Callable[[], int] | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._items = items
        # Without a file: the index is built up to the match cursor (several replicas: the
        # items after it are linked by the leader, in seq order, with the matching).
        self._cursor = cursor
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: LoadedStories | None = None

    def index(self) -> StoryIndex:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded.index

    def _load(self) -> LoadedStories:
        if self._data_dir is None:  # no file to keep it in
            since = self._clock() - STORY_HORIZON
            upto = self._cursor() if self._cursor is not None else self._items.last_seq
            recent = (i for i in self._items.after() if i.when >= since and i.seq <= upto)
            return LoadedStories(StoryIndex.build(recent), upto, False)
        return load_stories(self._data_dir, self._items, self._clock)

    def link(self, tx: Transaction, index: StoryIndex, items: Sequence[Item]) -> None:
        """Record each new item that repeats a known story (in the poll's transaction)."""
        for item in items:
            found = index.add(item)
            if found is None:
                continue
            primaries = tx.items.by_seq([found.primary_seq])
            if not primaries:
                continue
            primary_update, duplicate_update = link_extras(primaries[0], item)
            if primary_update:
                tx.items.update_extras(primaries[0].feed_id, primaries[0].id, primary_update)
            tx.items.update_extras(item.feed_id, item.id, duplicate_update)

    def committed(self, index: StoryIndex, stored: Sequence[Item]) -> None:
        """The poll's commit landed with `stored`, which `index` has learnt: save it."""
        with self._lock:
            loaded = self._loaded
            if loaded is None or loaded.index is not index:
                return
            if stored:
                loaded.seq = max(loaded.seq, *(item.seq for item in stored))
            elif loaded.from_cache:
                return  # the file already says all of it
            loaded.from_cache = True
            if self._data_dir is not None:
                save_stories(self._data_dir, index, loaded.seq, self._items)

    def drop(self, index: StoryIndex | None = None, *, failed: bool = True) -> None:
        """Forget the index (`index`, if given, only if it is still the one held).

        `failed`: after a failed commit (a warning); else the replica became the
        leader and reloads what the one before linked (said only if one was held).
        """
        with self._lock:
            held = self._loaded is not None and (index is None or self._loaded.index is index)
            if held:
                self._loaded = None
        if failed:
            log.warning("story index dropped after a failed commit; it is reloaded from the store")
        elif held:
            log.info("story index reloaded from the store: this replica leads now")
