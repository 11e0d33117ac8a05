"""A briefbot PostgreSQL database of N synthetic items, loaded fast: COPY first, indexes after.

The schema is briefbot's own (`PgStore.open` runs its migrations). Then the
secondary indexes and primary keys of `items` and `item_keys` are dropped
(their definitions read back from the catalog, so a later migration's indexes
are rebuilt too), the items are written with COPY by two worker processes in
chunks of 10,000 (each chunk its own transaction), and the indexes are built
again, two at a time (the two GIN indexes, words and trigrams, first), then
ANALYZE. Each row is exactly what `tx.items.add` would store
(`bot.store.postgres.items.item_row`: the JSON document, the folded text, the
tsvector of briefbot's analyzer, the key digests), computed in Python: that
is most of the load's CPU.

The items come from bench/corpus.py (real titles and summaries, varied), over
5,000 feeds: the first 100 are one workspace's (about 20,000 items at a
million), ten of them named as the search benchmark's feeds so its `feed:`
and `tag:` queries find something. Seqs follow first-seen time over 180 days,
as a poller would have numbered them; 2% of items are linked to an earlier
story (`duplicate_of`), as in bench/search_bench.py.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg

from bench.corpus import make_items
from bench.search_bench import FEED_TAGS
from bot.models import replace
from bot.store.postgres.items import item_row
from bot.store.postgres.store import PgStore
from bot.store.records.codec import doc_to_item, item_to_doc, key_digest

__all__ = ["BUILD_FORMAT", "FEEDS", "WORKSPACE_FEEDS", "bench_feeds", "build", "built_size"]

FEEDS = 5_000
WORKSPACE_FEEDS = 100
CHUNK = 10_000
SPAN = timedelta(days=180)
BUILD_FORMAT = 1
_ITEM_COLUMNS = "seq, feed_id, first_seen, item_when, story, tags, doc, folded, tsv"
_TABLES = ["items", "item_keys"]


def bench_feeds() -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The feed ids (the workspace's first) and each feed's tags."""
    named = list(FEED_TAGS)
    feeds = named + [f"feed-{n:04d}" for n in range(FEEDS - len(named))]
    tag_sets = list(FEED_TAGS.values())
    tags = {feed: FEED_TAGS.get(feed, tag_sets[n % len(tag_sets)]) for n, feed in enumerate(feeds)}
    return feeds, tags


def built_size(url: str) -> int | None:
    """The size a finished build left in this database (None: none, or another format)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            found = conn.execute("SELECT to_regclass('bench_built') IS NOT NULL").fetchone()
            if not found or not found[0]:
                return None
            row = conn.execute("SELECT size, format FROM bench_built").fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row and row[1] == BUILD_FORMAT else None


def build(url: str, size: int, *, now: datetime, processes: int = 2) -> dict[str, Any]:
    """Load `size` items into the (empty or half-built) database at `url`; timings."""
    PgStore.open(url).close()  # the schema, by briefbot's migrations
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_built")
        conn.execute("TRUNCATE items, item_keys")
        indexes = _drop_indexes(conn)
    started = time.perf_counter()
    chunks = [
        (url, n, n * CHUNK + 1, min(CHUNK, size - n * CHUNK), size, now)
        for n in range(0, -(-size // CHUNK))
    ]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        loaded = sum(pool.imap_unordered(_load_chunk, chunks))
    copy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _build_indexes(url, indexes)
    index_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE seq_counter SET last = %s WHERE id = 1", (size,))
        conn.execute("SELECT setval('item_seq', %s)", (size,))
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE items")
        conn.execute("VACUUM ANALYZE item_keys")
        analyze_seconds = time.perf_counter() - started
        conn.execute("CREATE TABLE bench_built (size bigint, format int, built timestamptz)")
        conn.execute("INSERT INTO bench_built VALUES (%s, %s, %s)", (size, BUILD_FORMAT, now))
    return {
        "items": loaded,
        "copy_seconds": copy_seconds,
        "index_seconds": index_seconds,
        "analyze_seconds": analyze_seconds,
        "indexes": [name for name, _ in indexes],
    }


def _drop_indexes(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """Drop every index of items and item_keys; (name, statement that makes it again)."""
    rows = conn.execute(
        "SELECT i.relname, c.conname, t.relname,"
        " coalesce(pg_get_constraintdef(c.oid), ''), pg_get_indexdef(i.oid)"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_class t ON t.oid = x.indrelid"
        " LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype = 'p'"
        " WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace",
        (_TABLES,),
    ).fetchall()
    made = []
    for index, constraint, table, condef, indexdef in rows:
        if constraint:
            conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"'.encode())
            made.append((index, f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {condef}'))
        else:
            conn.execute(f'DROP INDEX "{index}"'.encode())
            made.append((index, indexdef))
    # The GIN indexes take longest: start them first, one per connection.
    made.sort(key=lambda entry: " gin " not in entry[1].lower())
    return made


def _build_indexes(url: str, indexes: list[tuple[str, str]], connections: int = 2) -> None:
    pending = list(indexes)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            while True:
                with lock:
                    if not pending or errors:
                        return
                    _, statement = pending.pop(0)
                try:
                    conn.execute(statement.encode())
                except BaseException as exc:
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _load_chunk(task: tuple[str, int, int, int, int, datetime]) -> int:
    """COPY one chunk of items (seqs `first`..) in a transaction of its own (a worker)."""
    url, number, first, count, size, now = task
    feeds, _ = bench_feeds()
    rng = random.Random(number)
    start = now - SPAN
    items = make_items(count, seed=number, now=now, feeds=feeds, tag=f"c{number}", first_seq=first)
    rows: list[tuple[Any, ...]] = []
    keys: list[tuple[bytes, int]] = []
    for item in items:
        seen = start + SPAN * (item.seq / size)
        extras = {}
        if item.seq > 100 and rng.random() < 0.02:
            extras["duplicate_of"] = item.seq - rng.randrange(1, 100)
        kept = replace(
            item,
            published=seen - timedelta(seconds=rng.randrange(6 * 3600)),
            first_seen=seen,
            extras=extras,
        )
        doc = item_to_doc(kept)
        clean = doc_to_item(doc)
        rows.append(item_row(clean, doc))
        keys.extend((key_digest(key), clean.seq) for key in doc["dedup_keys"])
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY items ({_ITEM_COLUMNS}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)
        with cur.copy(b"COPY item_keys (digest, seq) FROM STDIN") as copy:
            for key in keys:
                copy.write_row(key)
    return len(rows)
